# ruff: noqa: RUF002, RUF003  (maths notation is meant)
"""Drift: Spearman daily IC against SciPy, rolling IC/IR, CUSUM and Page–Hinkley run lengths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mts1b_operations.watchdogs.maths.drift_monitor import (
    cusum,
    daily_ic,
    page_hinkley,
    rolling_ic_ir,
    standardise,
)


def _panel(
    rng: np.random.Generator, days: int, names: int, ic_by_day: list[float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows_s, rows_r = [], []
    for d in range(days):
        day = date(2025, 1, 1) + timedelta(days=d)
        signal = rng.normal(size=names)
        rho = ic_by_day[d]
        ret = rho * signal + np.sqrt(1 - rho * rho) * rng.normal(size=names)
        for i in range(names):
            rows_s.append((day, f"S{i:03d}", float(signal[i])))
            rows_r.append((day, f"S{i:03d}", float(ret[i])))
    signals = pl.DataFrame(rows_s, schema=["date", "symbol", "signal"], orient="row")
    returns = pl.DataFrame(rows_r, schema=["date", "symbol", "forward_return"], orient="row")
    return signals, returns


def test_daily_ic_is_spearman_per_date_with_ties() -> None:
    rng = np.random.default_rng(8)
    rows = []
    for d in range(5):
        for i in range(30):
            rows.append(
                (
                    datetime(2025, 3, 3 + d, 21, tzinfo=UTC),
                    f"S{i}",
                    float(rng.integers(0, 5)),
                    float(rng.normal()),
                )
            )
    # a date with only two names and a date whose signal is constant: both dropped
    rows += [
        (datetime(2025, 3, 10, 21, tzinfo=UTC), "A", 1.0, 0.1),
        (datetime(2025, 3, 10, 21, tzinfo=UTC), "B", 2.0, 0.2),
    ]
    rows += [(datetime(2025, 3, 11, 21, tzinfo=UTC), f"S{i}", 1.0, float(i)) for i in range(5)]
    frame = pl.DataFrame(rows, schema=["date", "symbol", "signal", "forward_return"], orient="row")
    result = daily_ic(
        frame.select("date", "symbol", "signal"),
        frame.select("date", "symbol", "forward_return").sample(fraction=1.0, shuffle=True, seed=1),
    )
    assert result["date"].to_list() == [date(2025, 3, 3 + d) for d in range(5)]
    assert result["names"].to_list() == [30] * 5
    for d, ic in enumerate(result["ic"]):
        day = frame.filter(pl.col("date").dt.date() == date(2025, 3, 3 + d))
        expected = stats.spearmanr(day["signal"], day["forward_return"]).statistic
        assert ic == pytest.approx(expected, rel=1e-12)


def test_daily_ic_joins_on_date_and_symbol_only() -> None:
    signals = pl.DataFrame(
        {"date": [date(2025, 1, 2)] * 4, "symbol": ["A", "B", "C", "D"], "signal": [1.0, 2.0, 3.0, 4.0]}
    )
    returns = pl.DataFrame(
        {
            "date": [date(2025, 1, 2)] * 4,
            "symbol": ["D", "C", "B", "E"],
            "forward_return": [4.0, 3.0, 2.0, 9.0],
        }
    )
    result = daily_ic(signals, returns)
    assert result.rows() == [(date(2025, 1, 2), pytest.approx(1.0), 3)]


def test_rolling_ic_ir_by_hand() -> None:
    ic = [0.1, 0.3, 0.2, -0.1, 0.0]
    frame = rolling_ic_ir(ic, window=3)
    assert frame["ic_mean"].to_list()[:2] == [None, None]
    windows = [ic[i - 2 : i + 1] for i in range(2, 5)]
    assert frame["ic_mean"].to_list()[2:] == pytest.approx([np.mean(w) for w in windows])
    assert frame["ic_std"].to_list()[2:] == pytest.approx([np.std(w, ddof=1) for w in windows])
    assert frame["ic_ir"].to_list()[2:] == pytest.approx([np.mean(w) / np.std(w, ddof=1) for w in windows])
    assert rolling_ic_ir([0.2, 0.2, 0.2], window=2)["ic_ir"].to_list() == [None, None, None]


def test_standardise_with_a_reference_or_given_moments() -> None:
    assert standardise([1.0, 3.0, 5.0], reference=2).tolist() == pytest.approx(
        [(1 - 2) / np.sqrt(2), (3 - 2) / np.sqrt(2), (5 - 2) / np.sqrt(2)]
    )
    assert standardise([1.0, 3.0], mean=1.0, std=2.0).tolist() == [0.0, 1.0]


def test_cusum_and_page_hinkley_by_hand() -> None:
    # S⁺ = 0, 0, 2.5, 5, 7.5: 5 is not above h = 5, 7.5 is.
    assert cusum([0, 0, 3, 3, 3]) == 4
    assert cusum([0, 0, -3, -3, -3]) == 4
    assert cusum([0, 0, 3, 3]) is None
    # running means 0,0,0,0,2; steps z − z̄ − δ = −.5,−.5,−.5,−.5,7.5; W − min W = 0,0,0,0,7.5
    assert page_hinkley([0, 0, 0, 0, 10]) == 4
    assert page_hinkley([0, 0, 0, 0, 5]) is None  # 4 − 0.5 = 3.5 ≤ 5
    assert page_hinkley([0, 0, 0, 0, -10]) == 4


def test_cusum_in_control_average_run_length_is_about_465() -> None:
    rng = np.random.default_rng(465)
    runs, length = 300, 3_000
    run_lengths = []
    for _ in range(runs):
        alarm = cusum(rng.normal(size=length))
        run_lengths.append(length if alarm is None else alarm + 1)
    # ARL₀ of the two-sided k = 0.5, h = 5 CUSUM is ≈ 465 (Montgomery); the mean of 300 nearly
    # geometric run lengths has a standard error of ≈ 27.
    assert 380 < np.mean(run_lengths) < 560


@pytest.mark.parametrize("detector", [cusum, page_hinkley])
def test_detectors_find_a_one_sigma_shift_and_stay_quiet_before_it(detector: object) -> None:
    rng = np.random.default_rng(2024)
    delays, early = [], 0
    for _ in range(300):
        z = rng.normal(size=300)
        z[100:] += 1.0
        alarm = detector(z)  # type: ignore[operator]
        if alarm is not None and alarm < 100:
            early += 1
        else:
            assert alarm is not None
            delays.append(alarm - 100)
    # P(false alarm within 100 in-control points) ≈ 1 − exp(−100/465) ≈ 0.19
    assert early / 300 < 0.3
    assert 4 <= np.median(delays) <= 15
    assert np.percentile(delays, 95) <= 40


def test_detectors_stay_quiet_on_most_stationary_series() -> None:
    rng = np.random.default_rng(99)
    series = [rng.normal(size=100) for _ in range(500)]
    for detector in (cusum, page_hinkley):
        rate = np.mean([detector(z) is not None for z in series])
        assert rate < 0.3, (detector.__name__, rate)


def test_ic_drift_pipeline_alarms_after_the_strategy_breaks() -> None:
    rng = np.random.default_rng(17)
    days, reference, change = 90, 40, 60
    signals, returns = _panel(rng, days, 100, [0.3] * change + [-0.1] * (days - change))
    ic = daily_ic(signals, returns)["ic"].to_numpy()
    assert ic.size == days
    z = standardise(ic, reference=reference)
    # monitor after the reference period (Phase II): quiet on days 40-59, alarm right after day 60
    for detector in (cusum, page_hinkley):
        alarm = detector(z[reference:])
        assert alarm is not None
        assert change <= reference + alarm <= change + 5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cusum([1.0, float("nan")]), "finite"),
        (lambda: cusum([1.0], h=0), "h must be"),
        (lambda: page_hinkley([1.0], lambda_=-1), "lambda_"),
        (lambda: standardise([1.0, 2.0]), "reference"),
        (lambda: standardise([1.0, 2.0], reference=5), "reference"),
        (lambda: standardise([1.0, 1.0], reference=2), "no variation"),
        (lambda: standardise([1.0], mean=0.0), "together"),
        (lambda: rolling_ic_ir([0.1, 0.2], window=1), "window"),
        (
            lambda: daily_ic(
                pl.DataFrame({"date": [1], "symbol": ["A"], "signal": [1.0]}),
                pl.DataFrame({"date": [1], "symbol": ["A"], "forward_return": [1.0]}),
            ),
            "signals.date",
        ),
        (
            lambda: daily_ic(
                pl.DataFrame({"date": [date(2025, 1, 1)] * 2, "symbol": ["A", "A"], "signal": [1.0, 2.0]}),
                pl.DataFrame({"date": [date(2025, 1, 1)], "symbol": ["A"], "forward_return": [1.0]}),
            ),
            "more than one row",
        ),
        (
            lambda: daily_ic(pl.DataFrame({"date": [date(2025, 1, 1)]}), pl.DataFrame()),
            "signals is missing column",
        ),
    ],
)
def test_bad_input_is_refused_naming_it(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
