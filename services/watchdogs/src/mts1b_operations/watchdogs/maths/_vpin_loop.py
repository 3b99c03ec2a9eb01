# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""VPIN computed trade by trade in plain Python: the reference the vectorised version is checked
against, and the baseline of ``bench/watchdogs.py``. Same method and conventions as
:mod:`mts1b_operations.watchdogs.maths.vpin`; not for production use (it is ~100× slower).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["LoopBucket", "compute_vpin_loop"]


class LoopBucket(NamedTuple):
    bucket: int
    start_us: int
    end_us: int
    buy_volume: float
    sell_volume: float
    vpin: float | None


def compute_vpin_loop(
    trades: Iterable[tuple[int, float, float, int | None]],
    *,
    bucket_volume: float,
    window: int = 50,
    bar_seconds: int = 60,
    sigma: float | None = None,
    min_sigma_bars: int = 2,
) -> list[LoopBucket]:
    """``trades`` are (ts in epoch microseconds, price, size, side or None) tuples."""
    rows = sorted(trades, key=lambda row: row[0])
    if not rows:
        return []
    if all(row[3] is not None for row in rows):
        units = [(ts, size, size if side == 1 else 0.0) for ts, _price, size, side in rows]
    else:
        units = _bar_units(rows, bar_seconds, sigma, min_sigma_bars)
    tolerance = bucket_volume * 1e-9
    out: list[LoopBucket] = []
    recent: deque[float] = deque()
    recent_sum = 0.0
    filled = bucket_buy = bucket_sell = 0.0
    start: int | None = None
    for ts, volume, buy in units:
        share = buy / volume
        remaining = volume
        while remaining > 0.0:
            if start is None:
                start = ts
            take = min(remaining, bucket_volume - filled)
            bucket_buy += take * share
            bucket_sell += take * (1.0 - share)
            filled += take
            remaining -= take
            if filled < bucket_volume - tolerance:
                continue
            imbalance = abs(bucket_sell - bucket_buy)
            recent.append(imbalance)
            recent_sum += imbalance
            if len(recent) > window:
                recent_sum -= recent.popleft()
            vpin = recent_sum / (window * bucket_volume) if len(recent) == window else None
            out.append(LoopBucket(len(out), start, ts, bucket_buy, bucket_sell, vpin))
            filled = bucket_buy = bucket_sell = 0.0
            start = None
            if remaining <= tolerance:  # rounding dust at the edge: carried, but starts nothing
                filled, bucket_buy, bucket_sell = remaining, remaining * share, remaining * (1.0 - share)
                break
    return out


def _bar_units(
    rows: list[tuple[int, float, float, int | None]],
    bar_seconds: int,
    sigma: float | None,
    min_sigma_bars: int,
) -> list[tuple[int, float, float]]:
    bar_length = bar_seconds * 1_000_000
    # bar index, last ts, volume, unflagged volume, flagged buy volume, open, close
    bars: list[list[float]] = []
    for ts, price, size, side in rows:
        index = ts // bar_length
        if not bars or bars[-1][0] != index:
            bars.append([index, ts, 0.0, 0.0, 0.0, price, price])
        bar = bars[-1]
        bar[1] = ts
        bar[2] += size
        if side is None:
            bar[3] += size
        elif side == 1:
            bar[4] += size
        bar[6] = price
    units: list[tuple[int, float, float]] = []
    previous_close: float | None = None
    mean, m2 = 0.0, 0.0  # Welford over the previous bars' price changes
    for count, (_index, bar_ts, volume, unflagged, flagged_buy, open_, close) in enumerate(bars):
        delta = close - (open_ if previous_close is None else previous_close)
        if sigma is not None:
            scale: float | None = sigma
        else:
            scale = math.sqrt(m2 / (count - 1)) if count >= min_sigma_bars else None
        if scale is None or delta == 0.0:
            z = 0.0
        elif scale == 0.0:
            z = math.copysign(math.inf, delta)
        else:
            z = delta / scale
        units.append((int(bar_ts), volume, flagged_buy + unflagged * 0.5 * math.erfc(-z / math.sqrt(2.0))))
        step = delta - mean
        mean += step / (count + 1)
        m2 += step * (delta - mean)
        previous_close = close
    return units
