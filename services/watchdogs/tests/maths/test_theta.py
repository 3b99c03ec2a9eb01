# ruff: noqa: RUF002  (maths notation is meant)
"""Black–Scholes theta: Hull's example, parity, a finite difference of the price, the fund sum."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mts1b_operations.watchdogs.maths.theta import bs_theta, fund_theta

HULL: dict[str, Any] = {"spot": 49.0, "strike": 50.0, "rate": 0.05, "t_years": 0.3846, "vol": 0.2}


def _price(
    spot: float, strike: float, rate: float, t_years: float, vol: float, kind: str, q: float = 0.0
) -> float:
    d1 = (math.log(spot / strike) + (rate - q + vol * vol / 2) * t_years) / (vol * math.sqrt(t_years))
    d2 = d1 - vol * math.sqrt(t_years)
    if kind == "call":
        return float(
            spot * math.exp(-q * t_years) * stats.norm.cdf(d1)
            - strike * math.exp(-rate * t_years) * stats.norm.cdf(d2)
        )
    return float(
        strike * math.exp(-rate * t_years) * stats.norm.cdf(-d2)
        - spot * math.exp(-q * t_years) * stats.norm.cdf(-d1)
    )


def test_hull_call_theta_per_year_and_per_day() -> None:
    per_year = bs_theta(**HULL, kind="call", per="year")
    assert per_year == pytest.approx(-4.3054, abs=5e-5)
    assert bs_theta(**HULL, kind="call") == pytest.approx(per_year / 365, rel=1e-15)
    assert bs_theta(**HULL, kind="call", per="calendar_day") == pytest.approx(-0.0118, abs=5e-5)
    assert bs_theta(**HULL, kind="call", per="trading_day") == pytest.approx(per_year / 252, rel=1e-15)


@pytest.mark.parametrize("q", [0.0, 0.03])
@pytest.mark.parametrize(
    ("spot", "strike", "t_years", "vol"), [(49, 50, 0.3846, 0.2), (120, 100, 2.0, 0.45), (80, 100, 0.05, 0.3)]
)
def test_theta_is_minus_the_price_derivative_in_maturity(
    spot: float, strike: float, t_years: float, vol: float, q: float
) -> None:
    h = 1e-5
    for kind in ("call", "put"):
        numeric = -(
            _price(spot, strike, 0.04, t_years + h, vol, kind, q)
            - _price(spot, strike, 0.04, t_years - h, vol, kind, q)
        ) / (2 * h)
        analytic = bs_theta(spot, strike, 0.04, t_years, vol, kind, "year", dividend_yield=q)
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_call_minus_put_theta_follows_parity() -> None:
    q, t = 0.02, HULL["t_years"]
    call = bs_theta(**HULL, kind="call", per="year", dividend_yield=q)
    put = bs_theta(**HULL, kind="put", per="year", dividend_yield=q)
    parity = q * 49.0 * math.exp(-q * t) - 0.05 * 50.0 * math.exp(-0.05 * t)
    assert call - put == pytest.approx(parity, rel=1e-12)


def test_expired_option_has_no_theta() -> None:
    assert bs_theta(49, 50, 0.05, 0.0, 0.2, "call") == 0.0


def test_fund_theta_sums_theta_times_quantity_times_multiplier() -> None:
    book = pl.DataFrame(
        {
            "kind": ["call", "put", "call"],
            "spot": [49.0, 100.0, 100.0],
            "strike": [50.0, 95.0, 110.0],
            "rate": [0.05, 0.03, 0.03],
            "t_years": [0.3846, 0.5, 0.0],
            "vol": [0.2, 0.3, 0.25],
            "quantity": [10.0, -4.0, 3.0],
            "multiplier": [100.0, 50.0, 100.0],
        }
    )
    expected = (
        bs_theta(49, 50, 0.05, 0.3846, 0.2, "call") * 10 * 100
        + bs_theta(100, 95, 0.03, 0.5, 0.3, "put") * -4 * 50
        + 0.0
    )
    assert fund_theta(book) == pytest.approx(expected, rel=1e-12)
    assert fund_theta(book, per="year") == pytest.approx(expected * 365, rel=1e-12)
    short_only = book.slice(1, 1)
    assert fund_theta(short_only) > 0  # short options earn the decay


def test_fund_theta_defaults_multiplier_100_and_empty_book_zero() -> None:
    one = pl.DataFrame(
        {
            "kind": ["call"],
            "spot": [49.0],
            "strike": [50.0],
            "rate": [0.05],
            "t_years": [0.3846],
            "vol": [0.2],
            "quantity": [1.0],
        }
    )
    assert fund_theta(one) == pytest.approx(bs_theta(**HULL, kind="call") * 100, rel=1e-12)
    assert fund_theta(one.clear()) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spot": 0.0}, "spot"),
        ({"strike": -1.0}, "strike"),
        ({"t_years": -0.1}, "t_years"),
        ({"vol": 0.0}, "vol"),
        ({"rate": float("nan")}, "rate"),
        ({"kind": "straddle"}, "kind"),
        ({"per": "week"}, "per"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {**HULL, "kind": "call"} | kwargs
    with pytest.raises(ValueError, match=message):
        bs_theta(**arguments)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop("vol"), "vol"),
        (lambda f: f.with_columns(kind=pl.lit("future")), "positions.kind"),
        (lambda f: f.with_columns(spot=pl.lit(-1.0)), "positions.spot"),
        (lambda f: f.with_columns(multiplier=pl.lit(0.0)), "positions.multiplier"),
        (lambda f: f.with_columns(quantity=pl.lit(None, dtype=pl.Float64)), "positions.quantity"),
        (lambda f: f.with_columns(t_years=pl.lit(-1.0)), "positions.t_years"),
    ],
)
def test_bad_positions_are_refused_naming_the_column(change: Any, message: str) -> None:
    book = pl.DataFrame(
        {
            "kind": ["call"],
            "spot": [49.0],
            "strike": [50.0],
            "rate": [0.05],
            "t_years": [0.3846],
            "vol": [0.2],
            "quantity": [1.0],
        }
    )
    with pytest.raises(ValueError, match=message):
        fund_theta(change(book))


def test_vectorised_fund_theta_matches_scalar_over_a_grid() -> None:
    rng = np.random.default_rng(5)
    n = 200
    book = pl.DataFrame(
        {
            "kind": rng.choice(["call", "put"], n).tolist(),
            "spot": rng.uniform(20, 200, n),
            "strike": rng.uniform(20, 200, n),
            "rate": rng.uniform(-0.01, 0.08, n),
            "t_years": rng.uniform(0.01, 3, n),
            "vol": rng.uniform(0.05, 1.0, n),
            "quantity": rng.integers(-20, 20, n).astype(float),
        }
    )
    scalar = sum(
        bs_theta(r["spot"], r["strike"], r["rate"], r["t_years"], r["vol"], r["kind"]) * r["quantity"] * 100
        for r in book.iter_rows(named=True)
    )
    assert fund_theta(book) == pytest.approx(scalar, rel=1e-10)
