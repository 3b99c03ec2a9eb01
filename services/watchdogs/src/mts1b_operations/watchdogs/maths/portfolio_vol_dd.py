# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""Realized volatility from OHLC bars, and drawdown from the running peak.

Each estimator gives a per-bar variance σ̂², annualised as σ̂·√periods_per_year (252 trading days
by default). With o = ln(O_t/C_{t−1}) (overnight), c = ln(C_t/O_t) (open to close),
h = ln(H_t/O_t), l = ln(L_t/O_t), and n the number of bars used:

- ``close_to_close``: sample variance (ddof = 1) of r_t = ln(C_t/C_{t−1}); needs ≥ 3 bars.
- ``parkinson`` — Parkinson (1980), J. Business 53(1), 61–65:
  σ̂² = 1/(4 ln 2) · (1/n) Σ [ln(H_t/L_t)]².
- ``garman_klass`` — Garman & Klass (1980), J. Business 53(1), 67–78, the practical form:
  σ̂² = (1/n) Σ { ½[ln(H_t/L_t)]² − (2 ln 2 − 1)[ln(C_t/O_t)]² }.
- ``yang_zhang`` — Yang & Zhang (2000), J. Business 73(3), 477–491:
  σ̂² = σ̂²_o + k σ̂²_c + (1 − k) σ̂²_RS, with σ̂²_o and σ̂²_c the sample variances (ddof = 1) of o
  and c, σ̂²_RS the Rogers–Satchell (1991) mean of h(h − c) + l(l − c), and
  k = 0.34 / (1.34 + (n + 1)/(n − 1)). The first bar has no previous close, so n = bars − 1 (≥ 2).

Parkinson and Garman–Klass see only the intraday range (no overnight gap, no drift);
close-to-close and Yang–Zhang include the gap, Yang–Zhang being drift-independent. Bars must be
in time order with 0 < low ≤ open, close ≤ high.

Drawdown (e.g. Magdon-Ismail & Atiya 2004, "Maximum Drawdown", Risk 17(10)): DD_t = NAV_t /
max_{s≤t} NAV_s − 1, a fraction ≤ 0; :func:`max_drawdown` is min_t DD_t (NAV [100, 120, 90, 130,
65] → 65/130 − 1 = −0.5) and :func:`current_drawdown` the last DD_t.
"""

from __future__ import annotations

import math
from typing import Final, Literal, get_args

import numpy as np
import polars as pl

from mts1b_operations.watchdogs.maths._inputs import (
    ArrayLike,
    FloatArray,
    as_float_array,
    check_columns,
    check_positive,
)

__all__ = [
    "VolEstimator",
    "current_drawdown",
    "drawdown_series",
    "max_drawdown",
    "realized_vol",
    "yang_zhang_k",
]

VolEstimator = Literal["close_to_close", "parkinson", "garman_klass", "yang_zhang"]

_MIN_BARS: Final[dict[str, int]] = {"close_to_close": 3, "parkinson": 1, "garman_klass": 1, "yang_zhang": 3}


def realized_vol(bars: pl.DataFrame, estimator: VolEstimator, periods_per_year: float = 252) -> float:
    """Annualised realized volatility of ``bars`` (columns open, high, low, close) by ``estimator``."""
    if estimator not in _MIN_BARS:
        raise ValueError(f"estimator must be one of {', '.join(get_args(VolEstimator))}, got {estimator!r}")
    periods = check_positive(periods_per_year, "periods_per_year")
    needed = ("close",) if estimator == "close_to_close" else ("open", "high", "low", "close")
    check_columns(bars, "bars", needed)
    if bars.height < _MIN_BARS[estimator]:
        raise ValueError(
            f"bars needs at least {_MIN_BARS[estimator]} rows for {estimator}, got {bars.height}"
        )
    prices = {name: as_float_array(bars[name], f"bars.{name}") for name in needed}
    for name, values in prices.items():
        if (values <= 0).any():
            raise ValueError(f"bars.{name} must be > 0 in every row")
    if estimator != "close_to_close":
        high, low = prices["high"], prices["low"]
        for name in ("open", "close"):
            if ((prices[name] > high) | (prices[name] < low)).any():
                raise ValueError(f"bars.{name} must lie within [low, high] in every row")
    variance = _VARIANCE[estimator](prices)
    return math.sqrt(max(variance, 0.0) * periods)


def yang_zhang_k(n: int) -> float:
    """Yang–Zhang's weight k = 0.34 / (1.34 + (n + 1)/(n − 1)) for n periods (n ≥ 2)."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    return 0.34 / (1.34 + (n + 1) / (n - 1))


def drawdown_series(nav: ArrayLike) -> FloatArray:
    """DD_t = NAV_t / running peak − 1 for every t (≤ 0)."""
    values = as_float_array(nav, "nav", min_length=1)
    if (values < 0).any():
        raise ValueError("nav must be >= 0 everywhere")
    if values[0] <= 0:
        raise ValueError(f"nav must start above 0 (the first peak), got {values[0]}")
    result: FloatArray = values / np.maximum.accumulate(values) - 1.0
    return result


def max_drawdown(nav: ArrayLike) -> float:
    """The deepest drawdown from a running peak, as a negative fraction (0 when NAV never falls)."""
    return float(drawdown_series(nav).min())


def current_drawdown(nav: ArrayLike) -> float:
    """The latest NAV's drawdown from the running peak, as a fraction ≤ 0."""
    return float(drawdown_series(nav)[-1])


def _close_to_close(prices: dict[str, FloatArray]) -> float:
    return float(np.var(np.diff(np.log(prices["close"])), ddof=1))


def _parkinson(prices: dict[str, FloatArray]) -> float:
    log_range = np.log(prices["high"] / prices["low"])
    return float(np.mean(log_range**2) / (4.0 * math.log(2.0)))


def _garman_klass(prices: dict[str, FloatArray]) -> float:
    log_range = np.log(prices["high"] / prices["low"])
    body = np.log(prices["close"] / prices["open"])
    return float(np.mean(0.5 * log_range**2 - (2.0 * math.log(2.0) - 1.0) * body**2))


def _yang_zhang(prices: dict[str, FloatArray]) -> float:
    open_, high, low, close = (prices[name][1:] for name in ("open", "high", "low", "close"))
    overnight = np.log(open_ / prices["close"][:-1])
    body = np.log(close / open_)
    up, down = np.log(high / open_), np.log(low / open_)
    rogers_satchell = float(np.mean(up * (up - body) + down * (down - body)))
    k = yang_zhang_k(body.size)
    return float(np.var(overnight, ddof=1) + k * np.var(body, ddof=1) + (1.0 - k) * rogers_satchell)


_VARIANCE: Final = {
    "close_to_close": _close_to_close,
    "parkinson": _parkinson,
    "garman_klass": _garman_klass,
    "yang_zhang": _yang_zhang,
}
