"""Validation of what a caller asks for: a symbol, and a bars query (interval, range, limit).

Rules (each violation raises :class:`InvalidParameterError` naming the parameter):

- ``symbol``: 1-128 of ``A-Z a-z 0-9 _ - : = @ ^ ~`` (a NATS subject token, as published).
- ``start`` / ``end``: between 1970-01-01 and 2100-01-01 UTC; a time without offset is UTC.
  ``end`` must be after ``start``. Both bound the *start* of a bar: ``start <= bar.start < end``.
  Without ``end``, the range ends with the bucket in progress (bars starting in the future are
  only served when asked for with an explicit ``end``).
- ``limit``: at least 1; above :data:`MAX_LIMIT` it is capped to it. The newest ``limit`` bars of
  the range are served, oldest first (newest last).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from mts1b_operations.core.schemas import TOKEN_PATTERN

from ._errors import InvalidParameterError
from ._intervals import DURATIONS, BarInterval, bucket_ceil, bucket_floor, parse_interval

__all__ = [
    "DEFAULT_LIMIT",
    "EARLIEST",
    "LATEST",
    "MAX_LIMIT",
    "SYMBOL_PATTERN",
    "BarsQuery",
    "bars_query",
    "validate_symbol",
]

SYMBOL_PATTERN: Final = TOKEN_PATTERN
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
DEFAULT_LIMIT: Final = 500
MAX_LIMIT: Final = 5000

_SYMBOL: Final = re.compile(SYMBOL_PATTERN)
_TICK: Final = timedelta(microseconds=1)


def validate_symbol(symbol: str) -> str:
    if not _SYMBOL.search(symbol):
        shown = symbol if len(symbol) <= 40 else symbol[:40] + "..."
        raise InvalidParameterError(
            "symbol", f"{shown!r} is not a symbol (1-128 of letters, digits and _-:=@^~)"
        )
    return symbol


def _instant(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise InvalidParameterError(
            name, f"{value.isoformat()} is outside the supported range 1970-01-01 to 2100-01-01 (UTC)"
        )
    return value


@dataclass(frozen=True, slots=True)
class BarsQuery:
    """A validated bars request: bars of ``interval`` with ``start <= bar.start < end``, newest ``limit``."""

    symbol: str
    interval: BarInterval
    start: datetime | None
    end: datetime
    limit: int
    end_given: bool

    @property
    def window(self) -> tuple[datetime, datetime]:
        """[lo, hi): the UTC buckets that can hold the newest ``limit`` bars of the range.

        The newest bucket is the one holding ``end`` minus a tick; ``hi`` is its end, so a
        bucket that starts before ``end`` is read in full.
        """
        step = DURATIONS[self.interval]
        newest = bucket_floor(self.end - _TICK, self.interval)
        lo = newest - step * (self.limit - 1)
        if self.start is not None:
            lo = max(lo, bucket_ceil(self.start, self.interval))
        return lo, newest + step

    def is_closed(self, now: datetime) -> bool:
        """True when the range lies wholly before the bucket in progress (its bars rarely change)."""
        return self.end <= bucket_floor(now, self.interval)


def bars_query(
    symbol: str,
    interval: str,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    now: datetime,
) -> BarsQuery:
    """Check a bars request and fill in its defaults; see the module doc for the rules."""
    validate_symbol(symbol)
    checked = parse_interval(interval)
    start_at = _instant("start", start)
    end_at = _instant("end", end)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidParameterError("limit", f"must be a whole number >= 1 (got {limit!r})")
    if end_at is None:
        end_at = bucket_floor(now, checked) + DURATIONS[checked]
        if start_at is not None and start_at >= end_at:
            raise InvalidParameterError(
                "start", f"{start_at.isoformat()} is in the future; give an end after it to query ahead"
            )
    elif start_at is not None and end_at <= start_at:
        raise InvalidParameterError(
            "end", f"{end_at.isoformat()} must be after start {start_at.isoformat()} (the range is inverted)"
        )
    return BarsQuery(
        symbol=symbol,
        interval=checked,
        start=start_at,
        end=end_at,
        limit=min(limit, MAX_LIMIT),
        end_given=end is not None,
    )
