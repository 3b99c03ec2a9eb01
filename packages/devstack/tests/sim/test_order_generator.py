"""The order generator, pure: signals from prices, orders toward targets, expiry, seeded choices."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.devstack.oms import OrderGenerator, PaperBook, seed_options, strategies_of

T0 = datetime(2025, 1, 6, 14, 30, tzinfo=UTC)


def market(book: PaperBook, generator: OrderGenerator, prices: list[float], symbol: str = "AAPL") -> None:
    for price in prices:
        book.on_quote(symbol, price - 0.01, price + 0.01, T0)
        generator.observe(symbol, price)


def test_strategies_of_the_paper_funds_with_their_style(registry: FundsRegistry) -> None:
    configs = {c.strategy_id: (c.fund_id, c.style) for c in strategies_of(registry.funds)}
    assert configs == {
        "mom-us-eq": ("paper-momentum", "momentum"),
        "mom-eu-eq": ("paper-momentum", "momentum"),
        "mr-us-eq": ("paper-meanrev", "mean_reversion"),
    }  # the live fund's strategy is not generated


def test_a_rising_market_makes_momentum_buy_and_mean_reversion_sell(registry: FundsRegistry) -> None:
    book = PaperBook(registry.paper_funds())
    generator = OrderGenerator(strategies_of(registry.funds), seed=1, market_share=1.0)
    assert generator.tick(book, T0).orders == []  # no prices yet
    market(book, generator, [100 * math.exp(0.001 * i) + 0.02 * (-1) ** i for i in range(20)])
    plan = generator.tick(book, T0)
    sides = {o.strategy_id: o.side for o in plan.orders}
    assert sides == {"mom-us-eq": "buy", "mom-eu-eq": "buy", "mr-us-eq": "sell_short"}
    assert all(o.order_type == "market" and o.quantity % 10 == 0 for o in plan.orders)
    signals = {(s.strategy_id, s.symbol): s.value for s in plan.signals}
    assert signals[("mom-us-eq", "AAPL")] > 0.5
    assert signals[("mr-us-eq", "AAPL")] < -0.5

    for order in plan.orders:
        book.submit(order, T0)
    # At target now: the next tick wants nothing more.
    assert generator.tick(book, T0).orders == []


def test_passive_orders_rest_and_expire(registry: FundsRegistry) -> None:
    book = PaperBook(registry.paper_funds())
    generator = OrderGenerator(strategies_of(registry.funds), seed=1, market_share=0.0, order_ttl=5.0)
    market(book, generator, [100 + 0.05 * i for i in range(10)])
    plan = generator.tick(book, T0)
    assert plan.orders
    assert all(o.order_type == "limit" for o in plan.orders)
    for order in plan.orders:
        book.submit(order, T0)
    assert len(book.open_orders()) == len(plan.orders)  # below the bid / above the ask: they rest
    assert generator.tick(book, T0 + timedelta(seconds=4)).expired == []
    later = generator.tick(book, T0 + timedelta(seconds=5))
    assert sorted(later.expired) == sorted(o.order_id for o in book.open_orders())


def test_the_same_seed_makes_the_same_orders(registry: FundsRegistry) -> None:
    def run(seed: int) -> list[tuple[str, str, int, str]]:
        book = PaperBook(registry.paper_funds(), id_prefix="x")
        generator = OrderGenerator(strategies_of(registry.funds), seed=seed, market_share=0.5)
        seen: list[tuple[str, str, int, str]] = []
        for step in range(40):
            market(book, generator, [100 + math.sin(step / 3) + 0.01 * step])
            for order in generator.tick(book, T0).orders:
                seen.append((order.strategy_id, order.side, order.quantity, order.order_type))
                book.submit(order, T0)
        return seen

    assert run(3) == run(3)
    assert len(run(3)) > 10
    assert run(3) != run(4)


def test_seed_options_writes_a_few_options_on_priced_symbols(registry: FundsRegistry) -> None:
    book = PaperBook(registry.paper_funds())
    assert seed_options(book, "paper-momentum", T0) == []
    book.on_quote("AAPL", 190.0, 190.2, T0)
    book.on_quote("TSLA", 240.0, 240.2, T0)
    book.on_quote("SPY", 520.0, 520.2, T0)
    options = seed_options(book, "paper-momentum", T0)
    assert [(o.underlying, o.kind, o.strike, o.quantity) for o in options] == [
        ("AAPL", "call", 190.0, 10.0),
        ("AAPL", "put", 180.0, -5.0),
        ("TSLA", "call", 240.0, 10.0),
        ("TSLA", "put", 230.0, -5.0),
    ]
    assert all(o.expiry == T0 + timedelta(days=30) for o in options)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lookback": 2}, "lookback"),
        ({"market_share": 2.0}, "market_share"),
        ({"order_ttl": 0.0}, "order_ttl"),
    ],
)
def test_bad_generator_settings_name_the_field(
    registry: FundsRegistry, kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        OrderGenerator(strategies_of(registry.funds), **kwargs)  # type: ignore[arg-type]
