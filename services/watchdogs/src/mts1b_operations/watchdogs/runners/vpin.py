# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""vpin: order-flow toxicity per symbol from the trade prints (``mts.v1.marketdata.trade.*``).

Each symbol keeps a rolling buffer of its trades. Whenever the buffer completes another
equal-volume bucket, :func:`maths.vpin.compute_vpin` runs over the buffer (bulk volume
classification on ``bar_seconds`` bars, aggressor flags when the prints carry them, σ estimated
past-only) and the latest VPIN is evaluated against ``threshold`` / ``clear``. The buffer keeps
about two windows of buckets: whole buckets are cut from its front (a trade straddling the cut is
shortened to its part after the edge), so bucket edges stay where they were; σ and the bars of
the first, cut bucket are re-estimated over what is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import polars as pl

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import Trade, decode

from ..alerting import Evaluation, level_evaluation
from ..config import VpinParams
from ..maths.vpin import compute_vpin
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription

__all__ = ["SymbolTrades", "VpinRunner"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _epoch_us(ts: datetime) -> int:
    return (ts - _EPOCH) // _MICROSECOND


@dataclass(slots=True)
class SymbolTrades:
    """One symbol's trade buffer: columns as lists, appended per print, framed per bucket."""

    ts: list[int] = field(default_factory=list)
    price: list[float] = field(default_factory=list)
    size: list[float] = field(default_factory=list)
    side: list[int | None] = field(default_factory=list)
    volume: float = 0.0
    evaluated_buckets: int = 0

    def append(self, trade: Trade) -> None:
        self.ts.append(_epoch_us(trade.ts))
        self.price.append(trade.price)
        self.size.append(trade.size)
        self.side.append(trade.side)
        self.volume += trade.size

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ts": pl.Series(self.ts, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
                "price": pl.Series(self.price, dtype=pl.Float64),
                "size": pl.Series(self.size, dtype=pl.Float64),
                "side": pl.Series(self.side, dtype=pl.Int8),
            }
        )

    def drop_buckets(self, count: int, bucket_volume: float) -> None:
        """Cut the first ``count`` whole buckets' volume from the front of the buffer."""
        cut = count * bucket_volume
        cumulative = np.cumsum(np.asarray(self.size, dtype=np.float64))
        first = int(np.searchsorted(cumulative, cut, side="right"))
        if first < len(self.size):
            self.size[first] = float(cumulative[first] - cut)
            if self.size[first] <= bucket_volume * 1e-9:
                first += 1
        del self.ts[:first], self.price[:first], self.size[:first], self.side[:first]
        self.volume = float(sum(self.size))
        self.evaluated_buckets = max(0, self.evaluated_buckets - count)


class VpinRunner(Runner[VpinParams]):
    name = "vpin"

    def __init__(self, env: RunnerEnv, params: VpinParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.symbols: dict[str, SymbolTrades] = {}

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("MARKETDATA", (f"{subjects.PREFIX}.marketdata.trade.*",), self.on_trade),)

    def reconfigured(self, old: VpinParams, new: VpinParams) -> None:
        if (old.bar_seconds, old.bucket_volume, old.bucket_volumes) != (
            new.bar_seconds,
            new.bucket_volume,
            new.bucket_volumes,
        ):
            # Buckets of another size or other bars: the buffered buckets no longer apply.
            self.symbols.clear()
        elif new.window > old.window:
            for trades in self.symbols.values():
                trades.evaluated_buckets = 0

    async def on_trade(self, delivery: Delivery) -> None:
        trade = decode(delivery.data, Trade)
        if self.fresh(delivery):
            evaluation = self.ingest(trade)
            if evaluation is not None:
                self.queue([evaluation])
        await self.publish_or_retry()

    def ingest(self, trade: Trade) -> Evaluation | None:
        """Add one print; the evaluation of its symbol when a bucket completed (and VPIN exists)."""
        params = self.params
        bucket_volume = params.volume_for(trade.symbol)
        trades = self.symbols.setdefault(trade.symbol, SymbolTrades())
        trades.append(trade)
        completed = int(trades.volume // bucket_volume)
        if completed <= trades.evaluated_buckets:
            return None
        buckets = compute_vpin(
            trades.frame(), bucket_volume=bucket_volume, window=params.window, bar_seconds=params.bar_seconds
        )
        trades.evaluated_buckets = buckets.height
        keep = 2 * params.window + 1
        if buckets.height > keep:
            trades.drop_buckets(buckets.height - keep, bucket_volume)
        if buckets.height < params.window:
            return None
        last = buckets.row(buckets.height - 1, named=True)
        first = buckets.row(buckets.height - params.window, named=True)
        vpin = float(last["vpin"])
        return level_evaluation(
            trade.symbol,
            vpin,
            threshold=params.threshold,
            clear=params.clear,
            message=(
                f"VPIN of {trade.symbol} is {vpin:.3f} over the last {params.window} buckets of "
                f"{bucket_volume:g} shares (alert at {params.threshold:g}, clears below {params.clear:g})"
            ),
            window_start=_as_utc(first["start_ts"]),
            window_end=_as_utc(last["end_ts"]),
        )


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
