# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""news_spike: a burst of stories about a symbol (``mts.v1.news.item.*``).

Stories are counted per symbol in intervals of ``bin_seconds`` (by ``published_at``; a story
arriving after its interval closed counts in the open one). With every story the open interval's
count is tested against the symbol's baseline (:func:`maths.news_spike.check_spike`): the exact
Poisson tail, firing when P(X ≥ count) is below the one-sided normal tail of ``threshold``
sigmas (5σ); from a baseline of ``large_rate`` stories per interval, the robust median/MAD z of
the count against the history. The baseline is the mean count of the closed intervals (at least
``min_history_bins`` of them, else ``prior_rate``; never below ``min_rate``); with ``time_of_day``
and a day of history, the mean of the intervals in the same time-of-day slot
(:func:`maths.news_spike.time_of_day_baseline`). The alert clears once the count no longer
reaches the ``clear`` sigmas level.

A periodic tick closes intervals nobody wrote in (so a spike clears when the news stops), but
only while the stream is live (the latest story is at most two intervals older than the clock):
replayed history advances by its own timestamps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import polars as pl

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import NewsItem, decode

from ..alerting import Evaluation
from ..config import NewsParams
from ..maths.news_spike import check_spike, time_of_day_baseline, time_of_day_slot
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription

__all__ = ["NewsRunner"]

_DAY: Final = 86_400


@dataclass(slots=True)
class _Symbol:
    bin: int
    count: int = 0
    last_published: datetime | None = None
    history: deque[tuple[int, int]] = field(default_factory=deque)
    """(interval index, count) of closed intervals, oldest first."""
    baseline: tuple[int, float, list[float]] | None = None
    """(interval it was computed for, rate, history counts) — recomputed when an interval closes."""


class NewsRunner(Runner[NewsParams]):
    name = "news_spike"

    def __init__(self, env: RunnerEnv, params: NewsParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.symbols: dict[str, _Symbol] = {}
        self.latest_published: datetime | None = None

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("NEWS", (f"{subjects.PREFIX}.news.item.*",), self.on_item),)

    def interval(self) -> float:
        return min(60.0, max(0.05, self.params.bin_seconds / 4))

    def reconfigured(self, old: NewsParams, new: NewsParams) -> None:
        if new.bin_seconds != old.bin_seconds:
            self.symbols.clear()
        else:
            for symbol in self.symbols.values():
                symbol.baseline = None
                while len(symbol.history) > new.history_bins:
                    symbol.history.popleft()

    async def on_item(self, delivery: Delivery) -> None:
        item = decode(delivery.data, NewsItem)
        if self.fresh(delivery):
            self.queue([self.ingest(item)])
        await self.publish_or_retry()

    def ingest(self, item: NewsItem) -> Evaluation:
        index = int(item.published_at.timestamp() // self.params.bin_seconds)
        state = self.symbols.get(item.symbol)
        if state is None:
            state = self.symbols[item.symbol] = _Symbol(bin=index)
        self._advance(state, index)
        state.count += 1
        state.last_published = item.published_at
        if self.latest_published is None or item.published_at > self.latest_published:
            self.latest_published = item.published_at
        return self._evaluate(item.symbol, state)

    async def tick(self) -> None:
        """Close the intervals that ended on the clock while no story came (live streams only)."""
        now = self.env.clock()
        bin_seconds = self.params.bin_seconds
        if self.latest_published is None or now - self.latest_published > timedelta(seconds=2 * bin_seconds):
            return
        index = int(now.timestamp() // bin_seconds)
        closed: list[Evaluation] = []
        for symbol, state in self.symbols.items():
            if state.bin < index:
                self._advance(state, index)
                closed.append(self._evaluate(symbol, state))
        self.queue(closed)

    def _advance(self, state: _Symbol, index: int) -> None:
        if index <= state.bin:
            return
        params = self.params
        state.history.append((state.bin, state.count))
        gap = min(index - state.bin - 1, params.history_bins)
        for empty in range(index - gap, index):
            state.history.append((empty, 0))
        while len(state.history) > params.history_bins:
            state.history.popleft()
        state.bin, state.count, state.baseline = index, 0, None

    def _baseline(self, state: _Symbol) -> tuple[float, list[float]]:
        if state.baseline is not None and state.baseline[0] == state.bin:
            return state.baseline[1], state.baseline[2]
        params = self.params
        counts = [float(count) for _, count in state.history]
        if len(counts) < params.min_history_bins:
            rate, history = params.prior_rate, counts
        else:
            rate, history = float(np.mean(counts)), counts
            if params.time_of_day and len(counts) * params.bin_seconds >= _DAY:
                rate, history = self._slot_baseline(state, rate, history)
        rate = max(rate, params.min_rate)
        state.baseline = (state.bin, rate, history)
        return rate, history

    def _slot_baseline(self, state: _Symbol, rate: float, history: list[float]) -> tuple[float, list[float]]:
        params = self.params
        starts = [index * params.bin_seconds for index, _ in state.history]
        frame = pl.DataFrame(
            {
                "ts": (pl.Series(starts, dtype=pl.Int64) * 1_000_000).cast(pl.Datetime("us", "UTC")),
                "count": history,
            }
        )
        table = time_of_day_baseline(frame, slot_minutes=params.slot_minutes, timezone=params.timezone)
        slot = time_of_day_slot(
            datetime.fromtimestamp(state.bin * params.bin_seconds, UTC),
            slot_minutes=params.slot_minutes,
            timezone=params.timezone,
        )
        row = table.filter(pl.col("slot") == slot)
        if row.is_empty() or int(row["observations"][0]) < params.min_slot_observations:
            return rate, history
        in_slot = [
            count
            for (index, _), count in zip(state.history, history, strict=True)
            if time_of_day_slot(
                datetime.fromtimestamp(index * params.bin_seconds, UTC),
                slot_minutes=params.slot_minutes,
                timezone=params.timezone,
            )
            == slot
        ]
        return float(row["rate"][0]), in_slot

    def _evaluate(self, symbol: str, state: _Symbol) -> Evaluation:
        params = self.params
        rate, history = self._baseline(state)
        fire = check_spike(
            state.count, rate, history=history, sigmas=params.threshold, large_rate=params.large_rate
        )
        hold = check_spike(
            state.count, rate, history=history, sigmas=params.clear, large_rate=params.large_rate
        )
        start = datetime.fromtimestamp(state.bin * params.bin_seconds, UTC)
        if fire.method == "poisson":
            test = (
                f"Poisson({rate:.2f}) makes {int(fire.threshold)} or more a {params.threshold:g}-sigma spike"
            )
        else:
            test = (
                f"robust z {fire.value:.1f} against {len(history)} intervals "
                f"(alert above {params.threshold:g})"
            )
        return Evaluation(
            subject_id=symbol,
            value=fire.value,
            threshold=fire.threshold,
            breached=fire.fired,
            cleared=not hold.fired,
            message=(
                f"{state.count} news item(s) on {symbol} in the {params.bin_seconds}s from "
                f"{start:%Y-%m-%d %H:%M:%S}Z; baseline {rate:.2f} per interval: {test}"
            ),
            window_start=start,
            window_end=state.last_published or start,
        )
