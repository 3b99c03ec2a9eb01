"""Bar intervals: their lengths, their UTC-aligned buckets and which finer bars build each one.

Every bucket is aligned to UTC: a bucket of length T starts at a multiple of T counted from the
Unix epoch (1970-01-01T00:00:00Z). Every supported length divides one day, so 5m buckets start
at :00, :05, ...; 1h buckets on the hour; 1d buckets at 00:00 UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final, cast

from mts1b_operations.core.subjects import BAR_INTERVALS, BarInterval

from ._errors import InvalidParameterError

__all__ = [
    "AGGREGATION_SOURCES",
    "DURATIONS",
    "EPOCH",
    "INTERVALS",
    "BarInterval",
    "bucket_ceil",
    "bucket_floor",
    "parse_interval",
]

INTERVALS: Final[tuple[BarInterval, ...]] = cast(tuple[BarInterval, ...], BAR_INTERVALS)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

DURATIONS: Final[Mapping[BarInterval, timedelta]] = MappingProxyType(
    {
        "1m": timedelta(minutes=1),
        "5m": timedelta(minutes=5),
        "15m": timedelta(minutes=15),
        "1h": timedelta(hours=1),
        "1d": timedelta(days=1),
    }
)

AGGREGATION_SOURCES: Final[Mapping[BarInterval, tuple[BarInterval, ...]]] = MappingProxyType(
    {
        "1m": (),
        "5m": ("1m",),
        "15m": ("5m", "1m"),
        "1h": ("15m", "5m", "1m"),
        "1d": ("1h", "15m", "5m", "1m"),
    }
)
"""Finer intervals a coarser bar may be built from, in order of preference (coarsest first:
fewer rows to read). Each divides the target, so finer buckets never straddle a coarse one."""


def parse_interval(value: str) -> BarInterval:
    """``value`` as a supported interval; anything else raises :class:`InvalidParameterError`."""
    if value not in DURATIONS:
        raise InvalidParameterError(
            "interval", f"{value!r} is not a supported interval (one of {', '.join(INTERVALS)})"
        )
    return cast(BarInterval, value)


def bucket_floor(ts: datetime, interval: BarInterval) -> datetime:
    """Start of the UTC-aligned bucket of ``interval`` holding ``ts`` (an aware datetime)."""
    step = DURATIONS[interval]
    return EPOCH + step * ((ts - EPOCH) // step)


def bucket_ceil(ts: datetime, interval: BarInterval) -> datetime:
    """The first bucket start at or after ``ts``."""
    floor = bucket_floor(ts, interval)
    return floor if floor == ts else floor + DURATIONS[interval]
