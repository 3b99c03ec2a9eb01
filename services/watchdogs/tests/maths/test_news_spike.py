# ruff: noqa: RUF002, RUF003  (maths notation is meant)
"""News spikes: the exact Poisson 5σ threshold, robust z for large counts, time-of-day baselines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mts1b_operations.watchdogs.maths.news_spike import (
    baseline_rate_at,
    check_spike,
    poisson_tail,
    poisson_threshold,
    robust_z,
    time_of_day_baseline,
    time_of_day_slot,
)

FIVE_SIGMA_TAIL = stats.norm.sf(5.0)  # 2.8665e-7, one-sided


def test_poisson_threshold_at_rate_five_is_21() -> None:
    k = poisson_threshold(5.0)
    assert k == 21
    assert k > 20
    # P(X ≥ 21) = sf(20) is within the 5σ tail; P(X ≥ 20) = sf(19) is not.
    assert stats.poisson.sf(20, 5.0) == pytest.approx(8.109e-8, rel=1e-3)
    assert stats.poisson.sf(20, 5.0) <= FIVE_SIGMA_TAIL < stats.poisson.sf(19, 5.0)
    assert stats.poisson.sf(19, 5.0) == pytest.approx(3.452e-7, rel=1e-3)


@pytest.mark.parametrize("rate", [0.01, 0.3, 1.0, 5.0, 12.5, 40.0, 300.0, 5_000.0])
@pytest.mark.parametrize("sigmas", [3.0, 5.0])
def test_threshold_is_the_smallest_count_inside_the_tail(rate: float, sigmas: float) -> None:
    k = poisson_threshold(rate, sigmas)
    tail = stats.norm.sf(sigmas)
    assert stats.poisson.sf(k - 1, rate) <= tail
    assert stats.poisson.sf(k - 2, rate) > tail


def test_zero_rate_makes_any_story_a_spike() -> None:
    assert poisson_threshold(0.0) == 1


def test_poisson_tail_is_p_of_at_least_k() -> None:
    assert poisson_tail(0, 5.0) == 1.0
    assert poisson_tail(-3, 5.0) == 1.0
    assert poisson_tail(1, 5.0) == pytest.approx(1 - np.exp(-5.0))
    assert poisson_tail(21, 5.0) == pytest.approx(stats.poisson.sf(20, 5.0), rel=1e-12)


def test_robust_z_against_history() -> None:
    history = [100, 104, 96, 102, 98, 103, 97, 100]  # median 100; |x − 100| has median 2.5
    assert robust_z(120, history) == pytest.approx(0.6745 * 20 / 2.5)


def test_check_spike_uses_poisson_for_small_rates_and_robust_z_for_large() -> None:
    assert check_spike(20, 5.0) == check_spike(20, 5.0, history=[1, 2, 3])
    quiet, loud = check_spike(20, 5.0), check_spike(21, 5.0)
    assert (quiet.fired, quiet.method, quiet.threshold) == (False, "poisson", 21.0)
    assert (loud.fired, loud.value) == (True, 21.0)
    history = [100, 104, 96, 102, 98, 103, 97, 100]
    big = check_spike(120, 100.0, history=history)
    assert big.method == "robust_z"
    assert big.fired  # z = 5.396 > 5
    assert not check_spike(115, 100.0, history=history).fired  # z = 4.05
    assert check_spike(120, 100.0, history=history[:3]).method == "poisson"  # too little history


def _hourly_counts(days: int, rates: dict[int, int]) -> pl.DataFrame:
    start = datetime(2025, 1, 6, tzinfo=UTC)
    rows = [
        (start + timedelta(days=d, hours=h), rates.get(h, 1) + (d % 3) - 1)
        for d in range(days)
        for h in range(24)
    ]
    return pl.DataFrame(rows, schema={"ts": pl.Datetime("us", "UTC"), "count": pl.Int64}, orient="row")


def test_time_of_day_baseline_averages_each_slot() -> None:
    counts = _hourly_counts(9, {14: 30, 15: 12})
    baseline = time_of_day_baseline(counts)
    assert baseline["slot"].to_list() == list(range(24))
    # each slot sees rate−1, rate, rate+1 equally often: mean = median = rate; MAD = 1
    assert baseline.filter(pl.col("slot") == 14).row(0) == (14, 30.0, 30.0, 1.0, 9)
    assert baseline.filter(pl.col("slot") == 15)["rate"].item() == 12.0
    assert baseline.filter(pl.col("slot") == 3)["rate"].item() == 1.0
    at = datetime(2025, 2, 3, 14, 45, tzinfo=UTC)
    assert baseline_rate_at(baseline, at) == 30.0


def test_time_of_day_baseline_in_a_market_time_zone_and_wider_slots() -> None:
    counts = _hourly_counts(9, {14: 30, 15: 12})
    # 14:00 UTC in January is 09:00 in New York; 30-minute slots → slot 18 (09:00-09:30) only sees that hour.
    baseline = time_of_day_baseline(counts, slot_minutes=30, timezone="America/New_York")
    assert baseline.filter(pl.col("slot") == 18)["rate"].item() == 30.0
    assert baseline.filter(pl.col("slot") == 19).height == 0  # no counts start at :30
    two_hours = time_of_day_baseline(counts, slot_minutes=120, timezone="America/New_York")
    # 08:00-10:00 New York = 13:00 and 14:00 UTC (rates 1 and 30); 10:00-12:00 = 15:00 and 16:00 UTC.
    assert two_hours.filter(pl.col("slot") == 4)["rate"].item() == pytest.approx((1 + 30) / 2)
    assert two_hours.filter(pl.col("slot") == 5)["rate"].item() == pytest.approx((12 + 1) / 2)
    noon_ny = datetime(2025, 1, 7, 14, 10, tzinfo=UTC)
    assert time_of_day_slot(noon_ny, slot_minutes=30, timezone="America/New_York") == 18
    assert (
        baseline_rate_at(
            baseline, noon_ny + timedelta(minutes=30), slot_minutes=30, timezone="America/New_York"
        )
        is None
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: poisson_threshold(-1.0), "baseline_rate"),
        (lambda: poisson_threshold(5.0, sigmas=0), "sigmas"),
        (lambda: poisson_tail(2.5, 1.0), "k must be an integer"),  # type: ignore[arg-type]
        (lambda: check_spike(-1, 5.0), "count"),
        (lambda: time_of_day_baseline(pl.DataFrame({"ts": [1], "count": [1]})), "counts.ts"),
        (lambda: time_of_day_baseline(_hourly_counts(1, {}), slot_minutes=7), "slot_minutes"),
        (lambda: time_of_day_baseline(_hourly_counts(1, {}), timezone="Mars/Olympus"), "timezone"),
        (lambda: time_of_day_baseline(_hourly_counts(1, {}).drop("count")), "count"),
        (lambda: time_of_day_slot(datetime(2025, 1, 1)), "timezone-aware"),
    ],
)
def test_bad_input_is_refused_naming_it(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
