"""ComplianceClient against httpx.MockTransport: the requests it sends, the answers it reads, its errors.

MockTransport stands in for the network (the SDK's unit tests); the end-to-end test in
tests/e2e/test_compliance_e2e.py runs the same client against a real mts1b-compliance process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from mts1b_operations.client import (
    BadRequestError,
    ClientConfig,
    ComplianceClient,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ReportFileView,
    ReportProblem,
    ReportView,
    ServiceUnavailableError,
    UnexpectedResponseError,
    repair_problems,
)

Handler = Callable[[httpx.Request], httpx.Response]


def report_json(report_id: int = 7, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": report_id,
        "regime": "cat",
        "fund_id": "live-equities",
        "event_type": "MENO",
        "report_key": f"live-equities-o{report_id}-MENO",
        "order_id": f"o{report_id}",
        "source_event_id": f"o{report_id}:new",
        "trade_date": "2026-11-24",
        "event_time": "2026-11-24T15:30:00.123456+00:00",
        "status": "rejected",
        "problems": [{"field": "deptType", "problem": "required"}],
        "record": {"type": "MENO", "actionType": "NEW"},
        "file_id": None,
        "repaired_from": None,
        "created_at": "2026-11-24T15:30:01+00:00",
        "updated_at": "2026-11-24T15:30:01+00:00",
    }
    return body | changes


def file_json(file_id: int = 3, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": file_id,
        "regime": "cat",
        "fund_id": "live-equities",
        "name": "ABCD12345_LIVE_20261124_OrderEvents_000001.json",
        "trade_date": "2026-11-24",
        "sequence": 1,
        "record_count": 12,
        "sha256": "ab" * 32,
        "deadline": "2026-11-25T13:00:00+00:00",
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "submitted_at": None,
        "created_at": "2026-11-24T21:00:00+00:00",
        "overdue": False,
    }
    return body | changes


class Recorded:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def compliance(handler: Handler, *, token: str | None = "mts_op") -> tuple[ComplianceClient, Recorded]:
    recorded = Recorded(handler)
    config = ClientConfig(compliance_url="http://compliance.test:8104", token=token, get_attempts=2)
    return ComplianceClient.from_env(config, transport=httpx.MockTransport(recorded)), recorded


def answer(status: int, body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


async def test_reports_sends_only_the_filters_given_and_reads_the_page() -> None:
    client, calls = compliance(answer(200, {"items": [report_json(7)], "next_after_id": 7}))
    async with client:
        page = await client.reports(fund_id="live-equities", regime="cat", status="rejected", limit=50)
        await client.reports()
    request = calls.requests[0]
    assert request.method == "GET"
    assert str(request.url).startswith("http://compliance.test:8104/v1/compliance/reports?")
    assert dict(request.url.params) == {
        "fund_id": "live-equities",
        "regime": "cat",
        "status": "rejected",
        "limit": "50",
    }
    assert request.headers["authorization"] == "Bearer mts_op"
    assert dict(calls.last.url.params) == {}
    assert page.next_after_id == 7
    [report] = page.items
    assert isinstance(report, ReportView)
    assert (report.id, report.event_type, report.status) == (7, "MENO", "rejected")
    assert report.trade_date == date(2026, 11, 24)
    assert report.event_time == datetime(2026, 11, 24, 15, 30, 0, 123456, tzinfo=UTC)
    assert report.problems == [ReportProblem(field="deptType", problem="required")]
    assert str(report.problems[0]) == "deptType: required"
    assert report.record == {"type": "MENO", "actionType": "NEW"}


async def test_iter_reports_follows_next_after_id_until_the_last_page() -> None:
    pages = {
        None: {"items": [report_json(1), report_json(2)], "next_after_id": 2},
        "2": {"items": [report_json(3)], "next_after_id": None},
    }
    client, calls = compliance(lambda r: httpx.Response(200, json=pages[r.url.params.get("after_id")]))
    async with client:
        ids = [r.id async for r in client.iter_reports(regime="cat", page_size=2)]
    assert ids == [1, 2, 3]
    assert [dict(r.url.params) for r in calls.requests] == [
        {"regime": "cat", "limit": "2"},
        {"regime": "cat", "limit": "2", "after_id": "2"},
    ]


async def test_report_gets_one_by_id_and_an_unknown_id_is_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/compliance/reports/7":
            return httpx.Response(200, json=report_json(7, status="pending", problems=[]))
        return httpx.Response(
            404, json={"status_code": 404, "detail": "no report 8", "extra": {"code": "not_found"}}
        )

    client, _ = compliance(handler)
    async with client:
        report = await client.report(7)
        with pytest.raises(NotFoundError) as missing:
            await client.report(8)
    assert (report.id, report.status, report.problems) == (7, "pending", [])
    assert missing.value.code == "not_found"
    assert "no report 8" in str(missing.value)


@pytest.mark.parametrize("bad", [0, -1, True, "7", 1.5])
async def test_report_ids_must_be_positive_integers(bad: Any) -> None:
    client, calls = compliance(answer(200, report_json()))
    async with client:
        with pytest.raises(ConfigurationError, match="report_id"):
            await client.report(bad)
        with pytest.raises(ConfigurationError, match="report_id"):
            await client.repair(bad, {"deptType": "A"}, reason="fix")
    assert calls.requests == []


async def test_repair_posts_fields_and_reason_and_returns_the_new_report() -> None:
    repaired = report_json(9, status="pending", problems=[], repaired_from=7)
    client, calls = compliance(answer(200, repaired))
    async with client:
        report = await client.repair(7, {"deptType": "A", "price": "10.50"}, reason="desk code missing")
    assert calls.last.method == "POST"
    assert calls.last.url.path == "/v1/compliance/reports/7/repair"
    assert calls.last.headers["content-type"] == "application/json"
    assert calls.body() == {"fields": {"deptType": "A", "price": "10.50"}, "reason": "desk code missing"}
    assert (report.id, report.repaired_from, report.status) == (9, 7, "pending")


async def test_a_repair_of_a_report_that_is_not_repairable_is_a_conflict_sent_once() -> None:
    body = {
        "status_code": 409,
        "detail": "report 7 is filed; only rejected or failed reports can be repaired",
        "extra": {"code": "not_repairable"},
    }
    client, calls = compliance(answer(409, body))
    async with client:
        with pytest.raises(ConflictError) as refused:
            await client.repair(7, {"deptType": "A"}, reason="fix")
    assert refused.value.code == "not_repairable"
    assert "only rejected or failed" in refused.value.message
    assert len(calls.requests) == 1


async def test_a_repair_that_still_leaves_problems_names_the_field_and_lists_them() -> None:
    problems = [
        {"field": "deptType", "problem": "must be one of A, T, O"},
        {"field": "side", "problem": "required"},
    ]
    body = {
        "status_code": 400,
        "detail": "the repaired report still has 2 problem(s): deptType, side",
        "extra": {"code": "repair_invalid", "field": "deptType", "problems": problems},
    }
    client, _ = compliance(answer(400, body))
    async with client:
        with pytest.raises(BadRequestError) as refused:
            await client.repair(7, {"deptType": "Z"}, reason="fix")
    assert refused.value.field == "deptType"
    assert refused.value.code == "repair_invalid"
    assert repair_problems(refused.value) == [
        ReportProblem(field="deptType", problem="must be one of A, T, O"),
        ReportProblem(field="side", problem="required"),
    ]


def test_repair_problems_reads_a_top_level_list_and_tolerates_anything_else() -> None:
    def error(body: object) -> BadRequestError:
        return BadRequestError(400, "bad", code="bad_request", body=body)

    top = error({"problems": [{"field": "price", "problem": "not a number"}]})
    assert repair_problems(top) == [ReportProblem(field="price", problem="not a number")]
    assert repair_problems(error({"detail": "bad"})) == []
    assert repair_problems(error("plain text")) == []
    assert repair_problems(error({"problems": [{"field": 1}]})) == []


async def test_files_sends_the_filters_and_reads_the_files() -> None:
    overdue = file_json(4, status="failed", attempts=3, last_error="disk full", overdue=True)
    client, calls = compliance(answer(200, {"items": [file_json(3), overdue]}))
    async with client:
        files = await client.files(fund_id="live-equities", regime="cat", status="pending")
        await client.files()
    assert calls.requests[0].url.path == "/v1/compliance/files"
    assert dict(calls.requests[0].url.params) == {
        "fund_id": "live-equities",
        "regime": "cat",
        "status": "pending",
    }
    assert dict(calls.last.url.params) == {}
    assert all(isinstance(f, ReportFileView) for f in files)
    assert [(f.id, f.status, f.overdue) for f in files] == [(3, "pending", False), (4, "failed", True)]
    assert files[0].deadline == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert files[0].trade_date == date(2026, 11, 24)
    assert files[1].last_error == "disk full"


async def test_flush_posts_the_scope_and_returns_the_files_cut() -> None:
    client, calls = compliance(answer(200, {"items": [file_json(5)]}))
    async with client:
        cut = await client.flush(fund_id="live-equities", regime="cat")
        everything = await client.flush()
    assert calls.requests[0].method == "POST"
    assert calls.requests[0].url.path == "/v1/compliance/files/flush"
    assert calls.body(0) == {"fund_id": "live-equities", "regime": "cat"}
    assert calls.body(1) == {"fund_id": None, "regime": None}
    assert [f.id for f in cut] == [5]
    assert [f.id for f in everything] == [5]


async def test_a_viewer_flushing_is_refused_with_the_role_it_needs() -> None:
    body = {
        "status_code": 403,
        "detail": "role operator required",
        "extra": {"code": "insufficient_role", "required_role": "operator", "role": "viewer"},
    }
    client, _ = compliance(answer(403, body))
    async with client:
        with pytest.raises(PermissionDeniedError) as refused:
            await client.flush()
    assert refused.value.code == "insufficient_role"


async def test_a_bad_filter_is_a_bad_request_naming_the_field() -> None:
    body = {
        "status_code": 400,
        "detail": "Validation failed for GET /v1/compliance/reports",
        "extra": [{"message": "Expected `int` >= 1", "key": "limit", "source": "query"}],
    }
    client, _ = compliance(answer(400, body))
    async with client:
        with pytest.raises(BadRequestError) as refused:
            await client.reports(limit=0)
    assert refused.value.field == "limit"


async def test_reads_are_retried_on_503_but_a_flush_is_sent_once() -> None:
    answers = iter(
        [httpx.Response(503, json={"detail": "starting"}), httpx.Response(200, json={"items": []})]
    )
    client, calls = compliance(lambda request: next(answers))
    async with client:
        assert await client.files() == []
    assert len(calls.requests) == 2

    client, calls = compliance(answer(503, {"detail": "database unavailable"}))
    async with client:
        with pytest.raises(ServiceUnavailableError):
            await client.flush()
    assert len(calls.requests) == 1


async def test_an_answer_of_the_wrong_shape_is_unexpected() -> None:
    client, _ = compliance(answer(200, {"items": [{"id": "seven"}]}))
    async with client:
        with pytest.raises(UnexpectedResponseError, match="ReportList"):  # ReportPage is core.ReportList
            await client.reports()
