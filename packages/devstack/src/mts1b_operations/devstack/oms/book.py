"""The paper book: orders, positions, cash and a few options per paper fund. Pure: no I/O, no clock.

Every change returns the :class:`BookEvent` list it caused (order events, each with the reason
when an order was refused or cancelled); the caller publishes them. Times are passed in.

Fills are whole-order and immediate when marketable: a market order fills at the touch (ask
for a buy, bid for a sell; the last trade when there is no quote), a limit order once the
touch reaches its price. Positions are kept per fund, strategy and symbol with an average
price; realised P&L is booked when a position is reduced. NAV is cash + shares at their mark
+ options at their Black-Scholes value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import (
    Greeks,
    Nav,
    OptionKind,
    OptionPosition,
    OrderEvent,
    OrderSide,
    OrderType,
    Position,
    StrategyPnl,
    TimeInForce,
)
from mts1b_operations.core.subjects import OmsOrderEvent

__all__ = [
    "DEFAULT_CAPITAL",
    "BookEvent",
    "FlattenResult",
    "Holding",
    "Mark",
    "OptionHolding",
    "Order",
    "OrderRequest",
    "PaperBook",
    "bs_price",
]

DEFAULT_CAPITAL: Final = 10_000_000.0
_YEAR: Final = timedelta(days=365)
_PRICE: Final = Decimal("0.0001")
OrderStatus = Literal["accepted", "filled", "canceled"]


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def bs_price(kind: OptionKind, spot: float, strike: float, t_years: float, rate: float, vol: float) -> float:
    """Black-Scholes value of one European option (per unit of underlying); intrinsic at expiry."""
    if t_years <= 0 or vol <= 0:
        return max(0.0, spot - strike) if kind == "call" else max(0.0, strike - spot)
    root = vol * math.sqrt(t_years)
    d1 = (math.log(spot / strike) + (rate + vol * vol / 2) * t_years) / root
    d2 = d1 - root
    discount = strike * math.exp(-rate * t_years)
    if kind == "call":
        return spot * _norm_cdf(d1) - discount * _norm_cdf(d2)
    return discount * _norm_cdf(-d2) - spot * _norm_cdf(-d1)


def _price(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_PRICE)


@dataclass(frozen=True, kw_only=True)
class OrderRequest:
    fund_id: str
    strategy_id: str
    symbol: str
    side: OrderSide
    quantity: int
    order_type: OrderType = "market"
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = "day"

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"quantity: must be > 0, got {self.quantity}")
        if (self.order_type == "limit") != (self.limit_price is not None):
            raise ValueError("limit_price: required for a limit order and only for one")
        if self.limit_price is not None and self.limit_price <= 0:
            raise ValueError(f"limit_price: must be > 0, got {self.limit_price}")


@dataclass
class Order:
    order_id: str
    request: OrderRequest
    created_at: datetime
    status: OrderStatus = "accepted"
    fill_price: Decimal | None = None

    @property
    def signed_quantity(self) -> int:
        return self.request.quantity if self.request.side == "buy" else -self.request.quantity

    @property
    def is_open(self) -> bool:
        return self.status == "accepted"


@dataclass(frozen=True)
class BookEvent:
    event: OrderEvent
    reason: str | None = None


@dataclass
class Holding:
    quantity: int = 0
    avg_price: float = 0.0
    realized: float = 0.0

    def fill(self, signed: int, price: float) -> float:
        """Apply a fill; returns the P&L it realised."""
        realized = 0.0
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            total = self.quantity + signed
            self.avg_price = (self.avg_price * abs(self.quantity) + price * abs(signed)) / abs(total)
            self.quantity = total
        else:
            closed = min(abs(signed), abs(self.quantity))
            direction = 1 if self.quantity > 0 else -1
            realized = (price - self.avg_price) * closed * direction
            self.quantity += signed
            if self.quantity == 0:
                self.avg_price = 0.0
            elif (self.quantity > 0) != (direction > 0):  # went through zero: the rest is a new position
                self.avg_price = price
        self.realized += realized
        return realized


@dataclass
class OptionHolding:
    symbol: str
    underlying: str
    kind: OptionKind
    strike: float
    expiry: datetime
    quantity: float
    vol: float = 0.25
    rate: float = 0.04
    multiplier: float = 100.0
    spot: float = 0.0
    """The last underlying price seen (for valuation when no mark is known)."""

    def t_years(self, ts: datetime) -> float:
        return max(0.0, (self.expiry - ts) / _YEAR)

    def value(self, spot: float, ts: datetime) -> float:
        """Value of the whole holding (signed by quantity)."""
        unit = bs_price(self.kind, spot, self.strike, self.t_years(ts), self.rate, self.vol)
        return unit * self.quantity * self.multiplier


@dataclass
class Mark:
    bid: float | None = None
    ask: float | None = None
    last: float | None = None

    @property
    def mid(self) -> float | None:
        if self.bid and self.ask:
            return (self.bid + self.ask) / 2
        return self.last

    def touch(self, buy: bool) -> float | None:
        """Where a marketable order of this side fills."""
        quote = self.ask if buy else self.bid
        return quote if quote else self.last


@dataclass(frozen=True)
class FlattenResult:
    events: list[BookEvent]
    orders_cancelled: int
    positions_closed: int


@dataclass
class _FundAccount:
    fund: Fund
    cash: float
    day_start_nav: float
    options: list[OptionHolding] = field(default_factory=list)


class PaperBook:
    """Orders and positions of the paper funds; refuses a live fund at construction."""

    def __init__(
        self,
        funds: Iterable[Fund],
        *,
        capital: float = DEFAULT_CAPITAL,
        id_prefix: str = "paper",
        venue: str = "PAPER",
    ) -> None:
        if not capital > 0:
            raise ValueError(f"capital: must be > 0, got {capital!r}")
        self._accounts: dict[str, _FundAccount] = {}
        for fund in funds:
            if not fund.is_paper:
                raise ValueError(
                    f"funds: {fund.fund_id} is a {fund.mode} fund; the paper book holds paper funds only"
                )
            self._accounts[fund.fund_id] = _FundAccount(fund, capital, capital)
        if not self._accounts:
            raise ValueError("funds: the paper book needs at least one paper fund")
        self.capital = capital
        self.venue = venue
        self._prefix = id_prefix
        self._ids = itertools.count(1)
        self._fund_of_strategy = {s: f.fund_id for f in self.funds for s in f.strategies}
        self._open: dict[str, Order] = {}
        """Working orders only: a filled or cancelled order leaves the book (its events said it all)."""
        self._holdings: dict[tuple[str, str, str], Holding] = {}
        self._marks: dict[str, Mark] = {}
        self._day: date | None = None
        self._day_start_pnl: dict[str, float] = {}

    # ------------------------------------------------------------------ lookups

    @property
    def funds(self) -> tuple[Fund, ...]:
        return tuple(account.fund for account in self._accounts.values())

    @property
    def fund_ids(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    @property
    def strategies(self) -> dict[str, str]:
        """strategy id -> fund id."""
        return dict(self._fund_of_strategy)

    def mark(self, symbol: str) -> Mark | None:
        return self._marks.get(symbol)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols with a usable price, in the order first seen."""
        return tuple(s for s, m in self._marks.items() if m.mid is not None)

    def open_orders(self, fund_id: str | None = None, strategy_id: str | None = None) -> list[Order]:
        return [
            o
            for o in self._open.values()
            if (fund_id is None or o.request.fund_id == fund_id)
            and (strategy_id is None or o.request.strategy_id == strategy_id)
        ]

    def position(self, fund_id: str, strategy_id: str, symbol: str) -> int:
        holding = self._holdings.get((fund_id, strategy_id, symbol))
        return 0 if holding is None else holding.quantity

    def pending(self, fund_id: str, strategy_id: str, symbol: str) -> int:
        """Signed quantity of the open orders for this fund, strategy and symbol."""
        return sum(
            o.signed_quantity for o in self.open_orders(fund_id, strategy_id) if o.request.symbol == symbol
        )

    def holdings(self, fund_id: str) -> dict[tuple[str, str], Holding]:
        """(strategy, symbol) -> holding, including closed ones (quantity 0)."""
        return {(s, sym): h for (f, s, sym), h in self._holdings.items() if f == fund_id}

    def options(self, fund_id: str) -> list[OptionHolding]:
        return [o for o in self._account(fund_id).options if o.quantity != 0]

    def cash(self, fund_id: str) -> float:
        return self._account(fund_id).cash

    def _account(self, fund_id: str) -> _FundAccount:
        try:
            return self._accounts[fund_id]
        except KeyError:
            raise KeyError(f"fund_id: {fund_id!r} is not a paper fund of this book") from None

    def _select(self, fund_ids: Collection[str] | None) -> list[str]:
        """The book's funds among ``fund_ids`` (None or empty: all of them); others are not ours."""
        if not fund_ids:
            return list(self._accounts)
        return [f for f in fund_ids if f in self._accounts]

    # ------------------------------------------------------------------ market data

    def on_quote(self, symbol: str, bid: float, ask: float, ts: datetime) -> list[BookEvent]:
        mark = self._marks.setdefault(symbol, Mark())
        mark.bid, mark.ask = (bid or None), (ask or None)
        return self._match(symbol, ts)

    def on_trade(self, symbol: str, price: float, ts: datetime) -> list[BookEvent]:
        self._marks.setdefault(symbol, Mark()).last = price
        return self._match(symbol, ts)

    def _match(self, symbol: str, ts: datetime) -> list[BookEvent]:
        events: list[BookEvent] = []
        for order in list(self._open.values()):
            if order.request.symbol == symbol:
                events += self._try_fill(order, ts)
        return events

    # ------------------------------------------------------------------ orders

    def _event(
        self, order: Order, kind: OmsOrderEvent, ts: datetime, *, fill: Decimal | None = None
    ) -> OrderEvent:
        req = order.request
        return OrderEvent(
            event=kind,
            event_id=f"{order.order_id}:{kind}",
            order_id=order.order_id,
            fund_id=req.fund_id,
            strategy_id=req.strategy_id,
            symbol=req.symbol,
            side=req.side,
            quantity=Decimal(req.quantity),
            order_type=req.order_type,
            limit_price=req.limit_price,
            time_in_force=req.time_in_force,
            venue=self.venue,
            fill_quantity=Decimal(req.quantity) if fill is not None else None,
            fill_price=fill,
            ts=ts,
        )

    def submit(self, request: OrderRequest, ts: datetime, *, refused: str | None = None) -> list[BookEvent]:
        """A new order: ``new``, then ``canceled`` with the reason when ``refused``, else ``routed``
        to the book's venue, ``accepted`` (and ``filled`` when it is marketable now).

        ``routed`` is its own event because regulators ask for the route as its own record (CAT
        MEOR, an OATS Route): the order leaves the firm for ``venue`` before the venue accepts it.
        A refused order never leaves the firm, so it has no route."""
        self._account(request.fund_id)
        if self._fund_of_strategy.get(request.strategy_id) != request.fund_id:
            raise ValueError(
                f"strategy_id: {request.strategy_id!r} does not belong to fund {request.fund_id!r}"
            )
        order = Order(f"{self._prefix}-{next(self._ids)}", request, ts)
        events = [BookEvent(self._event(order, "new", ts))]
        if refused is not None:
            order.status = "canceled"
            events.append(BookEvent(self._event(order, "canceled", ts), f"rejected: {refused}"))
            return events
        self._open[order.order_id] = order
        events += [
            BookEvent(self._event(order, "routed", ts)),
            BookEvent(self._event(order, "accepted", ts)),
        ]
        return events + self._try_fill(order, ts)

    def _try_fill(self, order: Order, ts: datetime) -> list[BookEvent]:
        req = order.request
        mark = self._marks.get(req.symbol)
        buy = req.side == "buy"
        touch = None if mark is None else mark.touch(buy)
        if touch is None:
            return []
        if req.limit_price is not None:
            limit = float(req.limit_price)
            if (buy and touch > limit) or (not buy and touch < limit):
                return []
        return [self._fill(order, touch, ts)]

    def _fill(self, order: Order, price: float, ts: datetime) -> BookEvent:
        req = order.request
        fill_price = _price(price)
        order.status, order.fill_price = "filled", fill_price
        self._open.pop(order.order_id, None)
        signed = order.signed_quantity
        amount = float(fill_price)
        self._holdings.setdefault((req.fund_id, req.strategy_id, req.symbol), Holding()).fill(signed, amount)
        self._accounts[req.fund_id].cash -= signed * amount
        return BookEvent(self._event(order, "filled", ts, fill=fill_price))

    def cancel(self, order_id: str, ts: datetime, reason: str) -> list[BookEvent]:
        order = self._open.pop(order_id, None)
        if order is None:
            return []
        order.status = "canceled"
        return [BookEvent(self._event(order, "canceled", ts), reason)]

    def cancel_open(
        self,
        ts: datetime,
        reason: str,
        *,
        fund_ids: Collection[str] | None = None,
        strategy_id: str | None = None,
    ) -> list[BookEvent]:
        """Cancel every open order of the selected funds (None/empty: all), or of one strategy."""
        events: list[BookEvent] = []
        for fund_id in self._select(fund_ids):
            for order in self.open_orders(fund_id, strategy_id):
                events += self.cancel(order.order_id, ts, reason)
        return events

    def flatten(
        self,
        ts: datetime,
        reason: str,
        *,
        fund_ids: Collection[str] | None = None,
        strategy_id: str | None = None,
    ) -> FlattenResult:
        """Cancel the open orders, then close every position (shares by market order, options at value)."""
        cancelled = self.cancel_open(ts, reason, fund_ids=fund_ids, strategy_id=strategy_id)
        events = list(cancelled)
        closed = 0
        for fund_id in self._select(fund_ids):
            for (fund, strategy, symbol), holding in list(self._holdings.items()):
                if fund != fund_id or holding.quantity == 0 or strategy_id not in (None, strategy):
                    continue
                quantity = abs(holding.quantity)
                side: OrderSide = "sell" if holding.quantity > 0 else "buy"
                request = OrderRequest(
                    fund_id=fund, strategy_id=strategy, symbol=symbol, side=side, quantity=quantity
                )
                order = Order(f"{self._prefix}-{next(self._ids)}", request, ts)
                mark = self._marks.get(symbol)
                touch = (mark.touch(side == "buy") if mark is not None else None) or holding.avg_price
                events += [
                    BookEvent(self._event(order, "new", ts), reason),
                    BookEvent(self._event(order, "routed", ts), reason),
                    BookEvent(self._event(order, "accepted", ts), reason),
                    BookEvent(self._fill(order, touch, ts).event, reason),
                ]
                closed += 1
            if strategy_id is None:
                account = self._accounts[fund_id]
                for option in account.options:
                    if option.quantity != 0:
                        account.cash += option.value(self._spot(option), ts)
                        option.quantity = 0.0
                        closed += 1
        return FlattenResult(events, len(cancelled), closed)

    # ------------------------------------------------------------------ options

    def add_option(self, fund_id: str, option: OptionHolding, ts: datetime) -> None:
        """Buy (or write) an option at its model value; the premium moves cash."""
        account = self._account(fund_id)
        if not option.spot > 0:
            raise ValueError(f"spot: the option on {option.underlying} needs a positive spot to be priced")
        account.cash -= option.value(option.spot, ts)
        account.options.append(option)

    def _spot(self, option: OptionHolding) -> float:
        mark = self._marks.get(option.underlying)
        mid = None if mark is None else mark.mid
        if mid:
            option.spot = mid
        return option.spot

    # ------------------------------------------------------------------ valuation

    def _mark_price(self, symbol: str, fallback: float) -> float:
        mark = self._marks.get(symbol)
        mid = None if mark is None else mark.mid
        return mid if mid else fallback

    def nav_value(self, fund_id: str, ts: datetime) -> float:
        account = self._account(fund_id)
        shares = sum(
            h.quantity * self._mark_price(sym, h.avg_price) for (_, sym), h in self.holdings(fund_id).items()
        )
        options = sum(o.value(self._spot(o), ts) for o in account.options if o.quantity != 0)
        return account.cash + shares + options

    def _strategy_totals(self) -> dict[str, tuple[float, float]]:
        """strategy -> (realised, unrealised)."""
        totals = {s: (0.0, 0.0) for s in self._fund_of_strategy}
        for (_, strategy, symbol), h in self._holdings.items():
            realized, unrealized = totals[strategy]
            open_pnl = (
                h.quantity * (self._mark_price(symbol, h.avg_price) - h.avg_price) if h.quantity else 0.0
            )
            totals[strategy] = (realized + h.realized, unrealized + open_pnl)
        return totals

    def _roll_day(self, ts: datetime) -> None:
        """At the first snapshot of a new UTC day, today's P&L starts from the current values."""
        today = ts.date()
        if self._day is None:
            self._day = today
        elif today != self._day:
            self._day = today
            for fund_id, account in self._accounts.items():
                account.day_start_nav = self.nav_value(fund_id, ts)
            self._day_start_pnl = {s: r + u for s, (r, u) in self._strategy_totals().items()}

    def nav(self, fund_id: str, ts: datetime) -> Nav:
        self._roll_day(ts)
        value = self.nav_value(fund_id, ts)
        return Nav(fund_id=fund_id, ts=ts, nav=value, day_pnl=value - self._account(fund_id).day_start_nav)

    def positions(self, fund_id: str, ts: datetime) -> list[Position]:
        """Every share holding of the fund, closed ones included (quantity 0)."""
        return [
            Position(
                fund_id=fund_id,
                strategy_id=strategy,
                symbol=symbol,
                ts=ts,
                quantity=float(h.quantity),
                avg_price=h.avg_price,
                market_price=self._mark_price(symbol, h.avg_price),
            )
            for (strategy, symbol), h in sorted(self.holdings(fund_id).items())
        ]

    def greeks(self, fund_id: str, ts: datetime) -> Greeks:
        """The fund's open option positions with the inputs a pricing model needs."""
        return Greeks(
            fund_id=fund_id,
            ts=ts,
            options=[
                OptionPosition(
                    symbol=o.symbol,
                    underlying=o.underlying,
                    kind=o.kind,
                    spot=self._spot(o),
                    strike=o.strike,
                    expiry=o.expiry.date(),
                    t_years=o.t_years(ts),
                    rate=o.rate,
                    vol=o.vol,
                    quantity=o.quantity,
                    multiplier=o.multiplier,
                )
                for o in self.options(fund_id)
            ],
        )

    def strategy_pnl(self, ts: datetime) -> list[StrategyPnl]:
        self._roll_day(ts)
        return [
            StrategyPnl(
                strategy_id=strategy,
                fund_id=self._fund_of_strategy[strategy],
                ts=ts,
                day_pnl=realized + unrealized - self._day_start_pnl.get(strategy, 0.0),
                realized_pnl=realized,
                unrealized_pnl=unrealized,
            )
            for strategy, (realized, unrealized) in self._strategy_totals().items()
        ]
