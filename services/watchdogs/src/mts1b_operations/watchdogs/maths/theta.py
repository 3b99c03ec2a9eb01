# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, × are meant)
"""Black–Scholes theta of European options, and a fund's net theta.

Method: Black & Scholes (1973) with a continuous dividend yield q (Merton 1973), theta = ∂V/∂t
as in Hull, *Options, Futures, and Other Derivatives*, chapter "The Greek Letters", section on
theta (and its table of Greeks with a dividend yield q):

    d1 = [ln(S/K) + (r − q + σ²/2)T] / (σ√T),  d2 = d1 − σ√T
    Θ_call = −S e^{−qT} φ(d1) σ / (2√T) + q S e^{−qT} N(d1) − r K e^{−rT} N(d2)
    Θ_put  = −S e^{−qT} φ(d1) σ / (2√T) − q S e^{−qT} N(−d1) + r K e^{−rT} N(−d2)

Θ from the formula is per year (T in years). Conventions for ``per``:

- ``"year"``: as above;
- ``"calendar_day"`` (the default, what the theta watchdog compares with its limit):
  Θ_year / 365 — the value lost per calendar day that passes, weekends included;
- ``"trading_day"``: Θ_year / 252 (Hull's "per trading day" figure).

Hull's theta example (S = 49, K = 50, r = 0.05, σ = 0.2, T = 0.3846, no dividend) gives a call theta of
−4.31 per year, −4.31/365 = −0.0118 per calendar day. At expiry (T = 0) there is no time value
left to decay and theta is 0 by convention here.

:func:`fund_theta` is Σ Θ_i × quantity_i × multiplier_i over a fund's option positions, per
calendar day by default, in the currency of the spot prices (negative: the book loses value as
time passes; a short option position has positive theta).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import numpy as np
import polars as pl

from mts1b_operations.watchdogs.maths._inputs import (
    FloatArray,
    check_columns,
    check_finite,
    check_positive,
)
from mts1b_operations.watchdogs.maths._scipy import ndtr, norm_pdf

__all__ = [
    "CALENDAR_DAYS_PER_YEAR",
    "TRADING_DAYS_PER_YEAR",
    "OptionKind",
    "ThetaPer",
    "bs_theta",
    "bs_theta_array",
    "fund_theta",
]

OptionKind = Literal["call", "put"]
ThetaPer = Literal["calendar_day", "year", "trading_day"]

CALENDAR_DAYS_PER_YEAR: Final = 365.0
TRADING_DAYS_PER_YEAR: Final = 252.0

_DIVISORS: Final[dict[str, float]] = {
    "year": 1.0,
    "calendar_day": CALENDAR_DAYS_PER_YEAR,
    "trading_day": TRADING_DAYS_PER_YEAR,
}
_POSITION_COLUMNS: Final = ("kind", "spot", "strike", "rate", "t_years", "vol", "quantity")


def bs_theta(
    spot: float,
    strike: float,
    rate: float,
    t_years: float,
    vol: float,
    kind: OptionKind,
    per: ThetaPer = "calendar_day",
    *,
    dividend_yield: float = 0.0,
) -> float:
    """Black–Scholes theta of one option (module docstring: formula and the ``per`` conventions)."""
    spot = check_positive(spot, "spot")
    strike = check_positive(strike, "strike")
    rate = check_finite(rate, "rate")
    t_years = check_positive(t_years, "t_years", allow_zero=True)
    vol = check_positive(vol, "vol")
    dividend_yield = check_finite(dividend_yield, "dividend_yield")
    if kind not in ("call", "put"):
        raise ValueError(f"kind must be 'call' or 'put', got {kind!r}")
    divisor = _divisor(per)
    theta = _theta(
        np.array([spot]),
        np.array([strike]),
        np.array([rate]),
        np.array([t_years]),
        np.array([vol]),
        np.array([kind == "call"]),
        np.array([dividend_yield]),
    )
    return float(theta[0]) / divisor


def bs_theta_array(
    spot: FloatArray,
    strike: FloatArray,
    rate: FloatArray,
    t_years: FloatArray,
    vol: FloatArray,
    is_call: np.ndarray,
    per: ThetaPer = "calendar_day",
    *,
    dividend_yield: FloatArray | None = None,
) -> FloatArray:
    """:func:`bs_theta` element-wise over arrays (inputs assumed already validated)."""
    q = np.zeros_like(spot) if dividend_yield is None else dividend_yield
    return _theta(spot, strike, rate, t_years, vol, is_call.astype(bool), q) / _divisor(per)


def fund_theta(positions: pl.DataFrame, *, per: ThetaPer = "calendar_day") -> float:
    """Σ Θ × quantity × multiplier over ``positions`` (one row per option position).

    Columns: kind ("call"/"put"), spot, strike, rate, t_years, vol, quantity (negative = short),
    and optionally multiplier (default 100, one equity option contract) and dividend_yield
    (default 0) — the fields of ``core.schemas.OptionPosition``. An empty book has theta 0.
    """
    check_columns(positions, "positions", _POSITION_COLUMNS)
    divisor = _divisor(per)
    if positions.height == 0:
        return 0.0
    kinds = positions["kind"].cast(pl.String)
    if kinds.null_count() or not kinds.is_in(["call", "put"]).all():
        raise ValueError("positions.kind must be 'call' or 'put' in every row")
    columns = {
        name: _column(positions, name) for name in ("spot", "strike", "rate", "t_years", "vol", "quantity")
    }
    multiplier = (
        _column(positions, "multiplier")
        if "multiplier" in positions.columns
        else np.full(positions.height, 100.0)
    )
    q = (
        _column(positions, "dividend_yield")
        if "dividend_yield" in positions.columns
        else np.zeros(positions.height)
    )
    for name in ("spot", "strike", "vol", "multiplier"):
        values = multiplier if name == "multiplier" else columns[name]
        if (values <= 0).any():
            raise ValueError(f"positions.{name} must be > 0 in every row")
    if (columns["t_years"] < 0).any():
        raise ValueError("positions.t_years must be >= 0 in every row")
    theta = _theta(
        columns["spot"],
        columns["strike"],
        columns["rate"],
        columns["t_years"],
        columns["vol"],
        (kinds == "call").to_numpy(),
        q,
    )
    return float(np.sum(theta * columns["quantity"] * multiplier)) / divisor


def _divisor(per: str) -> float:
    if per not in _DIVISORS:
        raise ValueError(f"per must be one of {', '.join(get_args(ThetaPer))}, got {per!r}")
    return _DIVISORS[per]


def _column(frame: pl.DataFrame, name: str) -> FloatArray:
    column = frame[name]
    if not column.dtype.is_numeric():
        raise ValueError(f"positions.{name} must be numeric, got {column.dtype}")
    values = column.cast(pl.Float64)
    if values.null_count() or not values.is_finite().all():
        raise ValueError(f"positions.{name} must be a finite number in every row")
    return values.to_numpy()


def _theta(
    spot: FloatArray,
    strike: FloatArray,
    rate: FloatArray,
    t_years: FloatArray,
    vol: FloatArray,
    is_call: np.ndarray,
    q: FloatArray,
) -> FloatArray:
    live = t_years > 0
    t = np.where(live, t_years, 1.0)  # expired rows get a placeholder T and theta 0 below
    root_t = np.sqrt(t)
    d1 = (np.log(spot / strike) + (rate - q + 0.5 * vol * vol) * t) / (vol * root_t)
    d2 = d1 - vol * root_t
    carry = spot * np.exp(-q * t)
    discounted_strike = strike * np.exp(-rate * t)
    decay = -carry * norm_pdf(d1) * vol / (2.0 * root_t)
    call = decay + q * carry * ndtr(d1) - rate * discounted_strike * ndtr(d2)
    put = decay - q * carry * ndtr(-d1) + rate * discounted_strike * ndtr(-d2)
    return np.where(live, np.where(is_call, call, put), 0.0)
