"""Check a CAT record against the field tables: presence, data types, choices, and the
conditional rules this adapter can know about (price on limit orders, route destinations,
errorROEID on repairs, side details on trades, the firmROEID's event date).

Returns every problem found, each naming the spec's field (``buyDetails[0].side`` inside an
array), so a rejected report says exactly what an operator's repair has to supply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from .._model import FieldProblem
from . import _spec as spec
from ._formats import cat_date, decimal_problem, eastern_date

__all__ = ["MEMBER_ID_PATTERN", "validate_record"]

MEMBER_ID_PATTERN: Final = re.compile(r"[0-9]{1,8}:[A-Z0-9]{1,7}")
"""An Industry Member ID as CAT expects it in routing fields: ``CRD:IMID``."""
_IMID: Final = re.compile(r"[A-Z0-9]{1,7}")
_TIMESTAMP_TEXT: Final = re.compile(r"[0-9]{8} [0-9]{6}(\.[0-9]{1,9})?")
_FIRM_ROE_ID: Final = re.compile(r"([0-9]{8})_.+")
_PRICED_EVENTS: Final = frozenset({"MENO", "MEOR", "MEOA", "MEOM"})


def validate_record(record: Mapping[str, Any]) -> tuple[FieldProblem, ...]:
    """Every problem with ``record`` (empty when it is valid)."""
    problems: list[FieldProblem] = []
    if record.get("actionType") == "DEL":
        _check_delete(record, problems)
        return tuple(problems)
    code = record.get("type")
    if not isinstance(code, str) or code not in spec.EVENT_FIELDS:
        known = ", ".join(spec.EVENT_FIELDS)
        return (FieldProblem("type", f"{code!r} is not an event type this adapter knows ({known})"),)
    _check_fields(record, spec.EVENT_FIELDS[code], "", problems, event=code)
    _check_conditions(code, record, problems)
    return tuple(problems)


def _check_delete(record: Mapping[str, Any], problems: list[FieldProblem]) -> None:
    for name in record:
        if name not in ("actionType", "firmROEID"):
            problems.append(FieldProblem(name, "is not part of a DEL instruction"))
    roe_id = record.get("firmROEID")
    if not isinstance(roe_id, str) or not 1 <= len(roe_id) <= 64:
        problems.append(FieldProblem("firmROEID", "is required: the firmROEID of the record to delete"))


def _check_fields(
    record: Mapping[str, Any],
    fields: Sequence[spec.FieldSpec],
    prefix: str,
    problems: list[FieldProblem],
    *,
    event: str,
) -> None:
    by_name = {field.name: field for field in fields}
    for name in record:
        if name not in by_name:
            where = f"a {event} event" if not prefix else f"{prefix.rstrip('.')}"
            problems.append(FieldProblem(f"{prefix}{name}", f"is not a field of {where}"))
    for field in by_name.values():
        value = record.get(field.name)
        name = f"{prefix}{field.name}"
        if value is None:
            if field.name in record and field.kind != spec.RETIRED:
                problems.append(FieldProblem(name, "is null; leave the field out instead"))
            elif field.required == "R":
                problems.append(FieldProblem(name, "is required"))
            continue
        problem = _value_problem(field, value, event=event)
        if problem is not None:
            problems.append(FieldProblem(name, problem))
        elif field.kind == spec.RECORDS:
            for i, element in enumerate(value):
                _check_fields(element, field.elements, f"{name}[{i}].", problems, event=event)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number_problem(value: Any, *, integer_digits: int, scale: int) -> str | None:
    if _is_int(value):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        return f"expected a number, got {type(value).__name__} {value!r}"
    return decimal_problem(value, integer_digits=integer_digits, scale=scale)


def _text_problem(value: Any, max_length: int) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value:
        return "is empty"
    if len(value) > max_length:
        return f"{value!r} is longer than {max_length} characters"
    return None


def _timestamp_problem(value: Any) -> str | None:
    if _is_int(value):
        return None if 0 <= value < 10**20 else f"{value} is not a timestamp in nanoseconds"
    if isinstance(value, str):
        if len(value) <= 25 and _TIMESTAMP_TEXT.fullmatch(value):
            return None
        return f"{value!r} is not 'YYYYMMDD HHMMSS.CCCNNNNNN'"
    return f"expected nanoseconds since the epoch, got {type(value).__name__}"


def _date_problem(value: Any) -> str | None:
    if not _is_int(value) or not 10_000_000 <= value <= 99_991_231:
        return f"expected a YYYYMMDD number, got {value!r}"
    try:
        date(value // 10_000, value // 100 % 100, value % 100)
    except ValueError:
        return f"{value} is not a calendar date"
    return None


def _value_problem(field: spec.FieldSpec, value: Any, *, event: str) -> str | None:
    kind = field.kind
    if kind == spec.CHOICE:
        allowed = spec.CHOICES[field.name]
        if not isinstance(value, str) or value not in allowed:
            return f"{value!r} is not one of {', '.join(sorted(allowed))}"
        return None
    if kind in (spec.TEXT, spec.ALPHANUMERIC):
        problem = _text_problem(value, field.max_length or 0)
        if problem is None and kind == spec.ALPHANUMERIC and not (value.isascii() and value.isalnum()):
            return f"{value!r} is not alphanumeric"
        return problem
    if kind == spec.RETIRED:
        return "is a retired position and must be left out"
    if kind == spec.MESSAGE_TYPE:
        return None if value == event else f"{value!r} does not match the event type {event}"
    if kind == spec.REPORTER_IMID:
        return None if isinstance(value, str) and _IMID.fullmatch(value) else f"{value!r} is not an IMID"
    if kind == spec.MEMBER_ID:
        if isinstance(value, str) and MEMBER_ID_PATTERN.fullmatch(value):
            return None
        return f"{value!r} is not an Industry Member ID 'CRD:IMID'"
    if kind == spec.MEMBER_OR_EXCHANGE:
        if isinstance(value, str) and (value in spec.EXCHANGE_IDS or MEMBER_ID_PATTERN.fullmatch(value)):
            return None
        return f"{value!r} is neither a CAT Exchange ID nor an Industry Member ID 'CRD:IMID'"
    if kind == spec.SYMBOL:
        return _text_problem(value, 22)
    if kind == spec.TIMESTAMP:
        return _timestamp_problem(value)
    if kind == spec.DATE:
        return _date_problem(value)
    if kind == spec.BOOLEAN:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind == spec.PRICE:
        return _number_problem(value, integer_digits=10, scale=8)
    if kind == spec.REAL_QUANTITY:
        return _number_problem(value, integer_digits=12, scale=6)
    if kind == spec.WHOLE_QUANTITY:
        return _number_problem(value, integer_digits=12, scale=0)
    if kind == spec.UNSIGNED:
        return _number_problem(value, integer_digits=20, scale=0)
    if kind == spec.NAME_VALUE_PAIRS:
        return _pairs_problem(field.name, value)
    if kind == spec.RECORDS:
        if not isinstance(value, list) or not value or not all(isinstance(v, Mapping) for v in value):
            return "expected a non-empty array of objects"
        return None
    if kind == spec.ARRAY:
        return None if isinstance(value, list) else "expected an array"
    return f"has an unknown data type {kind!r}"  # pragma: no cover - the tables use only the kinds above


def _pairs_problem(name: str, value: Any) -> str | None:
    types = spec.TIME_IN_FORCE_TYPES if name == "timeInForce" else spec.HANDLING_INSTRUCTION_TYPES
    if not isinstance(value, Mapping) or not value:
        return "expected an object of name/value pairs"
    for key, item in value.items():
        kind = types.get(key)
        if kind is None:
            return f"{key!r} is not a {name} name"
        problem = _value_problem(spec.FieldSpec(key, kind, "O", max_length=40), item, event="")
        if problem is not None:
            return f"{key}: {problem}"
    return None


def _check_conditions(code: str, record: Mapping[str, Any], problems: list[FieldProblem]) -> None:
    named = {problem.field for problem in problems}

    def need(name: str, why: str) -> None:
        if record.get(name) is None and name not in named:
            problems.append(FieldProblem(name, f"is required {why}"))

    def forbid(name: str, why: str) -> None:
        if record.get(name) is not None and name not in named:
            problems.append(FieldProblem(name, f"must be left out {why}"))

    if record.get("actionType") == "RPR":
        need("errorROEID", "when actionType is RPR")
    else:
        forbid("errorROEID", "unless actionType is RPR")
    if code in _PRICED_EVENTS:
        if record.get("orderType") == "LMT":
            need("price", "for a limit order (orderType LMT)")
        elif record.get("orderType") == "MKT":
            forbid("price", "for a market order (orderType MKT)")
    if code == "MEOR":
        destination_type = record.get("destinationType")
        if destination_type in ("E", "F"):
            for name in ("destination", "senderIMID", "routedOrderID"):
                need(name, f"when destinationType is {destination_type}")
            destination = record.get("destination")
            if isinstance(destination, str) and "destination" not in named:
                if destination_type == "E" and destination not in spec.EXCHANGE_IDS:
                    problems.append(FieldProblem("destination", f"{destination!r} is not a CAT Exchange ID"))
                if destination_type == "F" and not MEMBER_ID_PATTERN.fullmatch(destination):
                    problems.append(FieldProblem("destination", f"{destination!r} is not 'CRD:IMID'"))
        if destination_type == "E":
            need("session", "for a route to an exchange")
    if code == "MEOT":
        side_details = record.get("sideDetailsInd")
        if side_details == "BUY":
            need("buyDetails", "when sideDetailsInd is BUY")
        if side_details == "SELL":
            need("sellDetails", "when sideDetailsInd is SELL")
    leaves, quantity = record.get("leavesQty"), record.get("quantity")
    if isinstance(leaves, Decimal | int) and isinstance(quantity, Decimal | int) and leaves > quantity:
        problems.append(FieldProblem("leavesQty", f"{leaves} exceeds quantity {quantity}"))
    _check_firm_roe_id(record, problems)


def _check_firm_roe_id(record: Mapping[str, Any], problems: list[FieldProblem]) -> None:
    roe_id, stamp = record.get("firmROEID"), record.get("eventTimestamp")
    if not isinstance(roe_id, str) or not isinstance(stamp, int) or isinstance(stamp, bool):
        return
    if any(p.field in ("firmROEID", "eventTimestamp") for p in problems):
        return
    match = _FIRM_ROE_ID.fullmatch(roe_id)
    day = cat_date(eastern_date(datetime.fromtimestamp(stamp // 1_000_000_000, UTC)))
    if match is None or int(match.group(1)) != day:
        problems.append(FieldProblem("firmROEID", f"must start with the event's Eastern date {day}_"))
