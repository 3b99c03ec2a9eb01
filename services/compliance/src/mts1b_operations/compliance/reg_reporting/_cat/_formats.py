"""CAT value formats: timestamps, Eastern dates, exact decimals, firmROEID, the JSON line.

Timestamps are written as integer nanoseconds since the Unix epoch (the spec's numeric form;
unambiguous, no time zone in the value). Dates the spec derives from a timestamp (the event
date, a DAY order's date) are Eastern-time calendar dates. Prices and quantities stay
:class:`~decimal.Decimal` from the order event to the line and are written as JSON numbers in
plain notation, so no binary floating point ever touches them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

__all__ = [
    "EASTERN",
    "cat_date",
    "decimal_problem",
    "digest",
    "dumps",
    "eastern_date",
    "firm_roe_id",
    "nanos",
    "plain",
]

EASTERN: Final = ZoneInfo("America/New_York")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def nanos(ts: datetime) -> int:
    """Nanoseconds since the epoch, computed in integers (``timestamp() * 1e9`` would round)."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no time zone")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def eastern_date(ts: datetime) -> date:
    """The calendar date in New York at ``ts`` (EST or EDT as the date requires)."""
    return ts.astimezone(EASTERN).date()


def cat_date(day: date) -> int:
    """A Date field: YYYYMMDD as a number."""
    return day.year * 10_000 + day.month * 100 + day.day


def plain(value: Decimal) -> Decimal:
    """``value`` without exponent or trailing fractional zeros (``1E+2`` → ``100``, ``1.50`` → ``1.5``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


def decimal_problem(value: Decimal, *, integer_digits: int, scale: int) -> str | None:
    """Why ``value`` does not fit a ``integer_digits.scale`` CAT number, or None when it fits."""
    if not value.is_finite():
        return f"{value} is not a finite number"
    if value < 0:
        return f"{value} is negative"
    text = format(plain(value), "f")
    whole, _, fraction = text.partition(".")
    if len(fraction) > scale:
        return f"{text} has {len(fraction)} decimal places; at most {scale} are allowed"
    if len(whole.lstrip("0")) > integer_digits:
        return f"{text} has more than {integer_digits} integer digits"
    return None


def digest(*parts: str) -> str:
    """A stable hex digest of ``parts`` (separated so that ``("ab", "c") != ("a", "bc")``)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def firm_roe_id(event_code: str, fund_id: str, event_id: str, event_day: date) -> str:
    """The firm's id of the reportable event: the Eastern event date, then a digest of the source.

    CAT checks that a firmROEID starts with the event date (YYYYMMDD); the rest is the firm's
    own. Being a digest of (event type, fund, source event id) it is the same for a redelivered
    or resubmitted event, which is what makes a resubmission idempotent. 8 + 1 + 40 characters.
    """
    return f"{cat_date(event_day)}_{digest(event_code, fund_id, event_id)[:40]}"


def dumps(value: Any) -> str:
    """Compact JSON with Decimals as plain-notation numbers, keys in insertion order."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        out.append(format(plain(value), "f"))
    elif isinstance(value, float):
        raise TypeError("floats are not written to CAT records; use Decimal")
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} to a CAT record")


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
