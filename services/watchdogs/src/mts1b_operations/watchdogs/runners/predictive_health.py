# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""predictive_health: a fund's NAV leaves its one-step prediction interval (``mts.v1.portfolio.nav.*``).

Each NAV update gives a log return r = ln(NAV_t / NAV_{t−1}). Once ``min_history`` returns
exist, an AR(1) model with a constant is fitted to the fund's last ``window`` returns
(:func:`maths.predictive_health.forecast_interval`, statsmodels ARIMA, ``alpha`` passed
explicitly: 0.01 is a 99% interval) and the new return is compared with the interval forecast
for it. The breach ratio |r − centre| / half-width fires above 1 (outside the interval) and
clears below ``clear_ratio``. The fit runs in a worker thread so the event loop keeps serving.
The subject is the fund id.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import Nav, decode

from ..alerting import Evaluation, breach_ratio_evaluation
from ..config import PredictiveHealthParams
from ..maths.predictive_health import forecast_interval
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription
from .strategy_watchdog import interval_ratio

__all__ = ["PredictiveHealthRunner"]


@dataclass(slots=True)
class _Fund:
    nav: float
    ts: datetime
    returns: deque[float] = field(default_factory=deque)
    since: deque[datetime] = field(default_factory=deque)


class PredictiveHealthRunner(Runner[PredictiveHealthParams]):
    name = "predictive_health"

    def __init__(
        self, env: RunnerEnv, params: PredictiveHealthParams, state: StoredState | None = None
    ) -> None:
        super().__init__(env, params, state)
        self.funds: dict[str, _Fund] = {}

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("PORTFOLIO", (f"{subjects.PREFIX}.portfolio.nav.*",), self.on_nav),)

    async def on_nav(self, delivery: Delivery) -> None:
        nav = decode(delivery.data, Nav)
        if self.fresh(delivery):
            evaluation = await self.ingest(nav)
            if evaluation is not None:
                self.queue([evaluation])
        await self.publish_or_retry()

    async def ingest(self, nav: Nav) -> Evaluation | None:
        params = self.params
        fund = self.funds.get(nav.fund_id)
        if fund is None or fund.nav <= 0 or nav.nav <= 0:
            self.funds[nav.fund_id] = _Fund(nav.nav, nav.ts)
            return None
        r = math.log(nav.nav / fund.nav)
        previous_ts = fund.ts
        fund.nav, fund.ts = nav.nav, nav.ts
        history = fund.returns
        evaluation = None
        if len(history) >= params.min_history:
            returns = list(history)[-params.window :]
            lower, upper = await asyncio.to_thread(
                forecast_interval, returns, params.alpha, min_observations=params.min_history
            )
            ratio = interval_ratio(r, lower, upper)
            evaluation = breach_ratio_evaluation(
                nav.fund_id,
                ratio,
                clear_ratio=params.clear_ratio,
                value=r,
                threshold=upper if r >= (lower + upper) / 2 else lower,
                message=(
                    f"NAV of {nav.fund_id} moved to {nav.nav:,.2f}: log return {r:+.5f} against the "
                    f"{100 * (1 - params.alpha):g}% one-step interval [{lower:+.5f}, {upper:+.5f}] of an "
                    f"AR(1) fitted on its last {len(returns)} returns"
                ),
                window_start=fund.since[0] if fund.since else previous_ts,
                window_end=nav.ts,
            )
        history.append(r)
        fund.since.append(previous_ts)
        while len(history) > params.window:
            history.popleft()
            fund.since.popleft()
        return evaluation
