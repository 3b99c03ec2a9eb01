"""Typed doors to the few SciPy functions the maths uses (SciPy ships no type information)."""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy import special, stats  # type: ignore[import-untyped]

from mts1b_operations.watchdogs.maths._inputs import FloatArray

__all__ = ["ndtr", "norm_pdf", "norm_sf", "poisson_isf", "poisson_sf", "t_ppf"]


def ndtr(x: FloatArray) -> FloatArray:
    """Standard normal CDF Φ, element-wise (±inf map to 1 and 0)."""
    return cast(FloatArray, np.asarray(special.ndtr(x), dtype=np.float64))


def norm_pdf(x: FloatArray) -> FloatArray:
    """Standard normal density φ, element-wise."""
    return cast(FloatArray, np.asarray(stats.norm.pdf(x), dtype=np.float64))


def norm_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z, accurate far into the tail."""
    return float(stats.norm.sf(x))


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(q, df))


def poisson_sf(k: float, mu: float) -> float:
    """P(X > k) for X ~ Poisson(mu)."""
    return float(stats.poisson.sf(k, mu))


def poisson_isf(q: float, mu: float) -> float:
    """Smallest integer k with P(X > k) <= q for X ~ Poisson(mu)."""
    return float(stats.poisson.isf(q, mu))
