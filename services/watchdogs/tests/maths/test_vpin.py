# ruff: noqa: RUF002, RUF003  (maths notation is meant)
"""VPIN: known answers, bucket invariants, past-only σ, and agreement with the per-trade loop."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mts1b_operations.watchdogs.maths._vpin_loop import compute_vpin_loop
from mts1b_operations.watchdogs.maths.vpin import (
    VPIN_COLUMNS,
    bar_price_changes,
    bar_sigma,
    compute_vpin,
    vpin_cdf,
)

from .conftest import EPOCH, TradesFactory, build_trades

EPOCH_US = int(EPOCH.timestamp()) * 1_000_000


def _seconds(column: pl.Series) -> list[float]:
    return [(value - EPOCH).total_seconds() for value in column.to_list()]


# ------------------------------------------------------------------ aggressor flags


def test_all_buy_buckets_give_vpin_one(make_trades: TradesFactory) -> None:
    trades = make_trades(range(30), [100.0] * 30, [10.0] * 30, [1] * 30)
    result = compute_vpin(trades, bucket_volume=100, window=3)
    assert result.columns == list(VPIN_COLUMNS)
    assert result["buy_volume"].to_list() == [100.0, 100.0, 100.0]
    assert result["sell_volume"].to_list() == [0.0, 0.0, 0.0]
    assert result["vpin"].to_list() == [None, None, 1.0]


def test_balanced_buckets_give_vpin_zero(make_trades: TradesFactory) -> None:
    sides = [1, -1] * 20
    trades = make_trades(range(40), [100.0] * 40, [10.0] * 40, sides)
    result = compute_vpin(trades, bucket_volume=100, window=4)
    assert result["buy_volume"].to_list() == [50.0] * 4
    assert result["sell_volume"].to_list() == [50.0] * 4
    assert result["vpin"].to_list() == [None, None, None, 0.0]


def test_flagged_trade_straddling_an_edge_is_split(make_trades: TradesFactory) -> None:
    # buy 60, sell 60, buy 80 with V = 100: bucket 0 = 60 buy + 40 sell, bucket 1 = 20 sell + 80 buy.
    trades = make_trades([0, 5, 9], [100.0, 100.0, 100.0], [60.0, 60.0, 80.0], [1, -1, 1])
    result = compute_vpin(trades, bucket_volume=100, window=2)
    assert result["buy_volume"].to_list() == [60.0, 80.0]
    assert result["sell_volume"].to_list() == [40.0, 20.0]
    assert result["vpin"].to_list() == [None, pytest.approx((20 + 60) / 200)]
    assert _seconds(result["start_ts"]) == [0.0, 5.0]
    assert _seconds(result["end_ts"]) == [5.0, 9.0]


def test_partly_flagged_bar_counts_flags_and_splits_the_rest(make_trades: TradesFactory) -> None:
    # One bar, flat price (z = 0): the 70 unflagged split evenly, the 30 flagged buys stay buys.
    trades = make_trades([0, 1], [100.0, 100.0], [30.0, 70.0], [1, None])
    result = compute_vpin(trades, bucket_volume=100, window=1, sigma=1.0)
    assert result["buy_volume"].to_list() == [65.0]
    assert result["sell_volume"].to_list() == [35.0]
    assert result["vpin"].to_list() == [pytest.approx(0.3)]


# ------------------------------------------------------------------ bulk volume classification


@pytest.mark.parametrize(("z", "expected"), [(1.0, 0.682689), (2.0, 0.954500), (0.5, 0.382925)])
def test_one_bar_per_bucket_at_fixed_z_gives_two_phi_minus_one(z: float, expected: float) -> None:
    sigma, volume, bars = 0.25, 1_000.0, 12
    step = z * sigma
    # Bar 0 has two trades so its own close − open is the step; then one trade per 1-minute bar,
    # alternating up and down, so every bar has |ΔP| = zσ and exactly the bucket volume.
    seconds, prices, sizes = [0.0, 1.0], [100.0, 100.0 + step], [volume / 2, volume / 2]
    price = 100.0 + step
    for k in range(1, bars):
        price += -step if k % 2 else step
        seconds.append(60.0 * k + 1)
        prices.append(price)
        sizes.append(volume)
    result = compute_vpin(build_trades(seconds, prices, sizes), bucket_volume=volume, window=5, sigma=sigma)
    assert result.height == bars
    phi = 0.5 * math.erfc(-z / math.sqrt(2))
    assert result["buy_volume"][0] == pytest.approx(volume * phi, rel=1e-12)
    assert result["buy_volume"][1] == pytest.approx(volume * (1 - phi), rel=1e-12)
    vpin = result["vpin"].drop_nulls().to_numpy()
    assert vpin.size == bars - 4
    assert np.allclose(vpin, abs(2 * phi - 1), rtol=0, atol=1e-12)
    assert np.allclose(vpin, expected, rtol=0, atol=1e-6)


def test_a_bar_straddling_an_edge_keeps_its_buy_share_in_both_buckets(make_trades: TradesFactory) -> None:
    # Bar 0: 150 units, ΔP = +1 (σ = 1) → buy share Φ(1); bar 1: 50 units, ΔP = −1 → Φ(−1).
    trades = make_trades([0, 10, 70], [100.0, 101.0, 100.0], [50.0, 100.0, 50.0])
    result = compute_vpin(trades, bucket_volume=100, window=1, sigma=1.0)
    phi = stats.norm.cdf(1.0)
    assert result["buy_volume"].to_list() == pytest.approx([100 * phi, 50 * phi + 50 * (1 - phi)], rel=1e-12)
    assert result["vpin"].to_list() == pytest.approx([abs(2 * phi - 1), 0.0], abs=1e-12)
    assert _seconds(result["start_ts"]) == [10.0, 10.0]
    assert _seconds(result["end_ts"]) == [10.0, 70.0]


def test_sigma_none_uses_only_previous_bars(make_trades: TradesFactory) -> None:
    rng = np.random.default_rng(7)
    n = 4_000
    seconds = np.sort(rng.uniform(0, 200 * 60, n))
    prices = 100 + np.cumsum(rng.normal(0, 0.02, n))
    sizes = rng.integers(1, 100, n).astype(float)
    full = compute_vpin(make_trades(seconds, prices, sizes), bucket_volume=2_000, window=10)
    cut = seconds < 100 * 60  # a bar edge, so no bar is truncated
    prefix = compute_vpin(make_trades(seconds[cut], prices[cut], sizes[cut]), bucket_volume=2_000, window=10)
    assert 0 < prefix.height < full.height
    assert prefix.equals(full.head(prefix.height))
    # ...whereas the full-sample σ (which looks ahead) changes the early buckets.
    ahead = compute_vpin(
        make_trades(seconds, prices, sizes),
        bucket_volume=2_000,
        window=10,
        sigma=bar_sigma(make_trades(seconds, prices, sizes)),
    )
    assert not np.allclose(ahead["buy_volume"].head(prefix.height), prefix["buy_volume"])


def test_past_sigma_is_the_expanding_std_of_previous_bar_changes(make_trades: TradesFactory) -> None:
    # One trade per bar, bucket = bar: each bucket's buy share must be Φ(ΔP_i / std(ΔP_0..ΔP_{i-1})).
    rng = np.random.default_rng(3)
    prices = 100 + np.cumsum(rng.normal(0, 0.1, 40))
    seconds = 60.0 * np.arange(40)
    result = compute_vpin(make_trades(seconds, prices, [10.0] * 40), bucket_volume=10, window=1)
    delta = np.diff(prices, prepend=prices[0])  # the first bar: close − open = 0
    expected = [0.5 if i < 2 else stats.norm.cdf(delta[i] / np.std(delta[:i], ddof=1)) for i in range(40)]
    assert (result["buy_volume"].to_numpy() / 10).tolist() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("span_seconds", [600.0, 30 * 86_400.0])
def test_dense_and_sparse_bars_match_the_loop(make_trades: TradesFactory, span_seconds: float) -> None:
    # 400 trades over 10 minutes (many trades per bar) or over 30 days (more bars than trades)
    # take the two bar-finding paths; both must agree with the per-trade loop.
    rng = np.random.default_rng(12)
    seconds = np.sort(rng.uniform(0, span_seconds, 400)).round(3)
    prices = 100 + np.cumsum(rng.normal(0, 0.05, 400))
    sizes = rng.integers(1, 100, 400).astype(float)
    result = compute_vpin(make_trades(seconds, prices, sizes), bucket_volume=700, window=3, bar_seconds=30)
    loop = compute_vpin_loop(
        [(EPOCH_US + round(s * 1e6), p, q, None) for s, p, q in zip(seconds, prices, sizes, strict=True)],
        bucket_volume=700,
        window=3,
        bar_seconds=30,
    )
    assert result.height == len(loop) > 10
    assert np.allclose(result["buy_volume"], [b.buy_volume for b in loop], rtol=0, atol=1e-7)
    assert result["end_ts"].dt.epoch("us").to_list() == [b.end_us for b in loop]


def test_unsorted_input_is_sorted_by_time(make_trades: TradesFactory) -> None:
    rng = np.random.default_rng(11)
    seconds = rng.permutation(np.arange(0, 3_000, 7.0))
    prices = 100 + rng.normal(0, 0.1, seconds.size)
    sizes = rng.integers(1, 50, seconds.size).astype(float)
    shuffled = make_trades(seconds, prices, sizes)
    ordered = shuffled.sort("ts")
    assert compute_vpin(shuffled, bucket_volume=500, window=3).equals(
        compute_vpin(ordered, bucket_volume=500, window=3)
    )


def test_too_little_volume_and_no_trades_give_no_buckets(make_trades: TradesFactory) -> None:
    small = compute_vpin(make_trades([0, 1], [100.0, 100.0], [10.0, 10.0]), bucket_volume=100)
    empty = compute_vpin(make_trades([], [], []), bucket_volume=100)
    for frame in (small, empty):
        assert frame.height == 0
        assert frame.columns == list(VPIN_COLUMNS)
        assert frame.schema["end_ts"] == pl.Datetime("us", "UTC")


def test_bar_changes_and_full_sample_sigma(make_trades: TradesFactory) -> None:
    trades = make_trades([0, 30, 61, 130, 135], [10.0, 10.5, 10.25, 11.0, 10.75], [1.0, 2.0, 3.0, 4.0, 5.0])
    bars = bar_price_changes(trades)
    assert bars["volume"].to_list() == [3.0, 3.0, 9.0]
    assert bars["delta_price"].to_list() == [0.5, -0.25, 0.5]
    assert bar_sigma(trades) == pytest.approx(float(np.std([0.5, -0.25, 0.5], ddof=1)))


def test_vpin_cdf_is_the_share_of_history_at_or_below() -> None:
    history = pl.Series([None, None, 0.2, 0.4, 0.3, 0.1, 0.3], dtype=pl.Float64)
    assert vpin_cdf(history) == pytest.approx(4 / 5)
    assert vpin_cdf(history, 0.45) == 1.0
    assert vpin_cdf([0.2, 0.4], 0.1) == 0.0


# ------------------------------------------------------------------ invariants (hypothesis)

_trade = st.tuples(
    st.integers(0, 4 * 3600),
    st.floats(50, 150, allow_nan=False),
    st.floats(0.01, 500, allow_nan=False),
    st.sampled_from([1, -1, None]),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(_trade, min_size=1, max_size=300),
    buckets=st.integers(1, 40),
    window=st.integers(1, 6),
    all_flagged=st.booleans(),
)
def test_every_completed_bucket_holds_v_and_volume_is_conserved(
    rows: list[tuple[int, float, float, int | None]], buckets: int, window: int, all_flagged: bool
) -> None:
    seconds, prices, sizes, sides = (list(column) for column in zip(*rows, strict=True))
    if all_flagged:
        sides = [1 if side is None else side for side in sides]
    total = math.fsum(sizes)
    volume = total / buckets
    result = compute_vpin(build_trades(seconds, prices, sizes, sides), bucket_volume=volume, window=window)
    assert result.height == buckets
    held = result["buy_volume"].to_numpy() + result["sell_volume"].to_numpy()
    assert np.allclose(held, volume, rtol=1e-9, atol=0)
    assert (result["buy_volume"].to_numpy() >= -1e-9 * volume).all()
    assert math.fsum(held) == pytest.approx(total, rel=1e-9)
    if all(side is not None for side in sides):
        bought = math.fsum(size for size, side in zip(sizes, sides, strict=True) if side == 1)
        assert math.fsum(result["buy_volume"]) == pytest.approx(bought, rel=1e-9, abs=1e-9 * total)
    assert result["vpin"].null_count() == min(window - 1, buckets)
    vpin = result["vpin"].drop_nulls()
    assert ((vpin >= -1e-12) & (vpin <= 1 + 1e-12)).all()


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(_trade, min_size=1, max_size=300),
    bucket_volume=st.floats(1, 3_000),
    window=st.integers(1, 6),
    sigma=st.one_of(st.none(), st.floats(0.01, 5)),
)
def test_vectorised_matches_the_per_trade_loop(
    rows: list[tuple[int, float, float, int | None]], bucket_volume: float, window: int, sigma: float | None
) -> None:
    seconds, prices, sizes, sides = (list(column) for column in zip(*rows, strict=True))
    result = compute_vpin(
        build_trades(seconds, prices, sizes, sides), bucket_volume=bucket_volume, window=window, sigma=sigma
    )
    loop = compute_vpin_loop(
        [(EPOCH_US + s * 1_000_000, p, q, side) for s, p, q, side in rows],
        bucket_volume=bucket_volume,
        window=window,
        sigma=sigma,
    )
    assert result.height == len(loop)
    tolerance = 1e-9 * bucket_volume
    assert np.allclose(result["buy_volume"], [b.buy_volume for b in loop], rtol=0, atol=tolerance)
    assert np.allclose(result["sell_volume"], [b.sell_volume for b in loop], rtol=0, atol=tolerance)
    assert result["start_ts"].dt.epoch("us").to_list() == [b.start_us for b in loop]
    assert result["end_ts"].dt.epoch("us").to_list() == [b.end_us for b in loop]
    expected = [math.nan if b.vpin is None else b.vpin for b in loop]
    assert np.allclose(result["vpin"].fill_null(math.nan), expected, rtol=0, atol=1e-9, equal_nan=True)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda f: f.drop("size"), {}, "size"),
        (lambda f: f.with_columns(pl.col("ts").dt.epoch("s")), {}, "trades.ts"),
        (lambda f: f.with_columns(size=pl.lit(-1.0)), {}, "trades.size"),
        (lambda f: f.with_columns(price=pl.lit(float("nan"))), {}, "trades.price"),
        (lambda f: f.with_columns(side=pl.lit(2)), {}, "trades.side"),
        (lambda f: f.with_columns(side=pl.lit(1.5)), {}, "trades.side"),
        (lambda f: f.with_columns(side=pl.lit("buy")), {}, "trades.side"),
        (lambda f: f, {"bucket_volume": 0}, "bucket_volume"),
        (lambda f: f, {"bucket_volume": float("inf")}, "bucket_volume"),
        (lambda f: f, {"window": 0}, "window"),
        (lambda f: f, {"bar_seconds": 1.5}, "bar_seconds"),
        (lambda f: f, {"sigma": -0.1}, "sigma"),
        (lambda f: f, {"min_sigma_bars": 1}, "min_sigma_bars"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    make_trades: TradesFactory, change: Any, kwargs: dict[str, Any], message: str
) -> None:
    trades = change(make_trades([0, 1, 2], [100.0, 101.0, 102.0], [10.0, 10.0, 10.0]))
    arguments: dict[str, Any] = {"bucket_volume": 10.0} | kwargs
    with pytest.raises(ValueError, match=message):
        compute_vpin(trades, **arguments)


def test_not_a_dataframe_is_refused() -> None:
    with pytest.raises(ValueError, match="trades must be a polars DataFrame"):
        compute_vpin([1, 2, 3], bucket_volume=1.0)  # type: ignore[arg-type]
