# ruff: noqa: RUF003  (maths notation is meant)
"""Modified z-scores: Iglewicz & Hoaglin's example by hand, and the MAD = 0 fallbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mts1b_operations.watchdogs.maths.position_anomaly import (
    anomalies,
    modified_zscore,
    modified_zscore_against,
)


def test_modified_z_of_the_reference_values() -> None:
    # median 3; |x − 3| = [2, 1, 0, 1, 97] whose median (the MAD) is 1; so M = 0.6745 (x − 3).
    values = [1, 2, 3, 4, 100]
    expected = [0.6745 * (x - 3) / 1 for x in values]
    assert expected == pytest.approx([-1.349, -0.6745, 0.0, 0.6745, 65.4265])
    assert modified_zscore(values).tolist() == pytest.approx(expected, rel=1e-15)
    assert anomalies(values).tolist() == [False, False, False, False, True]


def test_mad_zero_falls_back_to_the_scaled_mean_absolute_deviation() -> None:
    # median 5 and MAD 0 (four of five equal 5); MeanAD = (0+0+0+0+4)/5 = 0.8.
    values = [5, 5, 5, 5, 9]
    expected = [(x - 5) / (1.253314 * 0.8) for x in values]
    assert modified_zscore(values).tolist() == pytest.approx(expected, rel=1e-15)
    assert modified_zscore(values)[-1] == pytest.approx(3.98942, abs=1e-5)


def test_all_equal_values_score_zero_and_a_departure_from_a_constant_history_is_infinite() -> None:
    assert modified_zscore([2.0, 2.0, 2.0]).tolist() == [0.0, 0.0, 0.0]
    assert modified_zscore_against([5, 5, 5], [5, 6, 4]).tolist() == [0.0, math.inf, -math.inf]


def test_scoring_against_a_history_uses_the_history_only() -> None:
    history = np.array([10.0, 12.0, 11.0, 13.0, 9.0])  # median 11, MAD 1
    assert modified_zscore_against(history, [11.0, 20.0]).tolist() == pytest.approx([0.0, 0.6745 * 9])


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "values needs at least 1"), ([1.0, float("nan")], "finite"), ([[1.0, 2.0]], "one-dimensional")],
)
def test_bad_values_are_refused(values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        modified_zscore(values)


def test_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        anomalies([1.0, 2.0], threshold=0)
