"""Argument checks shared by the watchdog maths: every error names the argument it is about."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "ArrayLike",
    "FloatArray",
    "as_float_array",
    "check_alpha",
    "check_columns",
    "check_finite",
    "check_positive",
    "check_positive_int",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = Sequence[float] | FloatArray | pl.Series | Iterable[float]


def as_float_array(values: ArrayLike, name: str, *, min_length: int = 0) -> FloatArray:
    """``values`` as a 1-d float64 array of finite numbers with at least ``min_length`` items."""
    if isinstance(values, pl.Series):
        if values.null_count():
            raise ValueError(f"{name} must not contain nulls")
        array = values.cast(pl.Float64).to_numpy()
    else:
        try:
            array = np.asarray(values if isinstance(values, Sequence | np.ndarray) else list(values), float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a sequence of numbers: {exc}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size < min_length:
        raise ValueError(f"{name} needs at least {min_length} values, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must contain only finite numbers")
    return np.ascontiguousarray(array, dtype=np.float64)


def check_finite(value: float, name: str) -> float:
    """``value`` as a float, refused unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{name} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float, refused unless finite and > 0 (or >= 0 with ``allow_zero``)."""
    result = check_finite(value, name)
    if result < 0 or (result == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return result


def check_positive_int(value: int, name: str, *, minimum: int = 1) -> int:
    """``value`` refused unless it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """A significance level strictly between 0 and 1."""
    result = check_finite(alpha, name)
    if not 0.0 < result < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {alpha!r}")
    return result


def check_columns(frame: pl.DataFrame, name: str, required: Iterable[str]) -> None:
    """Refuse a non-DataFrame or one missing any of ``required``, naming the missing columns."""
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"{name} must be a polars DataFrame, got {type(frame).__name__}")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}; it has {frame.columns}")
