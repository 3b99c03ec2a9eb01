"""Trades from a CSV or parquet file, validated and normalised with polars, in file order.

Columns: ``symbol``, ``ts`` (ISO-8601 text or a datetime column; naive times are UTC),
``price`` and ``size`` (positive numbers) are required; ``side`` (1 / -1, or buy / sell / b / s)
and ``trade_id`` are optional. Extra columns are ignored. A problem raises
:class:`TradeFileError` naming the file, the column and, for a bad value, the first bad row
(0-based, in file order).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl

from mts1b_operations.core.schemas import TOKEN_PATTERN

from .generator import TRADE_COLUMNS

__all__ = ["REQUIRED_COLUMNS", "SUFFIXES", "TradeFileError", "read_trades"]

REQUIRED_COLUMNS: Final = ("symbol", "ts", "price", "size")
SUFFIXES: Final = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_UTC_US: Final = pl.Datetime("us", "UTC")
_TOKEN: Final = TOKEN_PATTERN.replace(r"\Z", r"\z")  # Rust's regex spells end-of-text \z
_SIDES: Final = {"1": 1, "+1": 1, "-1": -1, "buy": 1, "b": 1, "sell": -1, "s": -1}


class TradeFileError(ValueError):
    """The trades file cannot be replayed; the message names the file and the column."""

    def __init__(self, path: str, column: str | None, problem: str) -> None:
        self.path = path
        self.column = column
        self.problem = problem
        where = f"{path}: {column}" if column else path
        super().__init__(f"{where}: {problem}")


def _first_row(mask: pl.Series) -> int:
    return int(mask.arg_true()[0])


def _read(path: Path) -> pl.DataFrame:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise TradeFileError(str(path), None, f"unsupported file type {path.suffix!r}; use .csv or .parquet")
    try:
        if kind == "csv":
            return pl.read_csv(path, infer_schema_length=None, schema_overrides={"symbol": pl.String})
        return pl.read_parquet(path)
    except FileNotFoundError:
        raise TradeFileError(str(path), None, "no such file") from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise TradeFileError(str(path), None, f"cannot be read: {exc}") from None


def _iso(text: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.utcoffset() is None else when.astimezone(UTC)


def _timestamps(name: str, column: pl.Series) -> pl.Series:
    dtype = column.dtype
    if dtype == pl.String:
        parsed = column.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        if parsed.is_null().any():  # polars infers one format per column; mixed ones take the slow path
            parsed = pl.Series("ts", [_iso(text) for text in column.to_list()], dtype=_UTC_US)
    elif isinstance(dtype, pl.Datetime):
        parsed = (
            column.dt.replace_time_zone("UTC")
            if dtype.time_zone is None
            else column.dt.convert_time_zone("UTC")
        ).cast(_UTC_US)
    else:
        raise TradeFileError(name, "ts", f"expected ISO-8601 text or a datetime column, got {dtype}")
    bad = parsed.is_null()
    if bad.any():
        row = _first_row(bad)
        raise TradeFileError(name, "ts", f"row {row}: {column[row]!r} is not a timestamp")
    return parsed


def _positive(name: str, column: str, values: pl.Series) -> pl.Series:
    numbers = values.cast(pl.Float64, strict=False)
    bad = numbers.is_null() | ~(numbers > 0) | numbers.is_nan() | numbers.is_infinite()
    if bad.any():
        row = _first_row(bad)
        raise TradeFileError(name, column, f"row {row}: {values[row]!r} is not a positive number")
    return numbers


def _sides(name: str, values: pl.Series) -> pl.Series:
    text = values.cast(pl.String).str.strip_chars().str.to_lowercase()
    sides = text.replace_strict(_SIDES, default=None, return_dtype=pl.Int8)
    bad = values.is_not_null() & sides.is_null()
    if bad.any():
        row = _first_row(bad)
        raise TradeFileError(name, "side", f"row {row}: {values[row]!r} is not 1, -1, buy or sell")
    return sides


def read_trades(path: str | os.PathLike[str]) -> pl.DataFrame:
    """The file's trades as :data:`TRADE_COLUMNS` (``side`` and ``trade_id`` may be null), in file order."""
    source = Path(path)
    name = str(source)
    raw = _read(source)
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise TradeFileError(
            name, missing[0], f"required column is missing (the file has: {', '.join(raw.columns) or 'none'})"
        )
    symbols = raw["symbol"].cast(pl.String)
    bad = symbols.is_null() | ~symbols.str.contains(_TOKEN)
    if bad.any():
        row = _first_row(bad)
        raise TradeFileError(name, "symbol", f"row {row}: {symbols[row]!r} is not a single subject token")
    trade_ids = (
        raw["trade_id"].cast(pl.String)
        if "trade_id" in raw.columns
        else pl.Series("trade_id", [None] * raw.height, dtype=pl.String)
    )
    sides = (
        _sides(name, raw["side"])
        if "side" in raw.columns
        else pl.Series("side", [None] * raw.height, dtype=pl.Int8)
    )
    return pl.DataFrame(
        {
            "symbol": symbols,
            "ts": _timestamps(name, raw["ts"]),
            "price": _positive(name, "price", raw["price"]),
            "size": _positive(name, "size", raw["size"]),
            "side": sides,
            "trade_id": trade_ids,
        }
    ).select(TRADE_COLUMNS)
