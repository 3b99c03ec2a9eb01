# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""drift_monitor: a strategy's signal losing (or changing) its predictive power (``mts.v1.strategy.signal.*``
and ``mts.v1.marketdata.bar.<bar_interval>.*``).

Per strategy, the last signal of each day and symbol is kept; the bars give each symbol's close
per day, and a day's forward return is the close of the symbol's next bar day over this day's
close, minus 1. The daily information coefficient is the cross-sectional Spearman correlation of
signal and forward return over the symbols having both (:func:`maths.drift_monitor.daily_ic`, at
least ``min_symbols``). The first ``reference_days`` ICs are the in-control reference: their mean
μ₀ and deviation σ₀ standardise the later ICs, z = (IC − μ₀)/σ₀, and the two-sided CUSUM
(``k``, ``h``) and Page–Hinkley (``ph_delta``, ``ph_lambda``) detectors run on them. Either alarm
fires the alert; it resolves when the mean z of the last ``ir_window`` days is back within ±k,
and monitoring then starts afresh from that day. The alert reports the rolling IC mean and IR
(:func:`maths.drift_monitor.rolling_ic_ir`) against μ₀. Evaluated when a bar opens a new day (the
days before it then have all their bars, hence their forward returns). The subject is the
strategy id.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeVar

import numpy as np
import polars as pl

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import Bar, StrategySignal, decode

from ..alerting import Evaluation
from ..config import DriftParams
from ..maths.drift_monitor import cusum, daily_ic, page_hinkley, rolling_ic_ir, standardise
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription

__all__ = ["DriftRunner"]

T = TypeVar("T")


@dataclass(slots=True)
class _Strategy:
    signals: dict[date, dict[str, float]] = field(default_factory=dict)
    reference: tuple[float, float, date] | None = None
    """(μ₀, σ₀, last reference day)."""
    monitor_from: date | None = None


def _trim(days: dict[date, T], keep: int) -> None:
    for day in sorted(days)[:-keep]:
        del days[day]


class DriftRunner(Runner[DriftParams]):
    name = "drift_monitor"

    def __init__(self, env: RunnerEnv, params: DriftParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.strategies: dict[str, _Strategy] = {}
        self.closes: dict[str, dict[date, float]] = {}
        self.today: date | None = None
        """The newest bar day seen: the days before it have all their bars."""

    def subscriptions(self) -> Sequence[Subscription]:
        bars = f"{subjects.PREFIX}.marketdata.bar.{self.params.bar_interval}.*"
        return (
            Subscription("STRATEGY", (f"{subjects.PREFIX}.strategy.signal.*",), self.on_signal, "-signals"),
            Subscription("MARKETDATA", (bars,), self.on_bar, "-bars"),
        )

    def reconfigured(self, old: DriftParams, new: DriftParams) -> None:
        if (old.reference_days, old.min_symbols, old.bar_interval) != (
            new.reference_days,
            new.min_symbols,
            new.bar_interval,
        ):
            for strategy in self.strategies.values():
                strategy.reference, strategy.monitor_from = None, None
        if new.bar_interval != old.bar_interval:
            self.closes.clear()
            self.today = None

    async def on_signal(self, delivery: Delivery) -> None:
        signal = decode(delivery.data, StrategySignal)
        if self.fresh(delivery):
            strategy = self.strategies.setdefault(signal.strategy_id, _Strategy())
            strategy.signals.setdefault(signal.ts.date(), {})[signal.symbol] = signal.value
            _trim(strategy.signals, self.params.window_days + 1)
        await self.publish_or_retry()

    async def on_bar(self, delivery: Delivery) -> None:
        bar = decode(delivery.data, Bar)
        if self.fresh(delivery) and bar.interval == self.params.bar_interval:
            self.queue(self.ingest_bar(bar))
        await self.publish_or_retry()

    def ingest_bar(self, bar: Bar) -> list[Evaluation]:
        """Record a close; when the bar opens a new day, evaluate every strategy on the days now complete."""
        day = bar.start.date()
        self.closes.setdefault(bar.symbol, {})[day] = bar.close
        for closes in self.closes.values():
            _trim(closes, self.params.window_days + 2)
        if self.today is not None and day <= self.today:
            return []
        self.today = day
        return [e for sid in list(self.strategies) if (e := self.evaluate(sid)) is not None]

    def _forward_returns(self) -> pl.DataFrame:
        """Forward returns of the days whose next bar day is complete: before the newest bar day."""
        rows: list[tuple[date, str, float]] = []
        for symbol, closes in self.closes.items():
            days = sorted(d for d in closes if self.today is None or d < self.today)
            rows.extend(
                (d, symbol, closes[n] / closes[d] - 1.0) for d, n in itertools.pairwise(days) if closes[d] > 0
            )
        return pl.DataFrame(
            rows, schema={"date": pl.Date, "symbol": pl.String, "forward_return": pl.Float64}, orient="row"
        )

    def evaluate(self, strategy_id: str) -> Evaluation | None:
        params = self.params
        strategy = self.strategies[strategy_id]
        signals = pl.DataFrame(
            [(d, s, v) for d, by_symbol in strategy.signals.items() for s, v in by_symbol.items()],
            schema={"date": pl.Date, "symbol": pl.String, "signal": pl.Float64},
            orient="row",
        )
        ic = daily_ic(signals, self._forward_returns(), min_names=params.min_symbols)
        days: list[date] = ic["date"].to_list()
        values = ic["ic"].to_numpy()
        if strategy.reference is None:
            if len(days) < params.reference_days:
                return None
            base = values[: params.reference_days]
            std = float(np.std(base, ddof=1))
            if not std > 0:
                return None
            strategy.reference = (float(np.mean(base)), std, days[params.reference_days - 1])
        mean, std, reference_end = strategy.reference
        start = max(reference_end, strategy.monitor_from or reference_end)
        watched = [i for i, d in enumerate(days) if d > start]
        if not watched:
            return None
        z = standardise(values[watched], mean=mean, std=std)
        alarm_cusum = cusum(z, params.k, params.h)
        alarm_ph = page_hinkley(z, params.ph_delta, params.ph_lambda)
        recent = z[-params.ir_window :]
        recovered = abs(float(np.mean(recent))) <= params.k
        firing = self.book.get(strategy_id).firing
        if firing and recovered:
            breached, cleared = False, True
            strategy.monitor_from = days[-1]
        else:
            breached = alarm_cusum is not None or alarm_ph is not None
            cleared = not breached and recovered
        rolling = rolling_ic_ir(values, min(params.ir_window, len(values))) if len(values) >= 2 else None
        ic_mean = float(values[-params.ir_window :].mean())
        ir = rolling["ic_ir"][-1] if rolling is not None else None
        alarms = [
            f"{name} alarm on {days[watched[index]]}"
            for name, index in (("CUSUM", alarm_cusum), ("Page-Hinkley", alarm_ph))
            if index is not None
        ]
        ir_text = f"{ir:.2f}" if isinstance(ir, float) and math.isfinite(ir) else "n/a"
        return Evaluation(
            subject_id=strategy_id,
            value=ic_mean,
            threshold=mean,
            breached=breached,
            cleared=cleared,
            message=(
                f"IC of {strategy_id} on {days[-1]}: {values[-1]:+.3f}; {len(recent)}-day mean "
                f"{ic_mean:+.3f}, IR {ir_text}; reference {mean:+.3f} ± {std:.3f} "
                f"({'; '.join(alarms) if alarms else 'no drift alarm'})"
            ),
            window_start=_midnight(days[watched[0]]),
            window_end=_midnight(days[-1]),
        )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
