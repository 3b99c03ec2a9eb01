"""The ``bars`` table: idempotent upserts keyed by (symbol, interval, start), range reads.

A bar received again (a redelivery, a replay) leaves the row as it is; a corrected bar with the
same key replaces it. Reads are bounded by the caller (``limit``, ``cap``), newest first in SQL
and handed back oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import asyncpg
import polars as pl

from mts1b_operations.core import schemas

from ..domain import BAR_COLUMNS, Bar, BarInterval

__all__ = ["BarsStore"]

_UPSERT: Final = """
INSERT INTO bars (symbol, bar_interval, starts_at, ends_at, open, high, low, close, volume, vwap, trade_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (symbol, bar_interval, starts_at) DO UPDATE SET
    ends_at = EXCLUDED.ends_at, open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
    close = EXCLUDED.close, volume = EXCLUDED.volume, vwap = EXCLUDED.vwap,
    trade_count = EXCLUDED.trade_count, updated_at = now()
WHERE (bars.ends_at, bars.open, bars.high, bars.low, bars.close, bars.volume, bars.vwap, bars.trade_count)
    IS DISTINCT FROM (EXCLUDED.ends_at, EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                      EXCLUDED.volume, EXCLUDED.vwap, EXCLUDED.trade_count)
"""

_PUBLISHED: Final = """
SELECT starts_at, ends_at, open, high, low, close, volume, vwap, trade_count
FROM bars
WHERE symbol = $1 AND bar_interval = $2 AND starts_at >= $3 AND starts_at < $4
ORDER BY starts_at DESC
LIMIT $5
"""

_FIRST_SOURCE: Final = """
SELECT source FROM unnest($2::text[]) WITH ORDINALITY AS candidates(source, preference)
WHERE EXISTS (
    SELECT 1 FROM bars
    WHERE symbol = $1 AND bar_interval = candidates.source AND starts_at >= $3 AND starts_at < $4
)
ORDER BY preference
LIMIT 1
"""

_FINER: Final = """
SELECT starts_at AS start, open, high, low, close, volume, vwap, trade_count
FROM bars
WHERE symbol = $1 AND bar_interval = $2 AND starts_at >= $3 AND starts_at < $4
ORDER BY starts_at DESC
LIMIT $5
"""

_KNOWN: Final = "SELECT EXISTS (SELECT 1 FROM bars WHERE symbol = $1)"

_SCHEMA: Final[dict[str, pl.DataType]] = {
    "start": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "vwap": pl.Float64(),
    "trade_count": pl.Int64(),
}


class BarsStore:
    """Bars in Postgres through the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert(self, bar: schemas.Bar) -> bool:
        """Store ``bar``; True when a row was written (new, or changed)."""
        status = await self._pool.execute(
            _UPSERT,
            bar.symbol,
            bar.interval,
            bar.start,
            bar.end,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
            bar.vwap,
            bar.trade_count,
        )
        return bool(status.endswith(" 1"))

    async def published(
        self, symbol: str, interval: BarInterval, lo: datetime, hi: datetime, limit: int
    ) -> list[Bar]:
        """The newest ``limit`` bars of ``interval`` starting in [lo, hi), oldest first."""
        rows = await self._pool.fetch(_PUBLISHED, symbol, interval, lo, hi, limit)
        return [
            Bar(
                symbol=symbol,
                interval=interval,
                start=row["starts_at"],
                end=row["ends_at"],
                open=row["open"],
                high=row["high"],
                low=row["low"],
                close=row["close"],
                volume=row["volume"],
                vwap=row["vwap"],
                trade_count=row["trade_count"],
            )
            for row in reversed(rows)
        ]

    async def first_source(
        self, symbol: str, candidates: Sequence[BarInterval], lo: datetime, hi: datetime
    ) -> BarInterval | None:
        """The first of ``candidates`` with a bar starting in [lo, hi), or None."""
        if not candidates:
            return None
        found: BarInterval | None = await self._pool.fetchval(_FIRST_SOURCE, symbol, list(candidates), lo, hi)
        return found

    async def finer(
        self, symbol: str, interval: BarInterval, lo: datetime, hi: datetime, cap: int
    ) -> tuple[pl.DataFrame, bool]:
        """Bars of ``interval`` starting in [lo, hi) as a frame (``BAR_COLUMNS``), the newest ``cap``;
        the flag tells that more existed (the oldest ones were left out)."""
        rows = await self._pool.fetch(_FINER, symbol, interval, lo, hi, cap + 1)
        truncated = len(rows) > cap
        rows = rows[:cap]
        columns = {name: [row[name] for row in rows] for name in BAR_COLUMNS}
        return pl.DataFrame(columns, schema=_SCHEMA), truncated

    async def has_symbol(self, symbol: str) -> bool:
        """True when any bar of ``symbol`` is stored."""
        return bool(await self._pool.fetchval(_KNOWN, symbol))
