"""An independent check of CAT records against the CAT Industry Member field schema (test data).

The schema (``../shared/reference/cat/cat-im-schema-4.0.0.json``, read in place, never copied)
lists each event type's fields with their data type and Required / Conditional / Optional flag,
the permitted values of every Choice field, the JSON type, precision and scale of each data
type, and the keys of the name/value pair fields. :func:`cat_problems` checks one record
against it and names every field at fault; an empty list means the record passes. It is
written here, apart from the service's own validator, so the service is not checked by itself.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final

from mts1b_operations.core.testing import reference_file

__all__ = ["REPO_ROOT", "SCHEMA_PATH", "cat_problems"]

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SCHEMA_PATH: Final = reference_file("cat", "cat-im-schema-4.0.0.json")
_TEXT: Final = re.compile(r"^(?:Text|Alphanumeric) \((\d+)\)$")
# CAT's string timestamp: YYYYMMDD HHMMSS.CCCNNNNNN (time to the nanosecond, Eastern time).
_TIMESTAMP_TEXT: Final = re.compile(r"^\d{8} \d{6}(?:\.\d{1,9})?$")


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _events() -> dict[str, list[dict[str, Any]]]:
    return {event["eventName"]: event["fields"] for event in _schema()["eventDefinitions"]}


@cache
def _data_types() -> dict[str, dict[str, Any]]:
    return {entry["dataType"]: entry for entry in _schema()["dataTypes"]}


@cache
def _pairs() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        pair["nameValuePair"]: {field["name"]: field for field in pair["fields"]}
        for pair in _schema()["nameValuePairDefinitions"]
    }


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _digits_fit(value: object, precision: int, scale: int) -> bool:
    """Whether ``value`` is a JSON number of at most ``precision`` digits before the point and
    ``scale`` after it (the specification's "Price 10.8" is ten and eight)."""
    if not _is_number(value):
        return False
    exponent = Decimal(str(value)).normalize().as_tuple()
    decimals = max(0, -int(exponent.exponent))
    whole = len(str(abs(int(Decimal(str(value))))))
    return decimals <= scale and whole <= precision


def _type_problem(data_type: str, json_type: object, value: object) -> str | None:
    """Why ``value`` is not of the schema's ``data_type`` (None when it is)."""
    if data_type == "Timestamp":
        if _is_number(value) and isinstance(value, int) and 0 < value < 10**20:
            return None
        if isinstance(value, str) and len(value) <= 25 and _TIMESTAMP_TEXT.match(value):
            return None
        return f"{value!r} is not a CAT timestamp (nanoseconds, or 'YYYYMMDD HHMMSS.CCCNNNNNN')"
    if data_type == "Boolean":
        return None if isinstance(value, bool) else f"{value!r} is not a boolean"
    if (text := _TEXT.match(data_type)) is not None:
        ok = isinstance(value, str) and len(value) <= int(text.group(1))
        return None if ok else f"{value!r} is not text of at most {text.group(1)} characters"
    if data_type == "Choice":
        return None if isinstance(value, str) else f"{value!r} is not a string"
    if data_type == "Name/Value Pairs":
        return None if isinstance(value, dict) else f"{value!r} is not an object of name/value pairs"
    known = _data_types().get(data_type)
    if known is None:
        # Arrays and structures (aggregatedOrders, buyDetails ...): the JSON type only.
        expected = {"ARRAY": list, "OBJECT": dict, "STRING": str}.get(str(json_type))
        if expected is None or isinstance(value, expected):
            return None
        return f"{value!r} is not of JSON type {json_type}"
    if known["JSONDataType"] == "NUMBER":
        if not _digits_fit(value, int(known["precision"]), int(known["scale"])):
            return f"{value!r} is not a number of {data_type} ({known['precision']}.{known['scale']})"
    elif known["JSONDataType"] == "STRING" and (
        not isinstance(value, str) or len(value) > int(known.get("maxLength", 10**6))
    ):
        return f"{value!r} is not a string of at most {known.get('maxLength')} characters"
    if "allowedValues" in known and value not in known["allowedValues"]:
        return f"{value!r} is not one of the permitted {data_type} values"
    return None


def _pair_problems(name: str, value: dict[str, Any]) -> list[str]:
    definitions = _pairs().get(name, {})
    problems = []
    for key, item in value.items():
        definition = definitions.get(key)
        if definition is None:
            problems.append(f"{name}.{key}: not a {name} name of the specification")
        elif (problem := _type_problem(definition["dataType"], definition["JSONDataType"], item)) is not None:
            problems.append(f"{name}.{key}: {problem}")
    return problems


def cat_problems(record: dict[str, Any]) -> list[str]:
    """Every way ``record`` departs from its event type's field table; [] when it conforms."""
    event_type = record.get("type")
    fields = _events().get(str(event_type))
    if fields is None:
        return [f"type: {event_type!r} is not a CAT event type"]
    by_name = {field["name"]: field for field in fields}
    # A Boolean left out of a JSON record is false (the specification's Boolean data type), so
    # a Required Boolean may be absent; every other Required field must be there.
    problems = [
        f"{field['name']}: required field is missing"
        for field in fields
        if field["required"] == "Required" and field["dataType"] != "Boolean" and field["name"] not in record
    ]
    choices: dict[str, list[str]] = _schema()["choices"]
    for name, value in record.items():
        definition = by_name.get(name)
        if definition is None:
            problems.append(f"{name}: not a field of {event_type}")
            continue
        data_types = definition["dataType"]
        candidates = data_types if isinstance(data_types, list) else [data_types]
        found = [_type_problem(t, definition["JSONDataType"], value) for t in candidates]
        if all(problem is not None for problem in found):
            problems.append(f"{name}: {found[0]}")
            continue
        if "Choice" in candidates and name in choices and value not in choices[name]:
            problems.append(f"{name}: {value!r} is not one of {choices[name]}")
        if "Name/Value Pairs" in candidates and isinstance(value, dict):
            problems += _pair_problems(name, value)
    return problems
