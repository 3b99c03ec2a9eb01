# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""Strategy signal drift: daily information coefficient, rolling IC/IR, CUSUM and Page–Hinkley.

*Daily IC* (the information coefficient of Grinold & Kahn, *Active Portfolio Management*, 2nd
ed., in its rank form): on each date, the cross-sectional Spearman rank correlation between the
signal and the forward return over the symbols having both, i.e. Pearson's correlation of their
average ranks (ties share the mean rank). Dates with fewer than ``min_names`` symbols, or with a
constant signal or return (no correlation defined), are dropped.

*Rolling IC / IR*: the mean and sample std (ddof = 1) of the IC over the last ``window`` dates,
IR = mean / std (per date; × √252 annualises a daily IR).

*Standardisation*: the detectors run on z_t = (IC_t − μ₀)/σ₀ with μ₀, σ₀ the mean and std of an
in-control reference period, by default the first ``reference`` dates (:func:`standardise`).

*CUSUM* (Page 1954, Biometrika 41; the tabular form of Montgomery, *Introduction to Statistical
Quality Control*, 7th ed., §9.1): S⁺_t = max(0, S⁺_{t−1} + z_t − k), S⁻_t = max(0, S⁻_{t−1} − z_t − k),
S±_0 = 0, alarm at the first t with S⁺_t > h or S⁻_t > h; k = 0.5, h = 5 (in-control ARL ≈ 465,
a 1σ shift found in ≈ 10 observations).

*Page–Hinkley* (Page 1954; as in Gama et al. 2014, "A Survey on Concept Drift Adaptation", ACM
Computing Surveys 46(4)): m_T = Σ_{t≤T} (z_t − z̄_t − δ) with z̄_t the running mean of z_1 … z_t, alarm
when m_T − min_{t≤T} m_t > λ (an increase); the mirrored statistic Σ (z_t − z̄_t + δ) against its
running max detects a decrease. Both run.

