# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""One-step prediction interval of a fund's log NAV return, and the breach test.

Method: an ARIMA(p, d, q) model (Box, Jenkins, Reinsel & Ljung, *Time Series Analysis*, 5th ed.,
ch. 5, forecast error variance; Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*,
3rd ed., §9.8 "Forecasting" for the interval) of the log returns r_t = ln(NAV_t / NAV_{t−1}),
fitted with statsmodels' ``ARIMA`` over the returns given (the caller's rolling window, or the
last ``window`` of them). The one-step forecast r̂_{T+1} and its standard error give the
two-sided 1 − α interval r̂ ± z_{1−α/2}·se (statsmodels ``get_forecast(1).conf_int(alpha=…)``,
with ``alpha`` passed explicitly; 0.01 → a 99% interval). The next NAV breaches when its log
return falls outside the interval, which for a well-specified model happens with probability α.

Conventions: the default model is AR(1) with a constant (``order=(1, 0, 0)``, ``trend="c"``).
``method="auto"`` fits a pure AR model (q = 0, d = 0, trend "n" or "c") by Yule–Walker — with
the constant estimated by the sample mean and the AR part fitted to the demeaned returns, as the
classical estimator does (Brockwell & Davis, *Introduction to Time Series and Forecasting*,
§5.1.1) — about 10× faster than the exact state-space MLE and consistent for AR models; any
other model uses the state-space MLE. Parameter covariances are not computed (not needed). The
interval treats the fitted parameters as known (the usual plug-in interval), so coverage is
1 − α only asymptotically. A window with no variation at all gives the degenerate interval
(r, r). Fitting needs at least ``min_observations`` (30) returns.
"""

from __future__ import annotations

import warnings
from typing import Final, Literal

import numpy as np
from statsmodels.tools.sm_exceptions import ConvergenceWarning, ValueWarning
from statsmodels.tsa.arima.model import ARIMA

from mts1b_operations.watchdogs.maths._inputs import (
    ArrayLike,
    FloatArray,
    as_float_array,
    check_alpha,
    check_finite,
    check_positive_int,
)

__all__ = ["FitMethod", "breach", "forecast_interval", "log_returns"]

FitMethod = Literal["auto", "statespace", "yule_walker", "burg", "innovations_mle"]

_MIN_OBSERVATIONS: Final = 30


def log_returns(nav: ArrayLike) -> FloatArray:
    """r_t = ln(NAV_t / NAV_{t−1}) of a NAV series (every NAV > 0)."""
    values = as_float_array(nav, "nav", min_length=2)
    if (values <= 0).any():
        raise ValueError("nav must be > 0 everywhere to take log returns")
    result: FloatArray = np.diff(np.log(values))
    return result


def forecast_interval(
    log_nav_returns: ArrayLike,
    alpha: float = 0.01,
    *,
    order: tuple[int, int, int] = (1, 0, 0),
    trend: Literal["n", "c", "t", "ct"] = "c",
    method: FitMethod = "auto",
    window: int | None = None,
    min_observations: int = _MIN_OBSERVATIONS,
) -> tuple[float, float]:
    """The (lower, upper) 1 − ``alpha`` interval for the next log NAV return."""
    alpha = check_alpha(alpha)
    min_observations = check_positive_int(min_observations, "min_observations", minimum=3)
    returns = as_float_array(log_nav_returns, "log_nav_returns")
    if window is not None:
        returns = returns[-check_positive_int(window, "window", minimum=min_observations) :]
    if returns.size < min_observations:
        raise ValueError(f"log_nav_returns needs at least {min_observations} values, got {returns.size}")
    if len(order) != 3 or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in order):
        raise ValueError(f"order must be three non-negative integers (p, d, q), got {order!r}")
    if method not in ("auto", "statespace", "yule_walker", "burg", "innovations_mle"):
        raise ValueError(
            f"method must be auto, statespace, yule_walker, burg or innovations_mle, got {method!r}"
        )
    if np.ptp(returns) == 0:
        return float(returns[-1]), float(returns[-1])
    p, d, q = order
    if method == "auto":
        method = "yule_walker" if p > 0 and d == 0 and q == 0 and trend in ("n", "c") else "statespace"
    centre, fit_trend = 0.0, trend
    if method in ("yule_walker", "burg") and trend == "c":
        centre, fit_trend = float(returns.mean()), "n"  # the classical estimators' constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", ValueWarning)
        warnings.simplefilter("ignore", UserWarning)
        fitted = ARIMA(returns - centre, order=order, trend=fit_trend).fit(method=method, cov_type="none")
        interval = fitted.get_forecast(1).conf_int(alpha=alpha)
    bounds = np.asarray(interval, dtype=np.float64).reshape(-1) + centre
    lower, upper = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(lower) and np.isfinite(upper)):
        raise ValueError("log_nav_returns: the ARIMA fit gave no finite forecast interval")
    return lower, upper


def breach(
    log_nav_returns: ArrayLike,
    observed: float,
    alpha: float = 0.01,
    *,
    order: tuple[int, int, int] = (1, 0, 0),
    trend: Literal["n", "c", "t", "ct"] = "c",
    method: FitMethod = "auto",
    window: int | None = None,
) -> bool:
    """True when ``observed`` (the newest log return, not in the history) is outside the interval."""
    value = check_finite(observed, "observed")
    lower, upper = forecast_interval(
        log_nav_returns, alpha, order=order, trend=trend, method=method, window=window
    )
    return not lower <= value <= upper
