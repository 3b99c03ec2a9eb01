# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""VPIN, the volume-synchronised probability of informed trading.

Method: Easley, López de Prado & O'Hara (2012), "Flow Toxicity and Liquidity in a High-frequency
World", Review of Financial Studies 25(5), 1457-1493: the VPIN metric over equal-volume buckets
with bulk volume classification, as follows.

1. **Bars.** Trades (one symbol, any order: they are sorted by ``ts``) are grouped into time bars of
   ``bar_seconds`` (1 minute in the paper) aligned to the UTC epoch; empty bars are skipped. A
   bar's price change is ΔP_i = close_i − close_{i−1} (previous non-empty bar); the first bar of
   the input, having no previous close, uses close − open of its own trades.
2. **Bulk volume classification**: of a bar's volume V_i, the buy share is
   V_B = V_i·Φ(ΔP_i/σ) and the sell share V_S = V_i − V_B, Φ the standard normal CDF and σ the
   standard deviation of bar price changes.
   *Aggressor flags.* When the trades carry ``side`` (+1 buyer-initiated, −1 seller-initiated)
   the flags are used directly instead: if every trade has one, each trade is its own unit (no
   bars at all), wholly buy or sell; if only some do, a bar's flagged volume is counted as flagged
   and only its unflagged volume is split by Φ(ΔP/σ).
3. **Equal-volume buckets** of exactly ``bucket_volume`` = V. Buckets are filled in trade order
   from the first trade of the input; a unit (trade or bar) straddling a bucket edge is split
   across the edge in proportion to volume, its buy share being the same in every piece.
   Only completed buckets are returned; the volume after the last completed bucket waits for
   more trades.
4. **VPIN** over the last n = ``window`` buckets:
   VPIN_τ = Σ_{j=τ−n+1..τ} |V_S,j − V_B,j| / (n·V); null until n buckets exist.

