"""Strategy P&L prediction interval: a hand example and 99% coverage on Gaussian P&L."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mts1b_operations.watchdogs.maths.strategy_pnl import outside_interval, prediction_interval


def test_hand_computed_interval() -> None:
    # mean 3, s = √2.5, n = 5, t(0.995, 4) = 4.604094 (table value)
    lower, upper = prediction_interval([1, 2, 3, 4, 5])
    half = 4.604094 * math.sqrt(2.5) * math.sqrt(1 + 1 / 5)
    assert (lower, upper) == pytest.approx((3 - half, 3 + half), abs=1e-5)
    assert outside_interval([1, 2, 3, 4, 5], 3 + half + 0.01)
    assert not outside_interval([1, 2, 3, 4, 5], 3 + half - 0.01)


def test_coverage_is_99_percent_on_gaussian_pnl() -> None:
    rng = np.random.default_rng(20250106)
    trials, n = 10_000, 20
    samples = rng.normal(250.0, 1_000.0, (trials, n + 1))
    misses = sum(outside_interval(row[:n], row[n]) for row in samples)
    # The interval is exact for i.i.d. normal data: misses ~ Binomial(10,000, 0.01).
    low, high = stats.binom.ppf([0.0005, 0.9995], trials, 0.01)
    assert low <= misses <= high, misses


def test_other_alpha_and_flat_history() -> None:
    lower, upper = prediction_interval([10.0, 12.0, 14.0], alpha=0.05)
    half = stats.t.ppf(0.975, 2) * 2.0 * math.sqrt(1 + 1 / 3)
    assert (lower, upper) == pytest.approx((12 - half, 12 + half))
    assert prediction_interval([7.0, 7.0, 7.0]) == (7.0, 7.0)


@pytest.mark.parametrize(
    ("history", "alpha", "message"),
    [
        ([1.0], 0.01, "at least 2"),
        ([1.0, 2.0], 0.0, "alpha"),
        ([1.0, 2.0], 1.5, "alpha"),
        ([1.0, math.inf], 0.01, "finite"),
    ],
)
def test_bad_input_is_refused(history: list[float], alpha: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prediction_interval(history, alpha)
