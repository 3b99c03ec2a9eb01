"""Coarse bars built from finer ones with polars, and merged with the bars published as such.

Rules:

- Buckets are UTC-aligned (see ``_intervals``): a 1h bar covers [hh:00, hh+1:00) UTC, a 1d bar
  the UTC calendar day [00:00, 24:00).
- open = the first finer bar's open, close = the last one's close, high = the highest high,
  low = the lowest low, volume = the sum of volumes; vwap = the volume-weighted mean of the
  finer vwaps (null if any finer bar has none, or the volume is 0); trade_count = the sum
  (null if any finer bar has none).
- A bucket is served from whatever finer bars exist in it: a bucket still in progress, or one
  with gaps in its finer bars, is built from those present.
- Published bars win: a bucket holding a published bar of the interval is never replaced by an
  aggregated one (a published bar occupies the UTC bucket its start falls in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from mts1b_operations.core.schemas.marketdata_api import Bar

from ._intervals import DURATIONS, BarInterval, bucket_floor

__all__ = ["BAR_COLUMNS", "aggregate", "merge_bars"]

BAR_COLUMNS: Final = ("start", "open", "high", "low", "close", "volume", "vwap", "trade_count")
"""Columns of the finer bars handed to :func:`aggregate` (``start`` a UTC Datetime)."""

_EVERY: Final[dict[BarInterval, str]] = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1h", "1d": "1d"}


def aggregate(
    finer: pl.DataFrame, *, symbol: str, interval: BarInterval, drop_oldest: bool = False
) -> list[Bar]:
    """Bars of ``interval`` built from the finer bars in ``finer``, oldest first.

    ``drop_oldest`` leaves out the oldest bucket: the caller read a bounded number of finer
    bars, so that bucket may be missing some of them.
    """
    if finer.is_empty():
        return []
    grouped = (
        finer.sort("start")
        .with_columns(bucket=pl.col("start").dt.truncate(_EVERY[interval]))
        .group_by("bucket", maintain_order=True)
        .agg(
            open=pl.col("open").first(),
            high=pl.col("high").max(),
            low=pl.col("low").min(),
            close=pl.col("close").last(),
            volume=pl.col("volume").sum(),
            vwap_sum=(pl.col("vwap") * pl.col("volume")).sum(),
            vwap_missing=pl.col("vwap").is_null().any(),
            trade_count=pl.col("trade_count").sum(),
            count_missing=pl.col("trade_count").is_null().any(),
        )
        .sort("bucket")
    )
    if drop_oldest:
        grouped = grouped.slice(1)
    step = DURATIONS[interval]
    bars: list[Bar] = []
    for row in grouped.iter_rows(named=True):
        volume = float(row["volume"])
        vwap = None if row["vwap_missing"] or volume <= 0 else float(row["vwap_sum"]) / volume
        bars.append(
            Bar(
                symbol=symbol,
                interval=interval,
                start=row["bucket"],
                end=row["bucket"] + step,
                open=float(row["open"]),
                high=float(row["high"]),
                low=float(row["low"]),
                close=float(row["close"]),
                volume=volume,
                vwap=vwap,
                trade_count=None if row["count_missing"] else int(row["trade_count"]),
                source="aggregated",
            )
        )
    return bars


def merge_bars(
    published: Sequence[Bar], aggregated: Sequence[Bar], *, interval: BarInterval, limit: int
) -> list[Bar]:
    """Published bars plus the aggregated ones for buckets without a published bar; the newest
    ``limit``, oldest first."""
    taken = {bucket_floor(bar.start, interval) for bar in published}
    merged = [*published, *(bar for bar in aggregated if bar.start not in taken)]
    merged.sort(key=lambda bar: bar.start)
    return merged[-limit:] if limit < len(merged) else merged
