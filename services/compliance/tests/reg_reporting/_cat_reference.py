"""A test-side validator that reads the CAT field tables from the shared reference file.

Independent of the adapter's own tables: it reads ../shared/reference/cat/cat-im-schema-4.0.0.json
(relative to the repository root) and checks a parsed record against it — required fields
present, no unknown fields, Choice values within ``choices``, JSON types, numeric precision and
scale, string lengths, timestamp forms, name/value pairs and array elements. ``precision`` and
``scale`` are read as the spec's "10.8"-style notation: at most ``precision`` integer digits
and ``scale`` decimals. The file is v4.0.0; the v4.1.0 fields our events may carry are listed
in ``V4_1_ADDITIONS``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from mts1b_operations.core.testing import reference_file

REPO_ROOT = Path(__file__).resolve().parents[4]
REFERENCE_FILE = reference_file("cat", "cat-im-schema-4.0.0.json")
V4_1_ADDITIONS = {
    "MENO": {
        "BFMMFlag": {
            "name": "BFMMFlag",
            "dataType": "Boolean",
            "JSONDataType": "BOOLEAN",
            "required": "Conditional",
        }
    }
}
_TIMESTAMP_TEXT = re.compile(r"\d{8} \d{6}(\.\d{1,9})?")
_TEXT = re.compile(r"(?:Text|Alphanumeric) \(?(\d+)\)?")


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE_FILE.read_text())
    return data


@cache
def _data_types() -> dict[str, dict[str, Any]]:
    return {entry["dataType"]: entry for entry in schema()["dataTypes"]}


@cache
def event_fields(event: str) -> dict[str, dict[str, Any]]:
    for definition in schema()["eventDefinitions"]:
        if definition["eventName"] == event:
            fields = {field["name"]: field for field in definition["fields"]}
            return fields | V4_1_ADDITIONS.get(event, {})
    raise KeyError(event)


def required_fields(event: str) -> set[str]:
    return {name for name, field in event_fields(event).items() if field["required"] == "Required"}


@cache
def _pairs(name: str) -> dict[str, dict[str, Any]]:
    for definition in schema()["nameValuePairDefinitions"]:
        if definition["nameValuePair"] == name:
            return {field["name"]: field for field in definition["fields"]}
    raise KeyError(name)


def parse_line(line: str) -> dict[str, Any]:
    """A record as CAT would read it: numbers exact (Decimal), integers as int."""
    record: dict[str, Any] = json.loads(line, parse_float=Decimal)
    return record


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _digits_ok(value: Any, precision: int, scale: int) -> bool:
    text = format(Decimal(value), "f")
    whole, _, fraction = text.lstrip("-").partition(".")
    return len(whole.lstrip("0")) <= precision and len(fraction.rstrip("0")) <= scale


def _number_fits(value: Any, definition: dict[str, Any]) -> bool:
    return bool(value >= 0) and _digits_ok(value, definition["precision"], definition["scale"])


def _check_value(where: str, field: dict[str, Any], value: Any, errors: list[str]) -> None:
    data_type = field["dataType"]
    json_type = field["JSONDataType"]
    allowed_json = set(json_type) if isinstance(json_type, list) else {json_type}
    if isinstance(value, bool):
        actual = "BOOLEAN"
    elif _is_number(value):
        actual = "NUMBER"
    elif isinstance(value, str):
        actual = "STRING"
    elif isinstance(value, dict):
        actual = "OBJECT"
    elif isinstance(value, list):
        actual = "ARRAY"
    else:
        errors.append(f"{where}: unexpected JSON value {value!r}")
        return
    if actual not in allowed_json:
        errors.append(f"{where}: JSON {actual}, expected {sorted(allowed_json)}")
        return
    if data_type == "Choice":
        choices = schema()["choices"][field["name"]]
        if value not in choices:
            errors.append(f"{where}: {value!r} not in choices {choices}")
        return
    if isinstance(data_type, list):  # Industry Member ID or Exchange ID
        exchanges = _data_types()["Exchange ID"]["allowedValues"]
        if not (value in exchanges or (":" in value and len(value) <= 16)):
            errors.append(f"{where}: {value!r} is neither an Exchange ID nor an Industry Member ID")
        return
    match = _TEXT.fullmatch(data_type)
    if match:
        if len(value) > int(match.group(1)) or (int(match.group(1)) > 0 and not value):
            errors.append(f"{where}: {value!r} longer than {match.group(1)}")
        if data_type.startswith("Alphanumeric") and not value.isalnum():
            errors.append(f"{where}: {value!r} not alphanumeric")
        return
    definition = _data_types().get(data_type)
    if definition is None:  # Name/Value Pairs, arrays: checked by the caller
        return
    if data_type == "Timestamp":
        if actual == "NUMBER" and not (isinstance(value, int) and value >= 0 and len(str(value)) <= 20):
            errors.append(f"{where}: {value!r} is not an integer timestamp of at most 20 digits")
        if actual == "STRING" and not (len(value) <= 25 and _TIMESTAMP_TEXT.fullmatch(value)):
            errors.append(f"{where}: {value!r} is not a timestamp string")
        return
    if "allowedValues" in definition and value not in definition["allowedValues"]:
        errors.append(f"{where}: {value!r} not an allowed {data_type}")
    if "maxLength" in definition and isinstance(value, str) and len(value) > definition["maxLength"]:
        errors.append(f"{where}: {value!r} longer than {definition['maxLength']}")
    if "precision" in definition and actual == "NUMBER" and not _number_fits(value, definition):
        errors.append(f"{where}: {value} exceeds {definition['precision']}.{definition['scale']}")


def _check_fields(
    where: str, fields: dict[str, dict[str, Any]], record: dict[str, Any], errors: list[str]
) -> None:
    for name in record:
        if name not in fields:
            errors.append(f"{where}{name}: unknown field")
    for name, field in fields.items():
        if name not in record or record[name] is None:
            if field["required"] == "Required":
                errors.append(f"{where}{name}: required field missing")
            continue
        value = record[name]
        _check_value(f"{where}{name}", field, value, errors)
        if field["dataType"] == "Name/Value Pairs" and isinstance(value, dict):
            pairs = _pairs(name)
            if not value:
                errors.append(f"{where}{name}: empty name/value pairs")
            for key, item in value.items():
                if key not in pairs:
                    errors.append(f"{where}{name}.{key}: unknown name")
                else:
                    _check_value(f"{where}{name}.{key}", pairs[key], item, errors)
        if "arrayElements" in field and isinstance(value, list):
            elements = {element["name"]: element for element in field["arrayElements"]}
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    errors.append(f"{where}{name}[{i}]: not an object")
                else:
                    _check_fields(f"{where}{name}[{i}].", elements, item, errors)


def reference_errors(record: dict[str, Any]) -> list[str]:
    """Everything the reference field tables say is wrong with ``record`` (empty when valid)."""
    if record.get("actionType") == "DEL":
        extra = set(record) - {"actionType", "firmROEID"}
        return [f"{name}: not part of a DEL instruction" for name in sorted(extra)] + (
            [] if isinstance(record.get("firmROEID"), str) else ["firmROEID: required field missing"]
        )
    event = record.get("type")
    try:
        fields = event_fields(str(event))
    except KeyError:
        return [f"type: unknown event {event!r}"]
    errors: list[str] = []
    _check_fields("", fields, record, errors)
    return errors
