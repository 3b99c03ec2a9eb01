"""The CAT trading day of an event and the T+1 08:00 ET deadline of its reports.

CAT's trading day ends at 4:15 p.m. ET: an event after that, or on a day the markets are shut,
belongs to the next trading day. Reports are due by 8:00 a.m. ET on the trading day after (T+1).
Trading days are weekdays that are not NYSE holidays; the holiday rules below are the standing
NYSE ones (observed on the Friday before / Monday after when they fall on a weekend, except
that a Saturday New Year's Day is not observed). One-off closures (a national day of mourning,
a hurricane) are not modelled.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final

from ._formats import EASTERN

__all__ = ["CUTOFF", "DEADLINE", "cat_trade_date", "is_trading_day", "next_trading_day", "report_deadline"]

CUTOFF: Final = time(16, 15)
"""End of the CAT trading day, Eastern time."""
DEADLINE: Final = time(8, 0)
"""Reports are due at 08:00 Eastern on T+1."""


def _easter(year: int) -> date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),  # Christmas
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year's Day is not observed on the Friday before
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth
    return frozenset(days)


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_trading_day(day: date) -> date:
    """The first trading day strictly after ``day``."""
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def cat_trade_date(ts: datetime) -> date:
    """The CAT trading day ``ts`` belongs to (the Eastern date, moved on after 16:15 ET or off days)."""
    local = ts.astimezone(EASTERN)
    day = local.date()
    if local.time() > CUTOFF or not is_trading_day(day):
        return next_trading_day(day)
    return day


def report_deadline(trade_date: date) -> datetime:
    """08:00 Eastern on the trading day after ``trade_date``, as an aware UTC datetime."""
    due = datetime.combine(next_trading_day(trade_date), DEADLINE, tzinfo=EASTERN)
    return due.astimezone(UTC)
