"""Predictive health: a 99% interval is breached ≈ 1% of the time on a random-walk NAV."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mts1b_operations.watchdogs.maths.predictive_health import breach, forecast_interval, log_returns


def test_breach_rate_on_a_random_walk_nav_is_about_alpha() -> None:
    rng = np.random.default_rng(20250106)
    window, forecasts = 250, 1_000
    nav = 1e8 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, window + forecasts + 1)))
    returns = log_returns(nav)
    breaches = sum(
        breach(returns[i - window : i], returns[i], alpha=0.01) for i in range(window, window + forecasts)
    )
    # 1,000 one-step forecasts, each breached with probability 0.01: Binomial(1000, 0.01).
    low, high = stats.binom.ppf([0.0005, 0.9995], forecasts, 0.01)
    assert low <= breaches <= high, breaches


def test_interval_is_centred_on_the_forecast_with_a_normal_width() -> None:
    rng = np.random.default_rng(4)
    returns = rng.normal(0.001, 0.02, 500)
    lower, upper = forecast_interval(returns, alpha=0.01)
    z = stats.norm.ppf(0.995)
    assert (upper - lower) / 2 == pytest.approx(z * np.std(returns, ddof=1), rel=0.05)
    assert (upper + lower) / 2 == pytest.approx(np.mean(returns), abs=0.003)
    lower95, upper95 = forecast_interval(returns, alpha=0.05)
    assert lower < lower95 < upper95 < upper
    assert (upper95 - lower95) / (upper - lower) == pytest.approx(stats.norm.ppf(0.975) / z, rel=1e-6)


def test_state_space_mle_agrees_with_yule_walker_for_ar1() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.01, 300)
    fast = forecast_interval(returns, method="auto")
    exact = forecast_interval(returns, method="statespace")
    assert fast == pytest.approx(exact, rel=0.02, abs=2e-4)
    moving_average = forecast_interval(returns, order=(0, 0, 1))  # auto → state-space MLE
    assert moving_average[0] < 0 < moving_average[1]


def test_window_uses_the_most_recent_returns() -> None:
    rng = np.random.default_rng(6)
    calm, wild = rng.normal(0, 0.001, 300), rng.normal(0, 0.05, 100)
    returns = np.concatenate((calm, wild))
    lower, upper = forecast_interval(returns, window=100)
    assert forecast_interval(wild) == pytest.approx((lower, upper))
    assert breach(returns[:300], 0.02) is True
    assert breach(returns, 0.02, window=100) is False


def test_flat_history_and_log_returns() -> None:
    assert forecast_interval([0.001] * 40) == (0.001, 0.001)
    assert log_returns([100.0, 110.0, 99.0]).tolist() == pytest.approx([math.log(1.1), math.log(0.9)])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: forecast_interval(np.zeros(10) + np.arange(10)), "at least 30"),
        (lambda: forecast_interval(np.arange(40.0), alpha=1.0), "alpha"),
        (lambda: forecast_interval(np.arange(40.0), order=(1, 0)), "order"),  # type: ignore[arg-type]
        (lambda: forecast_interval(np.arange(40.0), method="magic"), "method"),  # type: ignore[arg-type]
        (lambda: forecast_interval(np.arange(40.0), window=5), "window"),
        (lambda: forecast_interval([float("nan")] * 40), "finite"),
        (lambda: breach(np.arange(40.0), float("inf")), "observed"),
        (lambda: log_returns([100.0, 0.0]), "nav"),
    ],
)
def test_bad_input_is_refused_naming_it(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
