# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""News-count spikes: exact Poisson tails for small counts, robust z for large ones, per time of day.

*Exact Poisson test.* A count X in an interval is Poisson(λ) under the baseline rate λ. A spike
of ``sigmas`` "sigmas" means a count whose upper tail is as unlikely as a normal variable beyond
``sigmas``: p = 1 − Φ(sigmas) (5σ → p = 2.8665e-7, one-sided). :func:`poisson_threshold` is the
smallest k with P(X ≥ k) ≤ p, P(X ≥ k) = 1 − F(k − 1; λ) from SciPy's regularised incomplete
gamma (exact, no normal approximation); a count ≥ k fires. At λ = 5 this is k = 21:
P(X ≥ 20) = 3.45e-7 > p ≥ P(X ≥ 21) = 8.11e-8. For λ = 0 any story is a spike (k = 1).

*Robust z for large counts.* Real news counts are over-dispersed relative to Poisson once the
rate is large, so from ``large_rate`` (30 per interval) up, with enough history, the count is
scored against that history's median/MAD as a modified z-score (Iglewicz & Hoaglin 1993,
:mod:`.position_anomaly`, with its MAD = 0 fallback) and fires above ``sigmas``.

*Time-of-day baseline.* News flow is seasonal within the day (open, close, scheduled releases),
so λ is estimated per time-of-day slot: :func:`time_of_day_baseline` groups past interval counts
by the slot their start falls in (in ``timezone``, default UTC) and gives each slot's mean count
(the Poisson MLE of λ), median, MAD and number of observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from mts1b_operations.watchdogs.maths._inputs import (
    ArrayLike,
    as_float_array,
    check_columns,
    check_positive,
    check_positive_int,
)
from mts1b_operations.watchdogs.maths._scipy import norm_sf, poisson_isf, poisson_sf
from mts1b_operations.watchdogs.maths.position_anomaly import modified_zscore_against

__all__ = [
    "LARGE_RATE",
    "MIN_ROBUST_HISTORY",
    "SpikeCheck",
    "baseline_rate_at",
    "check_spike",
    "poisson_tail",
    "poisson_threshold",
    "robust_z",
    "time_of_day_baseline",
    "time_of_day_slot",
]

LARGE_RATE: Final = 30.0
"""From this baseline rate (per interval) up, :func:`check_spike` uses the robust z."""
MIN_ROBUST_HISTORY: Final = 8
"""Fewest history counts the robust z is computed from; with fewer the Poisson test is used."""


@dataclass(frozen=True, slots=True)
class SpikeCheck:
    """The outcome of :func:`check_spike`: ``value`` is the count (Poisson) or the robust z."""

    fired: bool
    method: Literal["poisson", "robust_z"]
    value: float
    threshold: float


def poisson_threshold(baseline_rate: float, sigmas: float = 5.0) -> int:
    """Smallest k with P(X ≥ k) ≤ 1 − Φ(sigmas) for X ~ Poisson(``baseline_rate``)."""
    rate = check_positive(baseline_rate, "baseline_rate", allow_zero=True)
    tail = norm_sf(check_positive(sigmas, "sigmas"))
    if rate == 0:
        return 1
    k = int(poisson_isf(tail, rate)) + 1
    while k > 1 and poisson_tail(k - 1, rate) <= tail:
        k -= 1
    while poisson_tail(k, rate) > tail:
        k += 1
    return k


