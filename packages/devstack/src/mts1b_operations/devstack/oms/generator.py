"""A small order generator: the registry's paper strategies trade on the replayed market.

Each strategy turns the recent mid prices of every symbol into a signal in [-1, 1]
(momentum: the normalised return over the lookback; mean reversion, for ids starting with
``mr``: minus the z-score of the price against its mean) and a target position. Each tick it
sends at most ``max_orders_per_tick`` orders for the symbols furthest from target, some at
market and some as passive limit orders, and cancels limit orders that rested longer than
``order_ttl``. Seeded: the same seed and the same prices give the same orders.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

import numpy as np

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderSide, StrategySignal

from .book import OptionHolding, OrderRequest, PaperBook

__all__ = [
    "OrderGenerator",
    "StrategyConfig",
    "StrategyStyle",
    "TickPlan",
    "seed_options",
    "strategies_of",
]

StrategyStyle = Literal["momentum", "mean_reversion"]
_CENT: Final = Decimal("0.01")
_MIN_HISTORY: Final = 5


@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    strategy_id: str
    fund_id: str
    style: StrategyStyle
    max_position: int = 500
    lot: int = 10

    def __post_init__(self) -> None:
        if self.lot <= 0 or self.max_position < self.lot:
            raise ValueError(f"max_position/lot: need 0 < lot <= max_position (strategy {self.strategy_id})")


def strategies_of(funds: Iterable[Fund], *, max_position: int = 500, lot: int = 10) -> list[StrategyConfig]:
    """One config per strategy of the paper funds; ids starting with ``mr`` are mean-reverting."""
    return [
        StrategyConfig(
            strategy_id=strategy,
            fund_id=fund.fund_id,
            style="mean_reversion" if strategy.lower().startswith("mr") else "momentum",
            max_position=max_position,
            lot=lot,
        )
        for fund in funds
        if fund.is_paper
        for strategy in fund.strategies
    ]


@dataclass
class TickPlan:
    signals: list[StrategySignal] = field(default_factory=list)
    orders: list[OrderRequest] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    """Ids of resting limit orders to cancel."""


class OrderGenerator:
    def __init__(
        self,
        strategies: Iterable[StrategyConfig],
        *,
        seed: int = 0,
        lookback: int = 20,
        market_share: float = 0.6,
        limit_offset_bps: float = 5.0,
        order_ttl: float = 10.0,
        max_orders_per_tick: int = 1,
    ) -> None:
        self.strategies = list(strategies)
        if lookback < _MIN_HISTORY:
            raise ValueError(f"lookback: must be at least {_MIN_HISTORY} prices, got {lookback}")
        if not 0.0 <= market_share <= 1.0:
            raise ValueError(f"market_share: must be within [0, 1], got {market_share}")
        if not order_ttl > 0:
            raise ValueError(f"order_ttl: must be > 0 seconds, got {order_ttl}")
        if max_orders_per_tick < 1:
            raise ValueError(f"max_orders_per_tick: must be >= 1, got {max_orders_per_tick}")
        self._rng = np.random.default_rng(seed)
        self._history: dict[str, deque[float]] = {}
        self._lookback = lookback
        self._market_share = market_share
        self._offset = limit_offset_bps * 1e-4
        self._ttl = timedelta(seconds=order_ttl)
        self._per_tick = max_orders_per_tick

    def observe(self, symbol: str, price: float) -> None:
        if price > 0:
            self._history.setdefault(symbol, deque(maxlen=self._lookback)).append(math.log(price))

    def signal(self, style: StrategyStyle, symbol: str) -> float | None:
        """The strategy's view of ``symbol`` in [-1, 1]; None until enough prices were seen."""
        history = self._history.get(symbol)
        if history is None or len(history) < _MIN_HISTORY:
            return None
        logs = np.fromiter(history, dtype=float)
        if style == "momentum":
            steps = np.diff(logs)
            scale = float(steps.std()) * math.sqrt(steps.size)
            return math.tanh((logs[-1] - logs[0]) / scale) if scale > 0 else 0.0
        spread = float(logs.std())
        return -math.tanh((logs[-1] - float(logs.mean())) / spread) if spread > 0 else 0.0

    def tick(self, book: PaperBook, ts: datetime) -> TickPlan:
        plan = TickPlan()
        for order in book.open_orders():
            if order.request.order_type == "limit" and ts - order.created_at >= self._ttl:
                plan.expired.append(order.order_id)
        expired = set(plan.expired)
        for strategy in self.strategies:
            wanted: list[tuple[int, str, int]] = []
            for symbol in book.symbols:
                value = self.signal(strategy.style, symbol)
                if value is None:
                    continue
                target = round(value * strategy.max_position / strategy.lot) * strategy.lot
                plan.signals.append(
                    StrategySignal(
                        strategy_id=strategy.strategy_id,
                        fund_id=strategy.fund_id,
                        symbol=symbol,
                        ts=ts,
                        value=value,
                        target_position=float(target),
                    )
                )
                held = book.position(strategy.fund_id, strategy.strategy_id, symbol)
                pending = sum(
                    o.signed_quantity
                    for o in book.open_orders(strategy.fund_id, strategy.strategy_id)
                    if o.request.symbol == symbol and o.order_id not in expired
                )
                gap = target - held - pending
                if abs(gap) >= strategy.lot:
                    wanted.append((-abs(gap), symbol, gap))
            for _, symbol, gap in sorted(wanted)[: self._per_tick]:
                held = book.position(strategy.fund_id, strategy.strategy_id, symbol)
                plan.orders.append(self._order(book, strategy, symbol, gap, held))
        return plan

    def _order(
        self, book: PaperBook, strategy: StrategyConfig, symbol: str, gap: int, held: int
    ) -> OrderRequest:
        quantity = min(abs(gap), strategy.max_position)
        side: OrderSide = "buy" if gap > 0 else ("sell" if held >= quantity else "sell_short")
        mark = book.mark(symbol)
        passive = self._rng.random() >= self._market_share
        if passive and mark is not None and mark.bid and mark.ask:
            price = mark.bid * (1 - self._offset) if side == "buy" else mark.ask * (1 + self._offset)
            limit = Decimal(repr(price)).quantize(_CENT)
            if limit > 0:
                return OrderRequest(
                    fund_id=strategy.fund_id,
                    strategy_id=strategy.strategy_id,
                    symbol=symbol,
                    side=side,
                    quantity=quantity,
                    order_type="limit",
                    limit_price=limit,
                )
        return OrderRequest(
            fund_id=strategy.fund_id,
            strategy_id=strategy.strategy_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
        )


def seed_options(book: PaperBook, fund_id: str, ts: datetime, *, days: int = 30) -> list[OptionHolding]:
    """A few option positions for a fund on the first priced symbols: a long call at the money and a
    short put 5% out of the money on each of the first two, expiring in ``days`` days."""
    options: list[OptionHolding] = []
    expiry = ts + timedelta(days=days)
    for symbol in book.symbols[:2]:
        mark = book.mark(symbol)
        spot = None if mark is None else mark.mid
        if not spot:
            continue
        step = 5.0 if spot >= 50 else 1.0
        call_strike = max(step, round(spot / step) * step)
        put_strike = max(step, round(spot * 0.95 / step) * step)
        tag = expiry.strftime("%Y%m%d")
        options += [
            OptionHolding(
                symbol=f"{symbol}-{tag}-C{call_strike:g}",
                underlying=symbol,
                kind="call",
                strike=call_strike,
                expiry=expiry,
                quantity=10.0,
                spot=spot,
            ),
            OptionHolding(
                symbol=f"{symbol}-{tag}-P{put_strike:g}",
                underlying=symbol,
                kind="put",
                strike=put_strike,
                expiry=expiry,
                quantity=-5.0,
                spot=spot,
            ),
        ]
    return options
