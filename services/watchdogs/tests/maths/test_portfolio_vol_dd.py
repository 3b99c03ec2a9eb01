# ruff: noqa: RUF002, RUF003  (maths notation is meant)
"""Realized-vol estimators recover a known σ from simulated GBM OHLC; drawdown known answers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest

from mts1b_operations.watchdogs.maths.portfolio_vol_dd import (
    current_drawdown,
    drawdown_series,
    max_drawdown,
    realized_vol,
    yang_zhang_k,
)

ESTIMATORS: tuple[Any, ...] = ("close_to_close", "parkinson", "garman_klass", "yang_zhang")


def _gbm_bars(sigma: float, *, days: int, steps: int, overnight_share: float, seed: int) -> pl.DataFrame:
    """Daily OHLC of a driftless-in-log GBM sampled ``steps`` times a day.

    A share ``overnight_share`` of each day's variance σ²/252 happens as a gap between the previous
    close and the open; the rest during the session.
    """
    rng = np.random.default_rng(seed)
    daily = sigma**2 / 252
    gaps = rng.normal(0.0, math.sqrt(overnight_share * daily), days)
    moves = rng.normal(0.0, math.sqrt((1 - overnight_share) * daily / steps), (days, steps))
    close_prev = np.log(100.0) + np.concatenate(([0.0], np.cumsum(gaps + moves.sum(axis=1))[:-1]))
    log_open = close_prev + gaps
    path = log_open[:, None] + np.cumsum(moves, axis=1)
    return pl.DataFrame(
        {
            "open": np.exp(log_open),
            "high": np.exp(np.maximum(path.max(axis=1), log_open)),
            "low": np.exp(np.minimum(path.min(axis=1), log_open)),
            "close": np.exp(path[:, -1]),
        }
    )


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_estimator_recovers_sigma_without_overnight_gaps(estimator: Any) -> None:
    # 2,500 days: close-to-close has a standard error of σ/√(2n) ≈ 1.4%; the range estimators are
    # more efficient but see a discretely sampled range, biased low by roughly 0.58/√steps ≈ 2%.
    bars = _gbm_bars(0.2, days=2_500, steps=1_000, overnight_share=0.0, seed=1)
    assert realized_vol(bars, estimator) == pytest.approx(0.2, rel=0.05)


def test_overnight_gaps_are_seen_by_close_to_close_and_yang_zhang_only() -> None:
    bars = _gbm_bars(0.3, days=2_500, steps=1_000, overnight_share=0.3, seed=2)
    for estimator in ESTIMATORS[::3]:
        assert realized_vol(bars, estimator) == pytest.approx(0.3, rel=0.05)
    intraday = 0.3 * math.sqrt(0.7)
    for estimator in ESTIMATORS[1:3]:
        assert realized_vol(bars, estimator) == pytest.approx(intraday, rel=0.05)


def test_annualisation_scales_with_the_root_of_periods() -> None:
    bars = _gbm_bars(0.2, days=50, steps=50, overnight_share=0.1, seed=3)
    for estimator in ESTIMATORS:
        assert realized_vol(bars, estimator, periods_per_year=1) * math.sqrt(252) == pytest.approx(
            realized_vol(bars, estimator), rel=1e-12
        )


def test_hand_computed_single_bar_parkinson_and_garman_klass() -> None:
    bar = pl.DataFrame({"open": [100.0], "high": [110.0], "low": [100.0], "close": [105.0]})
    assert realized_vol(bar, "parkinson", periods_per_year=1) == pytest.approx(
        math.sqrt(math.log(1.1) ** 2 / (4 * math.log(2))), rel=1e-14
    )
    gk = 0.5 * math.log(1.1) ** 2 - (2 * math.log(2) - 1) * math.log(1.05) ** 2
    assert realized_vol(bar, "garman_klass", periods_per_year=1) == pytest.approx(math.sqrt(gk), rel=1e-14)


def test_yang_zhang_k() -> None:
    assert yang_zhang_k(2) == pytest.approx(0.34 / (1.34 + 3.0))
    assert yang_zhang_k(21) == pytest.approx(0.34 / (1.34 + 22 / 20))
    assert yang_zhang_k(10**9) == pytest.approx(0.34 / 2.34)


def test_yang_zhang_hand_computed_on_three_bars() -> None:
    bars = pl.DataFrame(
        {
            "open": [10.0, 10.2, 9.9],
            "high": [10.5, 10.6, 10.1],
            "low": [9.8, 10.0, 9.7],
            "close": [10.1, 10.0, 9.8],
        }
    )
    o = np.log([10.2 / 10.1, 9.9 / 10.0])
    c = np.log([10.0 / 10.2, 9.8 / 9.9])
    h = np.log([10.6 / 10.2, 10.1 / 9.9])
    lo = np.log([10.0 / 10.2, 9.7 / 9.9])
    rs = np.mean(h * (h - c) + lo * (lo - c))
    k = 0.34 / (1.34 + 3 / 1)
    expected = math.sqrt(np.var(o, ddof=1) + k * np.var(c, ddof=1) + (1 - k) * rs)
    assert realized_vol(bars, "yang_zhang", periods_per_year=1) == pytest.approx(expected, rel=1e-12)


def test_max_drawdown_of_the_reference_nav() -> None:
    nav = [100, 120, 90, 130, 65]
    assert max_drawdown(nav) == pytest.approx(-0.5)
    assert drawdown_series(nav).tolist() == pytest.approx([0.0, 0.0, -0.25, 0.0, -0.5])
    assert current_drawdown(nav) == pytest.approx(-0.5)
    assert current_drawdown([100, 120, 90]) == pytest.approx(-0.25)
    assert max_drawdown(pl.Series([100.0, 110.0, 121.0])) == 0.0


@pytest.mark.parametrize(
    ("bars", "estimator", "message"),
    [
        (pl.DataFrame({"close": [1.0, 2.0, 3.0]}), "parkinson", "open"),
        (pl.DataFrame({"close": [1.0, 2.0]}), "close_to_close", "at least 3"),
        (
            pl.DataFrame({"open": [1.0], "high": [0.9], "low": [1.0], "close": [1.0]}),
            "garman_klass",
            "bars.open",
        ),
        (pl.DataFrame({"open": [1.0], "high": [2.0], "low": [0.0], "close": [1.0]}), "parkinson", "bars.low"),
        (pl.DataFrame({"close": [1.0, 2.0, 3.0]}), "ewma", "estimator"),
    ],
)
def test_bad_bars_are_refused_naming_the_problem(bars: pl.DataFrame, estimator: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        realized_vol(bars, estimator)


@pytest.mark.parametrize(
    ("nav", "message"),
    [([], "at least 1"), ([0, 10], "start above 0"), ([10, -1], ">= 0"), ([1, float("nan")], "finite")],
)
def test_bad_nav_is_refused(nav: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        max_drawdown(nav)
