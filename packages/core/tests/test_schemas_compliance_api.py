"""core.schemas.compliance_api: the compliance API's answers, shared by the service and the SDK."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.schemas import compliance_api
from mts1b_operations.core.schemas.compliance_api import (
    FileList,
    FileView,
    ProblemView,
    ReportList,
    ReportView,
)

AT = datetime(2026, 3, 16, 14, 30, tzinfo=UTC)

REPORT = ReportView(
    id=3,
    regime="cat",
    fund_id="live-equities",
    event_type="MENO",
    report_key="live-equities:e-1:MENO",
    order_id="o-1",
    source_event_id="e-1",
    trade_date=date(2026, 3, 16),
    event_time=AT,
    status="rejected",
    problems=[ProblemView(field="deptType", problem="is required")],
    record={"type": "MENO", "price": "189.25", "deptType": None},
    file_id=None,
    repaired_from=None,
    created_at=AT,
    updated_at=AT,
)
FILE = FileView(
    id=1,
    regime="cat",
    fund_id="live-equities",
    name="SUB1_FIRM_20260316_OrderEvents_000001.json.bz2",
    trade_date=date(2026, 3, 16),
    sequence=1,
    record_count=2,
    sha256="ab" * 32,
    deadline=AT,
    status="pending",
    attempts=0,
    last_error=None,
    submitted_at=None,
    created_at=AT,
    overdue=True,
)
SAMPLES: list[msgspec.Struct] = [
    ProblemView(field="side", problem="required"),
    REPORT,
    ReportList(items=[REPORT], next_after_id=3),
    FILE,
    FileList(items=[FILE]),
]


@pytest.mark.parametrize("answer", SAMPLES, ids=lambda a: type(a).__name__)
def test_answers_round_trip_untagged_and_ignore_unknown_fields(answer: msgspec.Struct) -> None:
    data = msgspec.json.encode(answer)
    assert not data.startswith(b'{"type"')
    assert msgspec.json.decode(data, type=type(answer)) == answer
    newer = data[:-1] + b',"added_later":{"x":[1]}}'
    assert msgspec.json.decode(newer, type=type(answer)) == answer


def test_field_order_defaults_and_the_problem_as_text() -> None:
    assert msgspec.json.encode(FILE).endswith(
        b'"created_at":"2026-03-16T14:30:00Z","overdue":true,"metadata_name":null,"metadata_sha256":null}'
    )
    assert ReportList.__struct_fields__ == ("items", "next_after_id")
    assert str(REPORT.problems[0]) == "deptType: is required"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ((b'"status":"rejected"', b'"status":"lost"'), "$.status"),
        ((b'"file_id":null,', b""), "$.file_id"),
    ],
)
def test_an_answer_that_breaks_its_shape_names_the_field(change: tuple[bytes, bytes], path: str) -> None:
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(msgspec.json.encode(REPORT).replace(*change), ReportView)
    assert caught.value.path == path


def test_they_are_not_bus_payloads() -> None:
    assert not any(isinstance(answer, schemas.Payload) for answer in SAMPLES)
    assert not set(compliance_api.__all__) & set(schemas.__all__)
    assert set(compliance_api.__all__) == {
        "FileList",
        "FileStatus",
        "FileView",
        "ProblemView",
        "ReportList",
        "ReportStatusInStore",
        "ReportView",
    }
