"""The exact bytes of every answer of the compliance API, and the OpenAPI components that describe them.

The SDK decodes these answers into the same core Structs (``core.schemas.compliance_api``); a
change to a field's name, order, type or encoding shows up here byte for byte, and a change to
what the schema documents shows up in the components. What the service generates (ids from
Postgres sequences, times from Postgres) is a ``<placeholder>`` that must match its pattern, and
the same placeholder the same value wherever it recurs; every other byte is pinned.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import (
    HEALTH_COMPONENTS,
    SCHEMA_BOOL,
    SCHEMA_DATE,
    SCHEMA_DATE_TIME,
    SCHEMA_INT,
    SCHEMA_STRING,
    eventually,
    match_template,
    schema_list_of,
    schema_null_or,
    schema_object,
    schema_ref,
)

from .conftest import ComplianceApp, order_event, publish, report_rows

pytestmark = pytest.mark.timeout(120)

_ID = r"[1-9]\d*"
_INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z"
PATTERNS: dict[str, str] = {
    "new_id": _ID,
    "fill_id": _ID,
    "route_id": _ID,
    "repaired_id": _ID,
    "file_id": _ID,
    "new_at": _INSTANT,
    "fill_at": _INSTANT,
    "route_at": _INSTANT,
    "route_updated_at": _INSTANT,
    "repaired_at": _INSTANT,
    "file_at": _INSTANT,
    "submitted_at": _INSTANT,
}


def pinned(body: bytes, template: bytes, known: dict[str, str]) -> dict[str, str]:
    return match_template(body, template, patterns=PATTERNS, known=known)


NEW_EVENT = "4f1c6a52-0000-4000-8000-000000000001"
FILL_EVENT = "4f1c6a52-0000-4000-8000-000000000002"
ROUTE_EVENT = "4f1c6a52-0000-4000-8000-000000000003"


def report(
    name: str,
    event_type: str,
    event_id: str,
    order_id: str,
    status: str,
    record: str,
    *,
    problems: str = "",
    repaired_from: str = "null",
) -> bytes:
    return (
        f'{{"id":<{name}_id>,"regime":"firmx","fund_id":"firm-fund","event_type":"{event_type}",'
        f'"report_key":"firm-fund:{event_id}:{event_type}","order_id":"{order_id}",'
        f'"source_event_id":"{event_id}","trade_date":"2026-03-16","event_time":"2026-03-16T14:30:00Z",'
        f'"status":"{status}","problems":[{problems}],"record":{{"side":"buy","type":"{event_type}",'
        f'{record}"eventTimestamp":"2026-03-16T14:30:00+00:00"}},"file_id":null,'
        f'"repaired_from":{repaired_from},"created_at":"<{name}_at>","updated_at":"<{name}_at>"}}'
    ).encode()


NEW = report("new", "NEW", NEW_EVENT, "o-1", "pending", '"symbol":"AAPL","orderID":"o-1","quantity":"100",')
FILL = report(
    "fill",
    "FILL",
    FILL_EVENT,
    "o-1",
    "pending",
    '"price":"189.20","symbol":"AAPL","orderID":"o-1","quantity":"100",',
)
ROUTE_FIELDS = '"symbol":"AAPL","orderID":"o-bad","quantity":"100","destination":{},'
REJECTED = report(
    "route",
    "ROUTE",
    ROUTE_EVENT,
    "o-bad",
    "rejected",
    ROUTE_FIELDS.format("null"),
    problems='{"field":"destination","problem":"is required"}',
)
REPAIRED = report(
    "repaired",
    "ROUTE",
    ROUTE_EVENT,
    "o-bad",
    "pending",
    ROUTE_FIELDS.format('"XNYS"'),
    repaired_from="<route_id>",
)
FILE = (
    b'{"id":<file_id>,"regime":"firmx","fund_id":"firm-fund","name":"FIRMX_firm-fund_20260316_000001.ndjson",'
    b'"trade_date":"2026-03-16","sequence":1,"record_count":3,'
    b'"sha256":"<sha256>","deadline":"2026-03-17T12:00:00Z","status":"submitted",'
    b'"attempts":1,"last_error":null,"submitted_at":"<submitted_at>","created_at":"<file_at>","overdue":false,'
    b'"metadata_name":null,"metadata_sha256":null}'
)
PATTERNS["sha256"] = "[0-9a-f]{64}"


async def test_every_answer_byte_for_byte(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    for event in (
        order_event("new", event_id=NEW_EVENT),
        order_event("filled", event_id=FILL_EVENT),
        order_event("routed", event_id=ROUTE_EVENT, venue=None, order_id="o-bad"),
    ):
        await publish(bus, event)

    async def stored() -> bool:
        return len(await report_rows(pool)) == 3

    await eventually(stored, what="3 reports")
    page = await compliance_app.get("/v1/compliance/reports", limit=2)
    v = pinned(page.content, b'{"items":[' + NEW + b"," + FILL + b'],"next_after_id":<fill_id>}', {})
    rejected = await compliance_app.get("/v1/compliance/reports", status="rejected")
    v = pinned(rejected.content, b'{"items":[' + REJECTED + b'],"next_after_id":null}', v)
    one = await compliance_app.get(f"/v1/compliance/reports/{v['route_id']}")
    v = pinned(one.content, REJECTED, v)

    repaired = await compliance_app.post(
        f"/v1/compliance/reports/{v['route_id']}/repair",
        {"fields": {"destination": "XNYS"}, "reason": "dropped"},
    )
    assert repaired.status_code == 200
    v = pinned(repaired.content, REPAIRED, v)
    superseded = await compliance_app.get(f"/v1/compliance/reports/{v['route_id']}")
    v = pinned(
        superseded.content,
        REJECTED.replace(b'"status":"rejected"', b'"status":"superseded"').replace(
            b'"updated_at":"<route_at>"', b'"updated_at":"<route_updated_at>"'
        ),
        v,
    )

    flushed = await compliance_app.post("/v1/compliance/files/flush", {"fund_id": "firm-fund"})
    assert flushed.status_code == 200
    v = pinned(flushed.content, b'{"items":[' + FILE + b"]}", v)
    v = pinned((await compliance_app.get("/v1/compliance/files")).content, b'{"items":[' + FILE + b"]}", v)
    assert (await compliance_app.post("/v1/compliance/files/flush", {})).content == b'{"items":[]}'
    assert (await compliance_app.get("/v1/compliance/files", status="failed")).content == b'{"items":[]}'


# ---------------------------------------------------------------------- OpenAPI components


_ID_QUERY = {"maxLength": 128, "minLength": 1, **schema_null_or(SCHEMA_STRING)}

ANSWER_COMPONENTS: dict[str, dict[str, Any]] = {
    "ProblemView": schema_object(
        "ProblemView", {"field": SCHEMA_STRING, "problem": SCHEMA_STRING}, ["field", "problem"]
    ),
    "ReportView": schema_object(
        "ReportView",
        {
            "created_at": SCHEMA_DATE_TIME,
            "event_time": SCHEMA_DATE_TIME,
            "event_type": SCHEMA_STRING,
            "file_id": schema_null_or(SCHEMA_INT),
            "fund_id": SCHEMA_STRING,
            "id": SCHEMA_INT,
            "order_id": SCHEMA_STRING,
            "problems": schema_list_of(schema_ref("ProblemView")),
            "record": {"additionalProperties": {}, "type": "object"},
            "regime": SCHEMA_STRING,
            "repaired_from": schema_null_or(SCHEMA_INT),
            "report_key": SCHEMA_STRING,
            "source_event_id": SCHEMA_STRING,
            "status": {
                "enum": ["rejected", "pending", "filed", "submitted", "accepted", "failed", "superseded"],
                "type": "string",
            },
            "trade_date": SCHEMA_DATE,
            "updated_at": SCHEMA_DATE_TIME,
        },
        [
            "created_at",
            "event_time",
            "event_type",
            "file_id",
            "fund_id",
            "id",
            "order_id",
            "problems",
            "record",
            "regime",
            "repaired_from",
            "report_key",
            "source_event_id",
            "status",
            "trade_date",
            "updated_at",
        ],
    ),
    "ReportList": schema_object(
        "ReportList",
        {"items": schema_list_of(schema_ref("ReportView")), "next_after_id": schema_null_or(SCHEMA_INT)},
        ["items", "next_after_id"],
    ),
    "FileView": schema_object(
        "FileView",
        {
            "attempts": SCHEMA_INT,
            "created_at": SCHEMA_DATE_TIME,
            "deadline": SCHEMA_DATE_TIME,
            "fund_id": SCHEMA_STRING,
            "id": SCHEMA_INT,
            "last_error": schema_null_or(SCHEMA_STRING),
            "metadata_name": schema_null_or(SCHEMA_STRING),
            "metadata_sha256": schema_null_or(SCHEMA_STRING),
            "name": SCHEMA_STRING,
            "overdue": SCHEMA_BOOL,
            "record_count": SCHEMA_INT,
            "regime": SCHEMA_STRING,
            "sequence": SCHEMA_INT,
            "sha256": SCHEMA_STRING,
            "status": {"enum": ["pending", "submitted", "failed"], "type": "string"},
            "submitted_at": schema_null_or(SCHEMA_DATE_TIME),
            "trade_date": SCHEMA_DATE,
        },
        [
            "attempts",
            "created_at",
            "deadline",
            "fund_id",
            "id",
            "last_error",
            "name",
            "overdue",
            "record_count",
            "regime",
            "sequence",
            "sha256",
            "status",
            "submitted_at",
            "trade_date",
        ],
    ),
    "FileList": schema_object("FileList", {"items": schema_list_of(schema_ref("FileView"))}, ["items"]),
    **HEALTH_COMPONENTS,
}
BODY_COMPONENTS: dict[str, dict[str, Any]] = {
    "FlushBody": schema_object("FlushBody", {"fund_id": _ID_QUERY, "regime": _ID_QUERY}, []),
    "RepairBody": schema_object(
        "RepairBody",
        {
            "fields": {"additionalProperties": {}, "type": "object"},
            "reason": {"maxLength": 8192, "minLength": 1, "type": "string"},
        },
        ["fields", "reason"],
    ),
}
ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/v1/compliance/reports"): schema_ref("ReportList"),
    ("get", "/v1/compliance/reports/{report_id}"): schema_ref("ReportView"),
    ("post", "/v1/compliance/reports/{report_id}/repair"): schema_ref("ReportView"),
    ("get", "/v1/compliance/files"): schema_ref("FileList"),
    ("post", "/v1/compliance/files/flush"): schema_ref("FileList"),
    ("get", "/v1/healthz"): schema_ref("Liveness"),
    ("get", "/v1/readyz"): schema_ref("Readiness"),
}


async def test_openapi_components_describe_the_answers(compliance_app: ComplianceApp) -> None:
    schema = (await compliance_app.http.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert set(components) == {*ANSWER_COMPONENTS, *BODY_COMPONENTS, "ErrorBody"}
    for name, expected in {**ANSWER_COMPONENTS, **BODY_COMPONENTS}.items():
        assert components[name] == expected, name
    for (method, path), expected in ANSWERS.items():
        ok = schema["paths"][path][method]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == expected, (method, path)
