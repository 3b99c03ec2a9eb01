"""ComplianceClient reads the service's answers byte for byte into core's wire shapes.

The bytes are those the service answers (pinned in services/compliance/tests/service/
test_wire_shapes.py), served through httpx.MockTransport; test_compliance_client.py covers the
requests and the errors, tests/e2e/test_compliance_e2e.py a real process.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import msgspec

from mts1b_operations.client import (
    ClientConfig,
    ComplianceClient,
    ReportFileView,
    ReportPage,
    ReportProblem,
    ReportView,
)

REJECTED = (
    b'{"id":3,"regime":"firmx","fund_id":"firm-fund","event_type":"ROUTE",'
    b'"report_key":"firm-fund:4f1c6a52-0000-4000-8000-000000000003:ROUTE","order_id":"o-bad",'
    b'"source_event_id":"4f1c6a52-0000-4000-8000-000000000003","trade_date":"2026-03-16",'
    b'"event_time":"2026-03-16T14:30:00Z","status":"rejected","problems":[{"field":"destination",'
    b'"problem":"is required"}],"record":{"side":"buy","type":"ROUTE","symbol":"AAPL","orderID":"o-bad",'
    b'"quantity":"100","destination":null,"eventTimestamp":"2026-03-16T14:30:00+00:00"},"file_id":null,'
    b'"repaired_from":null,"created_at":"2026-11-25T14:23:46.982130Z","updated_at":"2026-11-25T14:23:46.982130Z"}'
)
REPAIRED = (
    b'{"id":4,"regime":"firmx","fund_id":"firm-fund","event_type":"ROUTE",'
    b'"report_key":"firm-fund:4f1c6a52-0000-4000-8000-000000000003:ROUTE","order_id":"o-bad",'
    b'"source_event_id":"4f1c6a52-0000-4000-8000-000000000003","trade_date":"2026-03-16",'
    b'"event_time":"2026-03-16T14:30:00Z","status":"pending","problems":[],"record":{"side":"buy",'
    b'"type":"ROUTE","symbol":"AAPL","orderID":"o-bad","quantity":"100","destination":"XNYS",'
    b'"eventTimestamp":"2026-03-16T14:30:00+00:00"},"file_id":null,"repaired_from":3,'
    b'"created_at":"2026-11-25T14:23:47.013916Z","updated_at":"2026-11-25T14:23:47.013916Z"}'
)
PAGE = b'{"items":[' + REJECTED + b'],"next_after_id":null}'
CAT_FILE = (
    b'{"id":1,"regime":"cat","fund_id":"live-equities","name":"SUB1_FIRM_20260316_OrderEvents_000001.json.bz2",'
    b'"trade_date":"2026-03-16","sequence":1,"record_count":2,"sha256":"' + b"ab" * 32 + b'",'
    b'"deadline":"2026-03-17T12:00:00Z","status":"submitted","attempts":1,"last_error":null,'
    b'"submitted_at":"2026-11-25T14:23:47.054605Z","created_at":"2026-11-25T14:23:47Z","overdue":false,'
    b'"metadata_name":"SUB1_FIRM_20260316_OrderEvents_000001.meta.json","metadata_sha256":"'
    + b"cd" * 32
    + b'"}'
)
FAILED_FILE = (
    b'{"id":2,"regime":"firmx","fund_id":"firm-fund","name":"FIRMX_firm-fund_20260316_000001.ndjson",'
    b'"trade_date":"2026-03-16","sequence":1,"record_count":3,"sha256":"' + b"ef" * 32 + b'",'
    b'"deadline":"2026-03-17T12:00:00Z","status":"failed","attempts":3,"last_error":"endpoint down",'
    b'"submitted_at":null,"created_at":"2026-11-25T14:23:47.024634Z","overdue":true,"metadata_name":null,'
    b'"metadata_sha256":null}'
)
FILES = b'{"items":[' + CAT_FILE + b"," + FAILED_FILE + b"]}"
ANSWERS = {
    ("GET", "/v1/compliance/reports"): PAGE,
    ("GET", "/v1/compliance/reports/3"): REJECTED,
    ("POST", "/v1/compliance/reports/3/repair"): REPAIRED,
    ("GET", "/v1/compliance/files"): FILES,
    ("POST", "/v1/compliance/files/flush"): FILES,
}


def serving(answers: dict[tuple[str, str], bytes]) -> ComplianceClient:
    def handler(request: httpx.Request) -> httpx.Response:
        body = answers.get((request.method, request.url.path))
        if body is None:
            return httpx.Response(404, json={"status_code": 404, "detail": "no", "extra": {}})
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    config = ClientConfig(compliance_url="http://compliance.test:8104", token="mts_op", get_attempts=1)
    return ComplianceClient.from_env(config, transport=httpx.MockTransport(handler))


async def test_every_answer_decodes_and_encodes_back_to_the_same_bytes() -> None:
    async with serving(ANSWERS) as client:
        page = await client.reports()
        report = await client.report(3)
        repaired = await client.repair(3, {"destination": "XNYS"}, reason="dropped")
        files = await client.files()
        cut = await client.flush()
    assert isinstance(page, ReportPage)
    assert page.items == [report]
    assert isinstance(report, ReportView)
    assert (report.status, report.trade_date) == ("rejected", date(2026, 3, 16))
    assert report.problems == [ReportProblem(field="destination", problem="is required")]
    assert [str(p) for p in report.problems] == ["destination: is required"]
    assert report.record["destination"] is None
    assert (repaired.repaired_from, repaired.record["destination"]) == (3, "XNYS")
    assert all(isinstance(f, ReportFileView) for f in files)
    cat, failed = files
    assert cat.metadata_name == "SUB1_FIRM_20260316_OrderEvents_000001.meta.json"
    assert cat.metadata_sha256 == "cd" * 32
    assert cat.deadline == datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
    assert (failed.status, failed.attempts, failed.last_error, failed.overdue) == (
        "failed",
        3,
        "endpoint down",
        True,
    )
    assert (failed.metadata_name, failed.submitted_at) == (None, None)
    assert cut == files
    # Every field the service sends is kept, in the service's order and encoding.
    for decoded, wire in ((page, PAGE), (report, REJECTED), (repaired, REPAIRED)):
        assert msgspec.json.encode(decoded) == wire
    assert msgspec.json.encode({"items": files}) == FILES


async def test_fields_a_newer_service_adds_are_ignored() -> None:
    newer = REJECTED[:-1] + b',"reviewed_by":"operator:alice","links":{"self":"/x"}}'
    async with serving({("GET", "/v1/compliance/reports/3"): newer}) as client:
        report = await client.report(3)
    assert msgspec.json.encode(report) == REJECTED


def test_the_answer_types_are_cores_wire_shapes() -> None:
    # The service encodes these very Structs: one definition, nothing to keep in step by hand.
    from mts1b_operations.core.schemas import compliance_api

    assert (ReportView, ReportPage, ReportProblem, ReportFileView) == (
        compliance_api.ReportView,
        compliance_api.ReportList,
        compliance_api.ProblemView,
        compliance_api.FileView,
    )