def poisson_tail(k: int, rate: float) -> float:
    """P(X ≥ k) for X ~ Poisson(``rate``): 1 for k ≤ 0."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"k must be an integer, got {k!r}")
    rate = check_positive(rate, "rate", allow_zero=True)
    if k <= 0:
        return 1.0
    return poisson_sf(k - 1, rate)


def robust_z(count: float, history: ArrayLike) -> float:
    """Modified z-score of ``count`` against ``history``: 0.6745 (count − median) / MAD."""
    return float(modified_zscore_against(history, [count])[0])


def check_spike(
    count: int,
    baseline_rate: float,
    *,
    history: ArrayLike | None = None,
    sigmas: float = 5.0,
    large_rate: float = LARGE_RATE,
) -> SpikeCheck:
    """Poisson test below ``large_rate`` (or without enough history), robust z from it up."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    rate = check_positive(baseline_rate, "baseline_rate", allow_zero=True)
    limit = check_positive(sigmas, "sigmas")
    check_positive(large_rate, "large_rate")
    past = None if history is None else as_float_array(history, "history")
    if rate >= large_rate and past is not None and past.size >= MIN_ROBUST_HISTORY:
        z = robust_z(count, past)
        return SpikeCheck(fired=z > limit, method="robust_z", value=z, threshold=limit)
    threshold = poisson_threshold(rate, limit)
    return SpikeCheck(
        fired=count >= threshold, method="poisson", value=float(count), threshold=float(threshold)
    )


def time_of_day_slot(ts: datetime, *, slot_minutes: int = 60, timezone: str = "UTC") -> int:
    """The slot of ``ts`` (aware): minutes since local midnight in ``timezone`` // ``slot_minutes``."""
    slot_minutes = _check_slot(slot_minutes)
    if ts.tzinfo is None:
        raise ValueError("ts must be timezone-aware")
    local = ts.astimezone(_zone(timezone))
    return (local.hour * 60 + local.minute) // slot_minutes


def time_of_day_baseline(
    counts: pl.DataFrame,
    *,
    slot_minutes: int = 60,
    ts_column: str = "ts",
    count_column: str = "count",
    timezone: str = "UTC",
) -> pl.DataFrame:
    """Per slot: slot, rate (mean count), median, mad, observations; one row per slot seen.

    ``counts`` holds one row per past interval: its start (aware Datetime) and its count.
    """
    slot_minutes = _check_slot(slot_minutes)
    check_columns(counts, "counts", (ts_column, count_column))
    _zone(timezone)
    dtype = counts.schema[ts_column]
    if not isinstance(dtype, pl.Datetime):
        raise ValueError(f"counts.{ts_column} must be a Datetime column, got {dtype}")
    if not counts.schema[count_column].is_numeric():
        raise ValueError(f"counts.{count_column} must be numeric, got {counts.schema[count_column]}")
    values = counts[count_column].cast(pl.Float64)
    if (
        values.null_count()
        or counts[ts_column].null_count()
        or not (values.is_finite() & (values >= 0)).all()
    ):
        raise ValueError(
            f"counts.{count_column} must be a finite number >= 0 in every row, with a {ts_column}"
        )
    local = pl.col(ts_column)
    local = local.dt.convert_time_zone(timezone) if dtype.time_zone else local.dt.replace_time_zone(timezone)
    count = pl.col(count_column).cast(pl.Float64)
    return (
        counts.lazy()
        .with_columns(
            slot=((local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)) // slot_minutes)
        )
        .group_by("slot")
        .agg(
            rate=count.mean(),
            median=count.median(),
            mad=(count - count.median()).abs().median(),
            observations=pl.len(),
        )
        .sort("slot")
        .collect()
    )


def baseline_rate_at(
    baseline: pl.DataFrame, ts: datetime, *, slot_minutes: int = 60, timezone: str = "UTC"
) -> float | None:
    """The ``rate`` of the slot ``ts`` falls in, from :func:`time_of_day_baseline`; None if unseen."""
    check_columns(baseline, "baseline", ("slot", "rate"))
    slot = time_of_day_slot(ts, slot_minutes=slot_minutes, timezone=timezone)
    rows = baseline.filter(pl.col("slot") == slot)["rate"]
    return None if rows.is_empty() else float(rows[0])


def _check_slot(slot_minutes: int) -> int:
    slot_minutes = check_positive_int(slot_minutes, "slot_minutes")
    if 1440 % slot_minutes:
        raise ValueError(f"slot_minutes must divide a day (1440 minutes), got {slot_minutes}")
    return slot_minutes


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {timezone!r} is not a known IANA time zone") from None
