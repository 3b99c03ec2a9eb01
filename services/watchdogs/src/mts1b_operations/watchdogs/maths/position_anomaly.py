# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""Modified z-scores for unusual position deltas.

Method: Iglewicz & Hoaglin (1993), *How to Detect and Handle Outliers* (ASQC Basic References in
Quality Control 16): M_i = 0.6745 (x_i − x̃) / MAD with x̃ the median and
MAD = median |x_i − x̃|; |M_i| > 3.5 flags a potential outlier. 0.6745 = Φ⁻¹(0.75) makes
MAD/0.6745 a consistent estimate of σ for normal data.

Fallback when MAD = 0 (more than half the values equal the median — common for position deltas,
which are mostly zero): the mean absolute deviation around the median, MeanAD = mean |x_i − x̃|,
scaled by √(π/2) = 1.253314 (the normal-consistency factor of MeanAD), i.e.
M_i = (x_i − x̃) / (1.253314 · MeanAD) (the form IBM SPSS Modeler / Cognos use). When MeanAD is 0
too, every value equals the median: M_i = 0 for x_i = x̃, and ±inf for a value that differs
(only possible in :func:`modified_zscore_against`, scoring new values against a constant history).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from mts1b_operations.watchdogs.maths._inputs import ArrayLike, FloatArray, as_float_array, check_positive

__all__ = [
    "MAD_SCALE",
    "MEAN_AD_SCALE",
    "OUTLIER_THRESHOLD",
    "anomalies",
    "modified_zscore",
    "modified_zscore_against",
]

MAD_SCALE: Final = 0.6745
MEAN_AD_SCALE: Final = 1.253314
OUTLIER_THRESHOLD: Final = 3.5


def modified_zscore(values: ArrayLike) -> FloatArray:
    """M_i = 0.6745 (x_i − median) / MAD for every value, with the MAD = 0 fallback above."""
    array = as_float_array(values, "values", min_length=1)
    return _scores(array, array)


def modified_zscore_against(history: ArrayLike, values: ArrayLike) -> FloatArray:
    """Score ``values`` with the median and MAD of ``history`` (a new delta against the past)."""
    reference = as_float_array(history, "history", min_length=1)
    return _scores(reference, as_float_array(values, "values"))


def anomalies(values: ArrayLike, threshold: float = OUTLIER_THRESHOLD) -> np.ndarray:
    """Boolean mask of |M_i| > ``threshold`` (3.5 per Iglewicz & Hoaglin)."""
    limit = check_positive(threshold, "threshold")
    return np.asarray(np.abs(modified_zscore(values)) > limit)


def _scores(reference: FloatArray, values: FloatArray) -> FloatArray:
    median = float(np.median(reference))
    deviation = values - median
    mad = float(np.median(np.abs(reference - median)))
    if mad > 0:
        return MAD_SCALE * deviation / mad
    mean_ad = float(np.mean(np.abs(reference - median)))
    if mean_ad > 0:
        return deviation / (MEAN_AD_SCALE * mean_ad)
    result: FloatArray = np.where(deviation == 0, 0.0, np.copysign(math.inf, deviation))
    return result
