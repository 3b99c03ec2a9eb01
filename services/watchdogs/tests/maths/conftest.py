"""Shared builders for the watchdog maths tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

EPOCH = datetime(2025, 1, 6, 14, 30, tzinfo=UTC)

TradesFactory = Callable[..., pl.DataFrame]


def build_trades(
    seconds: Sequence[float],
    prices: Sequence[float],
    sizes: Sequence[float],
    sides: Sequence[int | None] | None = None,
) -> pl.DataFrame:
    """A trades frame with ``ts`` = EPOCH + seconds (µs precision, UTC)."""
    columns: dict[str, pl.Series] = {
        "ts": pl.Series(
            "ts", [EPOCH + timedelta(seconds=s) for s in seconds], dtype=pl.Datetime("us", "UTC")
        ),
        "price": pl.Series("price", list(prices), dtype=pl.Float64),
        "size": pl.Series("size", list(sizes), dtype=pl.Float64),
    }
    if sides is not None:
        columns["side"] = pl.Series("side", list(sides), dtype=pl.Int8)
    return pl.DataFrame(columns)


@pytest.fixture
def make_trades() -> TradesFactory:
    return build_trades
