"""Expected OpenAPI component schemas, as Litestar writes them for msgspec Structs.

Builders and constants for pinning a service's ``/schema/openapi.json`` in its tests: an object
lists its required fields sorted, an optional value is ``oneOf`` the schema and null, a nested
Struct is a ``$ref`` to its component. ``HEALTH_COMPONENTS`` are core.runtime's health answers,
the same in every service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "HEALTH_COMPONENTS",
    "SCHEMA_BOOL",
    "SCHEMA_DATE",
    "SCHEMA_DATE_TIME",
    "SCHEMA_INT",
    "SCHEMA_NUMBER",
    "SCHEMA_STRING",
    "schema_list_of",
    "schema_null_or",
    "schema_object",
    "schema_ref",
]

SCHEMA_BOOL: Final[Mapping[str, Any]] = {"type": "boolean"}
SCHEMA_INT: Final[Mapping[str, Any]] = {"type": "integer"}
SCHEMA_NUMBER: Final[Mapping[str, Any]] = {"type": "number"}
SCHEMA_STRING: Final[Mapping[str, Any]] = {"type": "string"}
SCHEMA_DATE_TIME: Final[Mapping[str, Any]] = {"format": "date-time", "type": "string"}
SCHEMA_DATE: Final[Mapping[str, Any]] = {"format": "date", "type": "string"}


def schema_null_or(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An optional value (``T | None``): the schema or null."""
    return {"oneOf": [schema, {"type": "null"}]}


def schema_object(title: str, properties: Mapping[str, Any], required: list[str]) -> dict[str, Any]:
    """A Struct's component: its fields' schemas and those without a default (in any order)."""
    return {"properties": properties, "required": sorted(required), "title": title, "type": "object"}


def schema_ref(name: str) -> dict[str, Any]:
    """A reference to the component ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def schema_list_of(items: Mapping[str, Any]) -> dict[str, Any]:
    """An array of ``items`` (for Structs, pass ``schema_ref(name)``)."""
    return {"items": items, "type": "array"}


HEALTH_COMPONENTS: Final[Mapping[str, dict[str, Any]]] = {
    "Liveness": schema_object(
        "Liveness",
        {"instance_id": SCHEMA_STRING, "service": SCHEMA_STRING, "status": {"const": "ok", "type": "string"}},
        ["instance_id", "service", "status"],
    ),
    "Readiness": schema_object(
        "Readiness",
        {
            "checks": {"additionalProperties": SCHEMA_STRING, "type": "object"},
            "status": {"enum": ["ready", "unavailable"], "type": "string"},
        },
        ["checks", "status"],
    ),
}