Both recursions are computed without a Python loop: S_t = max(0, S_{t−1} + x_t) with S_0 = 0 is
W_t − min(0, min_{s≤t} W_s) for W the cumulative sum of x (Lindley's formula). Alarm indices are
0-based positions in the input.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from mts1b_operations.watchdogs.maths._inputs import (
    ArrayLike,
    FloatArray,
    as_float_array,
    check_columns,
    check_positive,
    check_positive_int,
)

__all__ = ["cusum", "daily_ic", "page_hinkley", "rolling_ic_ir", "standardise"]

_MIN_NAMES: Final = 3


def daily_ic(
    signals: pl.DataFrame,
    forward_returns: pl.DataFrame,
    *,
    date_column: str = "date",
    symbol_column: str = "symbol",
    signal_column: str = "signal",
    return_column: str = "forward_return",
    min_names: int = _MIN_NAMES,
) -> pl.DataFrame:
    """Per date: date, ic (Spearman), names (symbols used); sorted by date.

    ``signals`` has (date, symbol, signal) and ``forward_returns`` (date, symbol,
    forward_return); they are inner-joined on date and symbol. A Datetime date column is cut to
    its date. Duplicate (date, symbol) rows in either frame are refused.
    """
    min_names = check_positive_int(min_names, "min_names", minimum=2)
    check_columns(signals, "signals", (date_column, symbol_column, signal_column))
    check_columns(forward_returns, "forward_returns", (date_column, symbol_column, return_column))
    left = _prepared(signals, "signals", date_column, symbol_column, signal_column)
    right = _prepared(forward_returns, "forward_returns", date_column, symbol_column, return_column)
    x, y = pl.col("_x"), pl.col("_y")
    return (
        left.rename({signal_column: "_x"})
        .join(right.rename({return_column: "_y"}), on=["date", "symbol"], how="inner")
        .lazy()
        .with_columns(x.rank("average").over("date"), y.rank("average").over("date"))
        .group_by("date")
        .agg(ic=pl.corr(x, y), names=pl.len(), _sx=x.std(), _sy=y.std())
        .filter((pl.col("names") >= min_names) & (pl.col("_sx") > 0) & (pl.col("_sy") > 0))
        .select("date", "ic", pl.col("names").cast(pl.Int64))
        .sort("date")
        .collect()
    )


def rolling_ic_ir(ic: ArrayLike, window: int) -> pl.DataFrame:
    """Columns ic, ic_mean, ic_std, ic_ir over the trailing ``window`` (null until it is full)."""
    window = check_positive_int(window, "window", minimum=2)
    frame = pl.DataFrame({"ic": as_float_array(ic, "ic")}).with_columns(
        ic_mean=pl.col("ic").rolling_mean(window), ic_std=pl.col("ic").rolling_std(window)
    )
    ratio = pl.col("ic_mean") / pl.col("ic_std")
    return frame.with_columns(ic_ir=pl.when(pl.col("ic_std") > 0).then(ratio).otherwise(None))


def standardise(
    values: ArrayLike, *, reference: int | None = None, mean: float | None = None, std: float | None = None
) -> FloatArray:
    """z = (x − μ₀)/σ₀ with μ₀, σ₀ given, or taken from the first ``reference`` values (ddof = 1)."""
    array = as_float_array(values, "values")
    if (mean is None) != (std is None):
        raise ValueError("mean and std must be given together")
    if mean is not None and std is not None:
        if reference is not None:
            raise ValueError("reference cannot be combined with mean and std")
        centre, scale = float(mean), check_positive(std, "std")
    else:
        if reference is None:
            raise ValueError("reference (a count of in-control values) or mean and std is required")
        reference = check_positive_int(reference, "reference", minimum=2)
        if reference > array.size:
            raise ValueError(f"reference ({reference}) exceeds the number of values ({array.size})")
        baseline = array[:reference]
        centre, scale = float(baseline.mean()), float(baseline.std(ddof=1))
        if scale == 0:
            raise ValueError("reference: the reference values have no variation to standardise by")
    result: FloatArray = (array - centre) / scale
    return result


def cusum(z: ArrayLike, k: float = 0.5, h: float = 5.0) -> int | None:
    """Index of the first two-sided tabular CUSUM alarm on standardised ``z``, or None."""
    values = as_float_array(z, "z")
    slack, limit = check_positive(k, "k", allow_zero=True), check_positive(h, "h")
    upper = _reflected(values - slack)
    lower = _reflected(-values - slack)
    return _first(np.maximum(upper, lower) > limit)


def page_hinkley(z: ArrayLike, delta: float = 0.5, lambda_: float = 5.0) -> int | None:
    """Index of the first two-sided Page–Hinkley alarm on ``z``, or None."""
    values = as_float_array(z, "z")
    drift, limit = check_positive(delta, "delta", allow_zero=True), check_positive(lambda_, "lambda_")
    running_mean = np.cumsum(values) / np.arange(1, values.size + 1)
    centred = values - running_mean
    increase = _reflected(centred - drift)
    decrease = _reflected(-centred - drift)
    return _first(np.maximum(increase, decrease) > limit)


def _reflected(steps: FloatArray) -> FloatArray:
    """S_t = max(0, S_{t−1} + steps_t), S_0 = 0, via Lindley: W_t − min(0, min_{s≤t} W_s)."""
    walk = np.cumsum(steps)
    result: FloatArray = walk - np.minimum(np.minimum.accumulate(walk), 0.0)
    return result


def _first(alarms: np.ndarray) -> int | None:
    hits = np.flatnonzero(alarms)
    return int(hits[0]) if hits.size else None


def _prepared(
    frame: pl.DataFrame, name: str, date_column: str, symbol_column: str, value_column: str
) -> pl.DataFrame:
    dtype = frame.schema[date_column]
    if not (isinstance(dtype, pl.Datetime) or dtype == pl.Date):
        raise ValueError(f"{name}.{date_column} must be a Date or Datetime column, got {dtype}")
    if not frame.schema[value_column].is_numeric():
        raise ValueError(f"{name}.{value_column} must be numeric, got {frame.schema[value_column]}")
    date = pl.col(date_column).dt.date() if isinstance(dtype, pl.Datetime) else pl.col(date_column)
    out = frame.select(
        date.alias("date"), pl.col(symbol_column).alias("symbol"), pl.col(value_column).cast(pl.Float64)
    ).drop_nulls()
    if not out[value_column].is_finite().all():
        raise ValueError(f"{name}.{value_column} must be finite")
    if out.select("date", "symbol").is_duplicated().any():
        raise ValueError(f"{name} has more than one row for some ({date_column}, {symbol_column})")
    return out
