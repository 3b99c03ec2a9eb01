# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""Prediction interval for a strategy's next P&L.

Method: the prediction interval for one future observation from a normal sample (Hahn & Meeker,
*Statistical Intervals*, 1991, ch. 4, intervals for a normal distribution): with the sample mean
μ̂ and standard deviation σ̂ (ddof = 1) of n past P&L values,

    μ̂ ± t(1 − α/2, n − 1) · σ̂ · √(1 + 1/n)

contains the next value with probability exactly 1 − α when P&L is i.i.d. normal (the √(1 + 1/n)
adds the estimation error of μ̂ to the new value's own variance; t accounts for estimating σ).
The default α = 0.01 gives t(0.995, n − 1). At least 2 past values are needed; a history with no
variation gives the degenerate interval (μ̂, μ̂).
"""

from __future__ import annotations

import math

from mts1b_operations.watchdogs.maths._inputs import ArrayLike, as_float_array, check_alpha, check_finite
from mts1b_operations.watchdogs.maths._scipy import t_ppf

__all__ = ["outside_interval", "prediction_interval"]


def prediction_interval(pnl_history: ArrayLike, alpha: float = 0.01) -> tuple[float, float]:
    """(lower, upper) = μ̂ ∓ t(1 − α/2, n − 1) · σ̂ · √(1 + 1/n) for the next P&L value."""
    alpha = check_alpha(alpha)
    values = as_float_array(pnl_history, "pnl_history", min_length=2)
    n = values.size
    mean = float(values.mean())
    half_width = t_ppf(1.0 - alpha / 2.0, n - 1) * float(values.std(ddof=1)) * math.sqrt(1.0 + 1.0 / n)
    return mean - half_width, mean + half_width


def outside_interval(pnl_history: ArrayLike, pnl: float, alpha: float = 0.01) -> bool:
    """True when ``pnl`` (not part of the history) falls outside :func:`prediction_interval`."""
    value = check_finite(pnl, "pnl")
    lower, upper = prediction_interval(pnl_history, alpha)
    return not lower <= value <= upper
