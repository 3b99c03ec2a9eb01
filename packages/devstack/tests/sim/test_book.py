"""The paper book, pure: fills at the touch, refusals, cancels, flatten, P&L, NAV and greeks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.schemas import encode
from mts1b_operations.devstack.oms import BookEvent, OptionHolding, OrderRequest, PaperBook, bs_price

T0 = datetime(2025, 1, 6, 14, 30, tzinfo=UTC)


def book_of(registry: FundsRegistry) -> PaperBook:
    return PaperBook(registry.paper_funds(), capital=1_000_000.0, id_prefix="t")


def kinds(events: list[BookEvent]) -> list[str]:
    return [e.event.event for e in events]


def buy(symbol: str = "AAPL", quantity: int = 100, **kw: object) -> OrderRequest:
    fields: dict[str, object] = {"fund_id": "paper-momentum", "strategy_id": "mom-us-eq", "symbol": symbol}
    fields |= {"side": "buy", "quantity": quantity, **kw}
    return OrderRequest(**fields)  # type: ignore[arg-type]


def test_a_market_order_fills_at_the_touch_and_moves_position_cash_and_nav(registry: FundsRegistry) -> None:
    book = book_of(registry)
    book.on_quote("AAPL", 99.9, 100.1, T0)
    events = book.submit(buy(), T0)
    assert kinds(events) == ["new", "routed", "accepted", "filled"]
    assert {e.event.order_id for e in events} == {"t-1"}
    assert {e.event.venue for e in events} == {"PAPER"}  # the route names where the order went
    assert events[-1].event.fill_price == Decimal("100.1000")
    assert events[-1].event.fill_quantity == Decimal(100)
    assert all(encode(e.event) for e in events)
    assert book.position("paper-momentum", "mom-us-eq", "AAPL") == 100
    assert book.cash("paper-momentum") == pytest.approx(1_000_000 - 10_010)
    assert book.nav("paper-momentum", T0).nav == pytest.approx(1_000_000 - 10)  # marked at the mid

    book.on_quote("AAPL", 101.0, 101.2, T0)
    sold = book.submit(buy(side="sell", quantity=40), T0)
    assert sold[-1].event.fill_price == Decimal("101.0000")
    pnl = {p.strategy_id: p for p in book.strategy_pnl(T0)}["mom-us-eq"]
    assert pnl.realized_pnl == pytest.approx(40 * (101.0 - 100.1))
    assert pnl.unrealized_pnl == pytest.approx(60 * (101.1 - 100.1))
    assert pnl.day_pnl == pytest.approx(pnl.realized_pnl + pnl.unrealized_pnl)
    assert {p.strategy_id for p in book.strategy_pnl(T0)} == {"mom-us-eq", "mom-eu-eq", "mr-us-eq"}


def test_a_limit_order_rests_until_the_market_reaches_it(registry: FundsRegistry) -> None:
    book = book_of(registry)
    book.on_quote("MSFT", 400.0, 400.2, T0)
    events = book.submit(buy("MSFT", 10, order_type="limit", limit_price=Decimal("399.50")), T0)
    assert kinds(events) == ["new", "routed", "accepted"]
    assert book.pending("paper-momentum", "mom-us-eq", "MSFT") == 10
    assert book.on_quote("MSFT", 399.6, 399.8, T0) == []
    fills = book.on_quote("MSFT", 399.2, 399.4, T0)
    assert kinds(fills) == ["filled"]
    assert fills[0].event.fill_price == Decimal("399.4000")
    assert book.open_orders() == []


def test_an_order_without_any_price_waits_for_one(registry: FundsRegistry) -> None:
    book = book_of(registry)
    assert kinds(book.submit(buy("NEW"), T0)) == ["new", "routed", "accepted"]
    assert kinds(book.on_trade("NEW", 12.5, T0)) == ["filled"]
    assert book.position("paper-momentum", "mom-us-eq", "NEW") == 100


def test_a_refused_order_is_new_then_canceled_with_the_reason(registry: FundsRegistry) -> None:
    book = book_of(registry)
    book.on_quote("AAPL", 99.9, 100.1, T0)
    events = book.submit(buy(), T0, refused="halted: FUND_HALT h1 on fund.paper-momentum")
    assert kinds(events) == ["new", "canceled"]
    assert events[1].reason == "rejected: halted: FUND_HALT h1 on fund.paper-momentum"
    assert book.position("paper-momentum", "mom-us-eq", "AAPL") == 0
    assert book.cash("paper-momentum") == 1_000_000.0


def test_cancel_open_touches_only_the_selected_funds_and_strategy(registry: FundsRegistry) -> None:
    book = book_of(registry)
    for fund_id, strategy_id in [
        ("paper-momentum", "mom-us-eq"),
        ("paper-momentum", "mom-eu-eq"),
        ("paper-meanrev", "mr-us-eq"),
    ]:
        book.submit(
            buy("A", fund_id=fund_id, strategy_id=strategy_id, order_type="limit", limit_price=Decimal("1")),
            T0,
        )
    one = book.cancel_open(T0, "drill", strategy_id="mom-eu-eq")
    assert [e.event.strategy_id for e in one] == ["mom-eu-eq"]
    fund = book.cancel_open(T0, "drill", fund_ids=["paper-momentum", "live-equities"])
    assert [(e.event.fund_id, e.event.strategy_id, e.reason) for e in fund] == [
        ("paper-momentum", "mom-us-eq", "drill")
    ]
    assert [o.request.fund_id for o in book.open_orders()] == ["paper-meanrev"]
    assert kinds(book.cancel_open(T0, "all")) == ["canceled"]
    assert book.cancel_open(T0, "again") == []


def test_flatten_closes_shares_and_options_of_the_selected_paper_funds(registry: FundsRegistry) -> None:
    book = book_of(registry)
    book.on_quote("AAPL", 99.9, 100.1, T0)
    book.submit(buy(), T0)
    book.submit(buy(strategy_id="mom-eu-eq", side="sell_short", quantity=30), T0)
    book.submit(buy(fund_id="paper-meanrev", strategy_id="mr-us-eq", quantity=5), T0)
    book.submit(buy(order_type="limit", limit_price=Decimal("90.00")), T0)
    option = OptionHolding(
        symbol="AAPL-C100", underlying="AAPL", kind="call", strike=100.0, expiry=T0 + timedelta(days=30),
        quantity=10.0, spot=100.0,
    )  # fmt: skip
    book.add_option("paper-momentum", option, T0)
    nav_before = book.nav_value("paper-momentum", T0)

    result = book.flatten(T0, "flatten drill", fund_ids=["paper-momentum"])
    assert result.orders_cancelled == 1
    assert result.positions_closed == 3  # two share positions and one option
    assert kinds(result.events) == ["canceled"] + ["new", "routed", "accepted", "filled"] * 2
    assert all(e.reason == "flatten drill" for e in result.events)
    assert all(p.quantity == 0 for p in book.positions("paper-momentum", T0))
    assert book.greeks("paper-momentum", T0).options == []
    # Closing at the touch costs the half spread on each share position, nothing else.
    assert book.nav_value("paper-momentum", T0) == pytest.approx(nav_before - 0.1 * 130)
    assert book.position("paper-meanrev", "mr-us-eq", "AAPL") == 5  # another fund: untouched
    assert book.flatten(T0, "again", fund_ids=["paper-momentum"]).positions_closed == 0


def test_greeks_carry_the_pricing_inputs_and_nav_values_options(registry: FundsRegistry) -> None:
    book = book_of(registry)
    book.on_quote("SPY", 499.0, 501.0, T0)
    option = OptionHolding(
        symbol="SPY-P475", underlying="SPY", kind="put", strike=475.0, expiry=T0 + timedelta(days=365),
        quantity=-5.0, spot=500.0, vol=0.2, rate=0.04,
    )  # fmt: skip
    book.add_option("paper-meanrev", option, T0)
    premium = bs_price("put", 500.0, 475.0, 1.0, 0.04, 0.2) * 5 * 100
    assert book.cash("paper-meanrev") == pytest.approx(1_000_000 + premium)  # written: premium received
    assert book.nav_value("paper-meanrev", T0) == pytest.approx(1_000_000)
    greeks = book.greeks("paper-meanrev", T0 + timedelta(days=73))
    encode(greeks)
    [position] = greeks.options
    assert (position.underlying, position.kind, position.quantity, position.spot) == (
        "SPY",
        "put",
        -5.0,
        500.0,
    )
    assert position.t_years == pytest.approx(292 / 365)
    assert position.expiry == (T0 + timedelta(days=365)).date()


def test_black_scholes_obeys_put_call_parity_and_intrinsic_value_at_expiry() -> None:
    s, k, t, r, v = 100.0, 95.0, 0.5, 0.03, 0.3
    call, put = bs_price("call", s, k, t, r, v), bs_price("put", s, k, t, r, v)
    assert call - put == pytest.approx(s - k * math.exp(-r * t))
    assert bs_price("call", 100.0, 95.0, 0.0, r, v) == 5.0
    assert bs_price("put", 100.0, 95.0, 0.0, r, v) == 0.0


def test_day_pnl_starts_again_on_a_new_utc_day(registry: FundsRegistry) -> None:
    book = book_of(registry)
    book.on_quote("AAPL", 100.0, 100.0, T0)
    book.submit(buy(), T0)
    book.on_quote("AAPL", 110.0, 110.0, T0)
    assert book.nav("paper-momentum", T0).day_pnl == pytest.approx(1000.0)
    tomorrow = T0 + timedelta(days=1)
    assert book.nav("paper-momentum", tomorrow).day_pnl == 0.0
    book.on_quote("AAPL", 111.0, 111.0, tomorrow)
    assert book.nav("paper-momentum", tomorrow).day_pnl == pytest.approx(100.0)
    assert {p.strategy_id: p.day_pnl for p in book.strategy_pnl(tomorrow)}["mom-us-eq"] == pytest.approx(
        100.0
    )


def test_the_paper_book_refuses_live_funds_and_foreign_strategies(registry: FundsRegistry) -> None:
    with pytest.raises(ValueError, match="live-equities is a live fund"):
        PaperBook(registry.funds)
    with pytest.raises(ValueError, match="at least one paper fund"):
        PaperBook([Fund(fund_id="x", mode="live")][:0])
    book = book_of(registry)
    with pytest.raises(ValueError, match="strategy_id: 'mr-us-eq' does not belong to fund 'paper-momentum'"):
        book.submit(buy(strategy_id="mr-us-eq"), T0)
    with pytest.raises(KeyError, match="live-equities"):
        book.submit(buy(fund_id="live-equities", strategy_id="stat-arb-1"), T0)
    with pytest.raises(ValueError, match="quantity: must be > 0"):
        buy(quantity=0)
    with pytest.raises(ValueError, match="limit_price: required"):
        buy(order_type="limit")
