"""`mts mts1b-operations compliance ...` against a stand-in of the compliance API (httpx.MockTransport).

The stand-in answers in the service's documented shapes and keeps what it was sent, so the
tests check both what the operator sees (tables, --json, exit codes) and what reached the
service (nothing, when a confirmation is refused). The same commands run against a real
mts1b-compliance process in tests/e2e/test_compliance_e2e.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from mts1b_operations.cli import ExitCode
from mts1b_operations.cli import compliance as compliance_cli
from mts1b_operations.cli.cmd import _confirm
from mts1b_operations.cli.main import cli
from mts1b_operations.client import ClientConfig, ComplianceClient

GOOD_DEPT = "A"


def report(report_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": report_id,
        "regime": "cat",
        "fund_id": "live-equities",
        "event_type": "MENO",
        "report_key": f"k{report_id}",
        "order_id": f"o-{report_id}",
        "source_event_id": f"o-{report_id}:new",
        "trade_date": "2026-11-24",
        "event_time": "2026-11-24T15:30:00+00:00",
        "status": "rejected",
        "problems": [{"field": "deptType", "problem": "required field is missing"}],
        "record": {"type": "MENO", "actionType": "NEW", "symbol": "AAPL", "quantity": 100},
        "file_id": None,
        "repaired_from": None,
        "created_at": "2026-11-24T15:30:01+00:00",
        "updated_at": "2026-11-24T15:30:01+00:00",
    }
    return body | changes


def report_file(file_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": file_id,
        "regime": "cat",
        "fund_id": "live-equities",
        "name": f"ABCD12345_LIVE_20261124_OrderEvents_{file_id:06d}.json",
        "trade_date": "2026-11-24",
        "sequence": file_id,
        "record_count": 3,
        "sha256": "0f" * 32,
        "deadline": "2026-11-25T13:00:00+00:00",
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "submitted_at": None,
        "created_at": "2026-11-24T21:00:00+00:00",
        "overdue": False,
    }
    return body | changes


def error(status: int, detail: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"status_code": status, "detail": detail, "extra": extra or None})


class FakeCompliance:
    """The compliance API's shapes over a dict; ``role`` is the caller's, ``sent`` what reached it."""

    def __init__(self) -> None:
        self.role = "operator"
        self.reports: dict[int, dict[str, Any]] = {
            7: report(7),
            8: report(8, status="filed", problems=[], file_id=1, record={"type": "MEOR", "deptType": "A"}),
        }
        self.files = [
            report_file(
                1,
                status="submitted",
                attempts=1,
                submitted_at="2026-11-24T22:00:00+00:00",
                metadata_name="ABCD12345_LIVE_20261124_OrderEvents_000001.meta.json",
                metadata_sha256="1e" * 32,
            ),
            report_file(2, status="failed", attempts=3, last_error="disk full", overdue=True),
        ]
        self.pending_files = [report_file(3)]
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        path, method = request.url.path, request.method
        if method == "POST" and self.role != "operator":
            return error(403, "role operator required", code="insufficient_role")
        if path == "/v1/compliance/reports":
            status = request.url.params.get("status")
            items = [r for r in self.reports.values() if status in (None, r["status"])]
            limit = int(request.url.params.get("limit", "100"))
            more = len(items) > limit
            return httpx.Response(
                200, json={"items": items[:limit], "next_after_id": items[limit - 1]["id"] if more else None}
            )
        if path == "/v1/compliance/files":
            return httpx.Response(200, json={"items": self.files})
        if path == "/v1/compliance/files/flush":
            cut, self.pending_files = self.pending_files, []
            self.files += cut
            return httpx.Response(200, json={"items": cut})
        parts = path.removeprefix("/v1/compliance/reports/").split("/")
        found = self.reports.get(int(parts[0]))
        if found is None:
            return error(404, f"no report {parts[0]}", code="not_found")
        if method == "GET":
            return httpx.Response(200, json=found)
        return self._repair(found, json.loads(request.content))

    def _repair(self, found: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        if found["status"] not in ("rejected", "failed"):
            return error(
                409, f"report {found['id']} is {found['status']}; not repairable", code="not_repairable"
            )
        if body["fields"].get("deptType") != GOOD_DEPT:
            problem = {"field": "deptType", "problem": "must be one of A, T, O"}
            return error(
                400, "still invalid: deptType", code="repair_invalid", field="deptType", problems=[problem]
            )
        new_id = max(self.reports) + 1
        record = found["record"] | body["fields"]
        self.reports[new_id] = report(
            new_id, status="pending", problems=[], record=record, repaired_from=found["id"]
        )
        found["status"] = "superseded"
        return httpx.Response(200, json=self.reports[new_id])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCompliance:
    api = FakeCompliance()
    config = ClientConfig(compliance_url="http://compliance.test", token="mts_test", get_attempts=1)
    monkeypatch.setattr(
        compliance_cli,
        "_client",
        lambda: ComplianceClient.from_env(config, transport=httpx.MockTransport(api)),
    )
    return api


def mts(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["mts1b-operations", "compliance", *args], input=input)


def test_the_group_is_listed_and_documents_its_commands() -> None:
    top = CliRunner().invoke(cli, ["mts1b-operations", "--help"])
    assert top.exit_code == 0
    assert "compliance" in top.stdout
    group = mts("--help")
    assert group.exit_code == 0
    for command in ("reports", "show", "files", "repair", "flush"):
        assert command in group.stdout


def test_reports_passes_the_filters_and_shows_the_problems(fake: FakeCompliance) -> None:
    result = mts(
        "reports", "--fund", "live-equities", "--regime", "cat", "--status", "rejected", "--limit", "5"
    )
    assert result.exit_code == 0, result.output
    assert dict(fake.sent[0].url.params) == {
        "fund_id": "live-equities",
        "regime": "cat",
        "status": "rejected",
        "limit": "5",
    }
    assert "deptType: required field is missing" in result.stdout
    assert "o-7" in result.stdout
    assert "o-8" not in result.stdout  # filed, filtered out by the stand-in


def test_reports_json_and_the_next_page_hint(fake: FakeCompliance) -> None:
    page = mts("reports", "--limit", "1", "--json")
    assert page.exit_code == 0, page.output
    data = json.loads(page.stdout)
    assert [r["id"] for r in data["items"]] == [7]
    assert data["next_after_id"] == 7
    assert data["items"][0]["problems"] == [{"field": "deptType", "problem": "required field is missing"}]
    table = mts("reports", "--limit", "1")
    assert "more: --after-id 7" in table.stdout


def test_no_reports_is_said_plainly(fake: FakeCompliance) -> None:
    result = mts("reports", "--status", "accepted")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no reports match"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("reports", "--status", "lost"), "--status"),
        (("reports", "--limit", "0"), "--limit"),
        (("reports", "--limit", "1001"), "--limit"),
        (("files", "--status", "rejected"), "--status"),
        (("show", "seven"), "REPORT_ID"),
    ],
)
def test_bad_arguments_exit_2_naming_them_before_anything_is_sent(
    fake: FakeCompliance, args: tuple[str, ...], named: str
) -> None:
    result = mts(*args)
    assert result.exit_code == ExitCode.USAGE
    assert named in result.output
    assert fake.sent == []


def test_show_prints_the_record_and_an_unknown_id_exits_2(fake: FakeCompliance) -> None:
    shown = mts("show", "7")
    assert shown.exit_code == 0, shown.output
    for text in ("report 7: cat MENO — rejected", "deptType", "required field is missing", "AAPL", "o-7:new"):
        assert text in shown.stdout
    as_json = json.loads(mts("show", "7", "--json").stdout)
    assert as_json["record"]["quantity"] == 100
    missing = mts("show", "99")
    assert missing.exit_code == ExitCode.USAGE
    assert "no report 99" in missing.stderr


def test_files_shows_deadlines_states_and_overdue(fake: FakeCompliance) -> None:
    result = mts("files", "--fund", "live-equities", "--regime", "cat", "--status", "failed")
    assert result.exit_code == 0, result.output
    assert dict(fake.sent[0].url.params) == {"fund_id": "live-equities", "regime": "cat", "status": "failed"}
    assert "ABCD12345_LIVE_20261124_OrderEvents_000002.json" in result.stdout
    assert "2026-11-25 13:00:00 UTC OVERDUE" in result.stdout
    assert "disk full" in result.stdout
    data = json.loads(mts("files", "--json").stdout)
    assert [(f["id"], f["status"], f["overdue"], f["metadata_name"]) for f in data] == [
        (1, "submitted", False, "ABCD12345_LIVE_20261124_OrderEvents_000001.meta.json"),
        (2, "failed", True, None),
    ]
    every = mts("files")
    assert "+ ABCD12345_LIVE_20261124_OrderEvents_000001.meta.json" in every.stdout


def test_flush_shows_the_files_cut_then_nothing_left(fake: FakeCompliance) -> None:
    first = mts("flush", "--fund", "live-equities", "--regime", "cat")
    assert first.exit_code == 0, first.output
    assert json.loads(fake.sent[0].content) == {"fund_id": "live-equities", "regime": "cat"}
    assert "files cut (1)" in first.stdout
    assert "ABCD12345_LIVE_20261124_OrderEvents_000003.json" in first.stdout
    again = mts("flush", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout) == []
    assert json.loads(fake.sent[1].content) == {"fund_id": None, "regime": None}


def test_a_viewer_cannot_flush(fake: FakeCompliance) -> None:
    fake.role = "viewer"
    result = mts("flush")
    assert result.exit_code == ExitCode.FAILURE
    assert "403 insufficient_role" in result.stderr


def test_repair_shows_the_change_sends_fields_and_reason_and_prints_the_new_report(
    fake: FakeCompliance,
) -> None:
    result = mts(
        "repair", "7", "--field", "deptType=A", "--field", "quantity:=150",
        "--reason", "desk code missing", "--confirm", "REPAIR",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    post = fake.sent[-1]
    assert (post.method, post.url.path) == ("POST", "/v1/compliance/reports/7/repair")
    assert json.loads(post.content) == {
        "fields": {"deptType": "A", "quantity": 150},
        "reason": "desk code missing",
    }
    assert "Repair of report 7" in result.stderr
    assert "(absent)" in result.stderr  # deptType had no value before
    assert "REPAIRED: report 7 is superseded by report 9 (pending)." in result.stdout
    assert fake.reports[7]["status"] == "superseded"


def test_repair_json_prints_only_the_new_report(fake: FakeCompliance) -> None:
    result = mts("repair", "7", "--field", "deptType=A", "--reason", "fix", "--confirm", "REPAIR", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["id"], data["repaired_from"], data["record"]["deptType"]) == (9, 7, "A")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--reason", "fix"), ExitCode.USAGE, "pass --confirm REPAIR"),
        (("--reason", "fix", "--confirm", "yes"), ExitCode.FAILURE, "is not REPAIR"),
        (("--confirm", "REPAIR"), ExitCode.USAGE, "--reason is required"),
        (("--reason", "  ", "--confirm", "REPAIR"), ExitCode.USAGE, "--reason is required"),
    ],
)
def test_repair_without_confirmation_or_reason_sends_nothing(
    fake: FakeCompliance, args: tuple[str, ...], code: int, message: str
) -> None:
    result = mts("repair", "7", "--field", "deptType=A", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert fake.sent == []


def test_repair_on_a_terminal_asks_for_the_word_and_the_reason(
    fake: FakeCompliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_confirm, "interactive", lambda: True)
    refused = mts("repair", "7", "--field", "deptType=A", input="repair\n")
    assert refused.exit_code == ExitCode.FAILURE
    assert "typed 'repair', not REPAIR" in refused.stderr
    assert [r.method for r in fake.sent] == ["GET"]  # shown, not sent

    typed = mts("repair", "7", "--field", "deptType=A", input="REPAIR\ndesk code missing\n")
    assert typed.exit_code == 0, typed.output
    assert json.loads(fake.sent[-1].content)["reason"] == "desk code missing"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("deptType", "is not NAME=VALUE"),
        ("=A", "is not NAME=VALUE"),
        ("quantity:=ten", "is not JSON"),
    ],
)
def test_a_malformed_field_exits_2_naming_it(fake: FakeCompliance, field: str, message: str) -> None:
    result = mts("repair", "7", "--field", field, "--reason", "fix", "--confirm", "REPAIR")
    assert result.exit_code == ExitCode.USAGE
    assert "--field" in result.output
    assert message in result.output
    assert fake.sent == []


def test_a_field_given_twice_is_refused(fake: FakeCompliance) -> None:
    result = mts("repair", "7", "--field", "a=1", "--field", "a=2", "--reason", "x", "--confirm", "REPAIR")
    assert result.exit_code == ExitCode.USAGE
    assert "a is given twice" in result.output


def test_a_repair_that_still_fails_lists_what_is_wrong_and_exits_2(fake: FakeCompliance) -> None:
    result = mts("repair", "7", "--field", "deptType=Z", "--reason", "fix", "--confirm", "REPAIR")
    assert result.exit_code == ExitCode.USAGE
    assert "repair refused" in result.stderr
    assert "[field: deptType]" in result.stderr
    assert "must be one of A, T, O" in result.stdout
    as_json = mts("repair", "7", "--field", "deptType=Z", "--reason", "fix", "--confirm", "REPAIR", "--json")
    assert json.loads(as_json.stdout)["problems"] == [
        {"field": "deptType", "problem": "must be one of A, T, O"}
    ]
    assert fake.reports[7]["status"] == "rejected"


def test_a_filed_report_is_not_repairable_and_an_unknown_one_exits_2(fake: FakeCompliance) -> None:
    filed = mts("repair", "8", "--field", "deptType=A", "--reason", "fix", "--confirm", "REPAIR")
    assert filed.exit_code == ExitCode.FAILURE
    assert "not_repairable" in filed.stderr
    unknown = mts("repair", "99", "--field", "deptType=A", "--reason", "fix", "--confirm", "REPAIR")
    assert unknown.exit_code == ExitCode.USAGE
    assert "no report 99" in unknown.stderr
    assert [r.method for r in fake.sent] == ["GET", "POST", "GET"]


def test_an_unreachable_service_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    config = ClientConfig(compliance_url="http://compliance.test", token="t", get_attempts=1)
    monkeypatch.setattr(
        compliance_cli,
        "_client",
        lambda: ComplianceClient.from_env(config, transport=httpx.MockTransport(refuse)),
    )
    result = mts("files")
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "connection refused" in result.stderr


def test_a_refused_token_exits_1_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ClientConfig(compliance_url="http://compliance.test", token="t", get_attempts=1)
    unknown = httpx.MockTransport(lambda request: error(401, "unknown token", code="token_unknown"))
    monkeypatch.setattr(
        compliance_cli, "_client", lambda: ComplianceClient.from_env(config, transport=unknown)
    )
    result = mts("reports")
    assert result.exit_code == ExitCode.FAILURE
    assert "token_unknown" in result.stderr
    assert "MTS_TOKEN" in result.stderr