σ conventions: ``sigma`` given is used as is for every bar. ``sigma=None`` estimates it from the
input *past-only*, so that a bucket's value never depends on later trades: the σ used for bar i is
the sample standard deviation (ddof = 1) of ΔP_0 … ΔP_{i−1}, the expanding std of the *previous*
bars; bars with fewer than ``min_sigma_bars`` previous bars are split evenly (z = 0). σ = 0 (all
previous changes equal) classifies a move wholly by its sign and an unchanged price evenly.
:func:`bar_sigma` gives the full-sample σ (the paper's choice, which looks ahead) for callers who
want to pass it explicitly.

Vectorisation: nothing loops over trades in Python. Bars are contiguous runs of the sorted bar
index, summed with ``np.add.reduceat``. For the bucket split, with C the cumulative volume and B
the cumulative buy volume of the units, buy volume accrues linearly inside a unit, so the buy
volume up to volume x, held by unit i = ``searchsorted(C, x)``, is B_i − (C_i − x)·buy_i/V_i (the
piecewise-linear interpolation of B over C); bucket b's buy volume is its difference between the
edges bV and (b+1)V, and its sell volume V minus that. ``searchsorted`` on C also gives the units
holding each bucket's first and last volume, hence ``start_ts`` and ``end_ts``. Cumulative
volumes within 1e-9·V (plus float rounding of C) of an edge are treated as on it.

:func:`vpin_cdf` maps the latest VPIN to its empirical CDF over a history (the paper's
"CDF(VPIN)" alert mode).
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from mts1b_operations.watchdogs.maths._inputs import (
    ArrayLike,
    FloatArray,
    as_float_array,
    check_columns,
    check_positive,
    check_positive_int,
)
from mts1b_operations.watchdogs.maths._scipy import ndtr

__all__ = ["VPIN_COLUMNS", "bar_price_changes", "bar_sigma", "compute_vpin", "vpin_cdf"]

VPIN_COLUMNS: Final = ("bucket", "start_ts", "end_ts", "buy_volume", "sell_volume", "vpin")
"""Columns of :func:`compute_vpin`'s result, in order."""

_EDGE_TOLERANCE: Final = 1e-9
"""Relative to the bucket volume: a cumulative volume this close to an edge is on the edge."""


def compute_vpin(
    trades: pl.DataFrame,
    *,
    bucket_volume: float,
    window: int = 50,
    bar_seconds: int = 60,
    sigma: float | None = None,
    min_sigma_bars: int = 2,
) -> pl.DataFrame:
    """One row per completed bucket: bucket, start_ts, end_ts, buy_volume, sell_volume, vpin.

    ``trades`` has ``ts`` (Datetime), ``price`` (> 0), ``size`` (> 0) and optionally ``side``
    (+1 / −1 / null), for one symbol. ``start_ts`` / ``end_ts`` are the timestamps of the first
    and last unit (trade, or a bar's last trade) contributing volume to the bucket. ``vpin`` is
    null for the first ``window − 1`` buckets. See the module docstring for the method.
    """
    volume_per_bucket = check_positive(bucket_volume, "bucket_volume")
    window = check_positive_int(window, "window")
    bar_seconds = check_positive_int(bar_seconds, "bar_seconds")
    min_sigma_bars = check_positive_int(min_sigma_bars, "min_sigma_bars", minimum=2)
    if sigma is not None:
        sigma = check_positive(sigma, "sigma")
    frame = _checked_trades(trades)
    ts_dtype = frame.schema["ts"]
    if frame.height == 0:
        return _empty(ts_dtype)
    if "side" in frame.columns and frame["side"].null_count() == 0:
        volume = frame["size"].to_numpy()
        buy = np.multiply(volume, frame["side"].to_numpy() > 0)
        return _buckets(frame["ts"], volume, buy, volume_per_bucket, window)
    return _buckets(*_bar_units(frame, bar_seconds, sigma, min_sigma_bars), volume_per_bucket, window)


def bar_price_changes(trades: pl.DataFrame, *, bar_seconds: int = 60) -> pl.DataFrame:
    """Per non-empty bar: bar (index since epoch), ts (last trade), volume, delta_price.

    ΔP is close − previous close, and close − open for the first bar (module docstring, step 1).
    """
    bar_seconds = check_positive_int(bar_seconds, "bar_seconds")
    frame = _checked_trades(trades)
    if frame.height == 0:
        return pl.DataFrame(
            schema={
                "bar": pl.Int64,
                "ts": frame.schema["ts"],
                "volume": pl.Float64,
                "delta_price": pl.Float64,
            }
        )
    bars = _bars(frame, bar_seconds)
    return pl.DataFrame(
        {"bar": bars.bar, "ts": bars.ts, "volume": bars.volume, "delta_price": bars.delta_price}
    )


def bar_sigma(trades: pl.DataFrame, *, bar_seconds: int = 60) -> float:
    """Full-sample standard deviation (ddof = 1) of bar price changes: σ as the paper estimates it.

    It uses every bar of the input, so feeding it back as ``sigma`` looks ahead; live use should
    leave ``sigma=None`` (expanding, past-only).
    """
    changes = bar_price_changes(trades, bar_seconds=bar_seconds)["delta_price"].to_numpy()
    if changes.size < 2:
        raise ValueError(f"trades must span at least 2 non-empty bars to estimate sigma, got {changes.size}")
    return float(np.std(changes, ddof=1))


def vpin_cdf(history: ArrayLike, value: float | None = None) -> float:
    """Empirical CDF of ``value`` (default: the last of ``history``) among ``history``: share ≤ value.

    Nulls (NaN) in a VPIN column — the warm-up buckets — are dropped first.
    """
    if isinstance(history, pl.Series):
        history = history.drop_nulls().drop_nans()
    else:
        raw = np.asarray(list(history) if not isinstance(history, np.ndarray) else history, dtype=float)
        history = raw[~np.isnan(raw)]
    values = as_float_array(history, "history", min_length=1)
    target = float(values[-1]) if value is None else check_positive(value, "value", allow_zero=True)
    return float(np.count_nonzero(values <= target) / values.size)


def _checked_trades(trades: pl.DataFrame) -> pl.DataFrame:
    check_columns(trades, "trades", ("ts", "price", "size"))
    schema = trades.schema
    if not isinstance(schema["ts"], pl.Datetime):
        raise ValueError(f"trades.ts must be a Datetime column, got {schema['ts']}")
    has_side = "side" in trades.columns
    if has_side and not (schema["side"].is_numeric() or schema["side"] == pl.Null):
        raise ValueError(f"trades.side must be numeric (+1 / -1 / null), got {schema['side']}")
    for name in ("ts", "price", "size"):
        if name != "ts" and not schema[name].is_numeric():
            raise ValueError(f"trades.{name} must be numeric, got {schema[name]}")
        if trades[name].null_count():
            raise ValueError(f"trades.{name} must not contain nulls")
    columns = [pl.col("ts"), pl.col("price").cast(pl.Float64), pl.col("size").cast(pl.Float64)]
    if has_side:
        if schema["side"] != pl.Null and not (trades["side"].abs() == 1).all():  # nulls are skipped
            raise ValueError("trades.side must be +1 (buy), -1 (sell) or null")
        columns.append(pl.col("side").cast(pl.Int8))
    frame = trades.select(columns)
    for name in ("price", "size"):
        values = frame[name].to_numpy()  # no nulls, so a view: min and max scan it without copying
        if values.size and not (values.min() > 0 and values.max() < math.inf):  # NaN fails both
            raise ValueError(f"trades.{name} must be finite and > 0 for every trade")
    if not frame["ts"].is_sorted():
        frame = frame.sort("ts", maintain_order=True)
    return frame


class _Bars(NamedTuple):
    bar: npt.NDArray[np.int64]
    ts: pl.Series
    volume: FloatArray
    unflagged: FloatArray
    flagged_buy: FloatArray
    delta_price: FloatArray


def _bars(frame: pl.DataFrame, bar_seconds: int) -> _Bars:
    """Aggregate time-sorted trades into their non-empty bars (contiguous runs of one bar index)."""
    epoch_us = frame["ts"].dt.epoch("us").to_numpy()
    length = bar_seconds * 1_000_000
    first, last = int(epoch_us[0]) // length, int(epoch_us[-1]) // length
    if last - first < epoch_us.size:
        # Few bars, many trades: each bar's first trade by binary search on the sorted times.
        starts = np.unique(np.searchsorted(epoch_us, np.arange(first, last + 1, dtype=np.int64) * length))
    else:
        bar_of_trade = epoch_us // length
        starts = np.concatenate(([0], np.flatnonzero(np.diff(bar_of_trade)) + 1))
    ends = np.append(starts[1:] - 1, epoch_us.size - 1)
    size, price = frame["size"].to_numpy(), frame["price"].to_numpy()
    volume = np.add.reduceat(size, starts)
    if "side" in frame.columns:
        side = frame["side"].fill_null(0).to_numpy()
        unflagged = np.add.reduceat(np.where(side == 0, size, 0.0), starts)
        flagged_buy = np.add.reduceat(np.where(side == 1, size, 0.0), starts)
    else:
        unflagged, flagged_buy = volume, np.zeros_like(volume)
    close = price[ends]
    delta = np.empty_like(close)
    delta[0] = close[0] - price[0]
    delta[1:] = np.diff(close)
    return _Bars(epoch_us[starts] // length, frame["ts"].gather(ends), volume, unflagged, flagged_buy, delta)


def _bar_units(
    frame: pl.DataFrame, bar_seconds: int, sigma: float | None, min_sigma_bars: int
) -> tuple[pl.Series, FloatArray, FloatArray]:
    bars = _bars(frame, bar_seconds)
    delta = bars.delta_price
    scale = (
        np.full(delta.size, sigma, dtype=np.float64)
        if sigma is not None
        else _past_sigma(delta, min_sigma_bars)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(scale > 0, delta / scale, np.sign(delta) * np.inf)
    z = np.where(np.isnan(scale) | (delta == 0), 0.0, z)
    return bars.ts, bars.volume, bars.flagged_buy + bars.unflagged * ndtr(z)


def _past_sigma(delta: FloatArray, min_bars: int) -> FloatArray:
    """σ for bar i from ΔP_0..ΔP_{i−1} (ddof = 1); NaN where fewer than ``min_bars`` precede it."""
    # A constant shift leaves the variance alone, keeps the sums small, and makes a run of equal
    # changes centre to exact zeros, so its variance is exactly 0 rather than rounding noise.
    centred = delta - delta[0]
    count = np.arange(delta.size, dtype=np.float64)
    s1 = np.concatenate(([0.0], np.cumsum(centred)[:-1]))
    s2 = np.concatenate(([0.0], np.cumsum(centred * centred)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (s2 - s1 * s1 / count) / (count - 1)
    sigma = np.sqrt(np.maximum(variance, 0.0))
    sigma[count < min_bars] = np.nan
    return sigma


def _buckets(
    unit_ts: pl.Series, volume: FloatArray, buy: FloatArray, bucket_volume: float, window: int
) -> pl.DataFrame:
    """Fill the buckets from units (trades or bars) with their volume and buy volume."""
    cumulative = np.cumsum(volume)
    total = float(cumulative[-1])
    tolerance = bucket_volume * _EDGE_TOLERANCE + 64 * np.finfo(np.float64).eps * total
    completed = math.floor((total + tolerance) / bucket_volume)
    if completed == 0:
        return _empty(unit_ts.dtype)
    edges = np.arange(completed + 1, dtype=np.float64) * bucket_volume
    last_unit = cumulative.size - 1
    # Buy volume up to each edge: all of the units before the one holding the edge, plus that
    # unit's buy share of its part below the edge.
    holder = np.minimum(np.searchsorted(cumulative, edges, side="left"), last_unit)
    share = buy[holder] / volume[holder]
    bought = _prefix_sums(buy, holder + 1) - (cumulative[holder] - edges) * share
    bought[0] = 0.0
    buy_volume = np.diff(bought)
    sell_volume = np.diff(edges) - buy_volume
    start_unit = np.minimum(np.searchsorted(cumulative, edges[:-1] + tolerance, side="right"), last_unit)
    end_unit = np.minimum(np.searchsorted(cumulative, edges[1:] - tolerance, side="left"), last_unit)
    imbalance = pl.Series(np.abs(sell_volume - buy_volume))
    return pl.DataFrame(
        {
            "bucket": pl.Series(np.arange(completed, dtype=np.int64)),
            "start_ts": unit_ts.gather(start_unit),
            "end_ts": unit_ts.gather(end_unit),
            "buy_volume": buy_volume,
            "sell_volume": sell_volume,
            "vpin": imbalance.rolling_sum(window) / (window * bucket_volume),
        }
    )


def _prefix_sums(values: FloatArray, bounds: npt.NDArray[np.intp]) -> FloatArray:
    """Σ values[:b] for each b of the non-decreasing ``bounds`` (1 ≤ b ≤ len(values)).

    Segment sums with ``np.add.reduceat`` (a vectorised reduction, cheaper and more accurate
    than a running sum over every trade), then a running sum over the few segments.
    """
    distinct, position = np.unique(bounds, return_inverse=True)
    starts = np.concatenate(([0], distinct[distinct < values.size]))
    segments = np.add.reduceat(values, starts)[: distinct.size]
    result: FloatArray = np.cumsum(segments)[position]
    return result


def _empty(ts_dtype: pl.DataType) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "bucket": pl.Int64,
            "start_ts": ts_dtype,
            "end_ts": ts_dtype,
            "buy_volume": pl.Float64,
            "sell_volume": pl.Float64,
            "vpin": pl.Float64,
        }
    )
