# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""strategy_watchdog: a strategy's P&L moves outside its prediction interval (``mts.v1.strategy.pnl.*``).

Each update's P&L change (realized + unrealized, against the strategy's previous update) is
tested against the 1 − ``alpha`` prediction interval of the strategy's last ``window`` changes,
μ̂ ± t(1 − α/2, n − 1)·σ̂·√(1 + 1/n) (:func:`maths.strategy_pnl.prediction_interval`), once
``min_history`` changes exist. The breach ratio |Δ − μ̂| / half-width fires above 1 and clears
below ``clear_ratio``. The subject is the strategy id. Inhibited while a dependency it relies on
(``inhibited_by``) is down.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import StrategyPnl, decode

from ..alerting import Evaluation, breach_ratio_evaluation
from ..config import StrategyParams
from ..maths.strategy_pnl import prediction_interval
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription

__all__ = ["StrategyRunner", "interval_ratio"]


def interval_ratio(value: float, lower: float, upper: float) -> float:
    """|value − centre| / half-width of [lower, upper]: 1 on a bound; zero width gives 0 or inf."""
    centre, half = (lower + upper) / 2.0, (upper - lower) / 2.0
    if half <= 0:
        return 0.0 if value == centre else math.inf
    return abs(value - centre) / half


class StrategyRunner(Runner[StrategyParams]):
    name = "strategy_watchdog"

    def __init__(self, env: RunnerEnv, params: StrategyParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.totals: dict[str, float] = {}
        self.changes: dict[str, deque[float]] = {}

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("STRATEGY", (f"{subjects.PREFIX}.strategy.pnl.*",), self.on_pnl),)

    async def on_pnl(self, delivery: Delivery) -> None:
        pnl = decode(delivery.data, StrategyPnl)
        if self.fresh(delivery):
            evaluation = self.ingest(pnl)
            if evaluation is not None:
                self.queue([evaluation])
        await self.publish_or_retry()

    def ingest(self, pnl: StrategyPnl) -> Evaluation | None:
        params = self.params
        total = pnl.realized_pnl + pnl.unrealized_pnl
        previous = self.totals.get(pnl.strategy_id)
        self.totals[pnl.strategy_id] = total
        if previous is None:
            return None
        change = total - previous
        history = self.changes.setdefault(pnl.strategy_id, deque())
        evaluation = None
        if len(history) >= params.min_history:
            lower, upper = prediction_interval(list(history), params.alpha)
            ratio = interval_ratio(change, lower, upper)
            evaluation = breach_ratio_evaluation(
                pnl.strategy_id,
                ratio,
                clear_ratio=params.clear_ratio,
                value=change,
                threshold=upper if change >= (lower + upper) / 2 else lower,
                message=(
                    f"P&L of {pnl.strategy_id} ({pnl.fund_id}) moved {change:+,.2f}; its "
                    f"{100 * (1 - params.alpha):g}% prediction interval from the last {len(history)} changes "
                    f"is [{lower:,.2f}, {upper:,.2f}]"
                ),
                window_start=pnl.ts,
                window_end=pnl.ts,
            )
        history.append(change)
        while len(history) > params.window:
            history.popleft()
        return evaluation
