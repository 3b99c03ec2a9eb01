# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""portfolio_vol_dd: a fund's realized volatility and its drawdown (``mts.v1.portfolio.nav.*``).

NAV updates are gathered into OHLC bars of ``bar_seconds`` (by the update's own timestamp). At
every update the fund's annualised realized volatility over its last ``window`` bars (the one
forming included) is estimated with ``estimator`` (close-to-close, Parkinson, Garman–Klass or
Yang–Zhang; :func:`maths.portfolio_vol_dd.realized_vol`, annualised with ``periods_per_year``)
and its drawdown is taken from the running peak of the last ``drawdown_bars`` bars
(:func:`maths.portfolio_vol_dd.current_drawdown`). The breach ratio is the larger of
vol / (``vol_multiple`` × target) and |drawdown| / limit, the target and the limit being the fund's
``vol_target`` / ``drawdown_limit`` in the funds registry, else the parameters of the same name.
It fires above 1 and clears below ``clear_ratio``. The subject is the fund id (the auto-halt
policy halts that fund).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import Nav, decode

from ..alerting import Evaluation, breach_ratio_evaluation
from ..config import VolDdParams
from ..maths.portfolio_vol_dd import current_drawdown, realized_vol
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription

__all__ = ["VolDdRunner"]

_MIN_BARS = {"close_to_close": 3, "parkinson": 1, "garman_klass": 1, "yang_zhang": 3}


@dataclass(slots=True)
class _Bar:
    index: int
    start: datetime
    open: float
    high: float
    low: float
    close: float


@dataclass(slots=True)
class _Fund:
    bars: deque[_Bar] = field(default_factory=deque)

    def add(self, index: int, ts: datetime, nav: float, keep: int) -> None:
        if self.bars and self.bars[-1].index >= index:
            bar = self.bars[-1]  # the forming bar (a late update counts in it)
            bar.high, bar.low, bar.close = max(bar.high, nav), min(bar.low, nav), nav
            return
        self.bars.append(_Bar(index, ts, nav, nav, nav, nav))
        while len(self.bars) > keep:
            self.bars.popleft()


class VolDdRunner(Runner[VolDdParams]):
    name = "portfolio_vol_dd"

    def __init__(self, env: RunnerEnv, params: VolDdParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.funds: dict[str, _Fund] = {}

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("PORTFOLIO", (f"{subjects.PREFIX}.portfolio.nav.*",), self.on_nav),)

    def reconfigured(self, old: VolDdParams, new: VolDdParams) -> None:
        if new.bar_seconds != old.bar_seconds:
            self.funds.clear()

    async def on_nav(self, delivery: Delivery) -> None:
        nav = decode(delivery.data, Nav)
        if self.fresh(delivery):
            evaluation = self.ingest(nav)
            if evaluation is not None:
                self.queue([evaluation])
        await self.publish_or_retry()

    def _limits(self, fund_id: str) -> tuple[float, float]:
        params = self.params
        if fund_id in self.env.funds:
            fund = self.env.funds.fund(fund_id)
            return fund.vol_target or params.vol_target, fund.drawdown_limit or params.drawdown_limit
        return params.vol_target, params.drawdown_limit

    def ingest(self, nav: Nav) -> Evaluation | None:
        if nav.nav <= 0:
            return None
        params = self.params
        fund = self.funds.setdefault(nav.fund_id, _Fund())
        index = int(nav.ts.timestamp() // params.bar_seconds)
        fund.add(index, nav.ts, nav.nav, max(params.drawdown_bars, params.window))
        bars = list(fund.bars)
        drawdown = current_drawdown([*(bar.high for bar in bars[-params.drawdown_bars :]), nav.nav])
        recent = bars[-params.window :]
        vol: float | None = None
        if len(recent) >= _MIN_BARS[params.estimator]:
            frame = pl.DataFrame(
                {
                    "open": [bar.open for bar in recent],
                    "high": [bar.high for bar in recent],
                    "low": [bar.low for bar in recent],
                    "close": [bar.close for bar in recent],
                }
            )
            vol = realized_vol(frame, params.estimator, params.periods_per_year)
        target, limit = self._limits(nav.fund_id)
        vol_ratio = 0.0 if vol is None else vol / (params.vol_multiple * target)
        dd_ratio = -drawdown / limit
        shown_vol = "n/a (too few bars)" if vol is None else f"{100 * vol:.1f}%"
        return breach_ratio_evaluation(
            nav.fund_id,
            max(vol_ratio, dd_ratio),
            clear_ratio=params.clear_ratio,
            message=(
                f"{nav.fund_id}: realized vol {shown_vol} ({params.estimator}, {len(recent)} bars) "
                f"against {params.vol_multiple:g} x target {100 * target:.1f}%; drawdown "
                f"{100 * drawdown:.1f}% against limit {100 * limit:.1f}%"
            ),
            window_start=recent[0].start,
            window_end=nav.ts,
        )
