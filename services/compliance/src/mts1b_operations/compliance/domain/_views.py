"""What the service shows of a stored report or file (HTTP bodies), and the facts it publishes.

Pure data: the Postgres adapter fills these from rows; :func:`report_fact` / :func:`file_fact`
turn them into the payloads on ``mts.v1.operations.compliance.*`` that land in the audit chain.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final, Literal, get_args

import msgspec

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import ComplianceFileFact, ComplianceProblem, ComplianceReportFact

__all__ = [
    "FILE_STATUSES",
    "REPAIRABLE_STATUSES",
    "REPORT_STATUSES",
    "FileStatus",
    "FileView",
    "ProblemView",
    "ReportStatusInStore",
    "ReportView",
    "file_fact",
    "file_fact_event_id",
    "report_fact",
    "report_fact_event_id",
]

ReportStatusInStore = Literal["rejected", "pending", "filed", "submitted", "accepted", "failed", "superseded"]
"""``pending``: valid, waiting for the next cut; ``filed``: in a file not yet submitted;
``failed``: refused by the regulator after submission (repairable, like ``rejected``)."""
FileStatus = Literal["pending", "submitted", "failed"]

REPORT_STATUSES: Final[tuple[str, ...]] = get_args(ReportStatusInStore)
FILE_STATUSES: Final[tuple[str, ...]] = get_args(FileStatus)
REPAIRABLE_STATUSES: Final[frozenset[str]] = frozenset({"rejected", "failed"})


class ProblemView(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    """The specification's field name."""
    problem: str


class ReportView(msgspec.Struct, frozen=True, kw_only=True):
    """One stored regulatory report."""

    id: int
    regime: str
    fund_id: str
    event_type: str
    report_key: str
    order_id: str
    source_event_id: str
    trade_date: date
    event_time: datetime
    status: ReportStatusInStore
    problems: list[ProblemView]
    record: dict[str, Any]
    """The record by the specification's field names, as filed."""
    file_id: int | None
    repaired_from: int | None
    created_at: datetime
    updated_at: datetime


class FileView(msgspec.Struct, frozen=True, kw_only=True):
    """One submission file (with its metadata file, when the regime has one) and the transport's
    outcome: ``submitted`` once both went."""

    id: int
    regime: str
    fund_id: str
    name: str
    trade_date: date
    sequence: int
    record_count: int
    sha256: str
    deadline: datetime
    status: FileStatus
    attempts: int
    last_error: str | None
    submitted_at: datetime | None
    created_at: datetime
    overdue: bool
    """Not submitted and past its regulatory deadline."""
    metadata_name: str | None = None
    """The metadata file submitted right after this one (CAT: ``<name>.meta.json``), if any."""
    metadata_sha256: str | None = None


def report_fact_event_id(report_id: int, outcome: str) -> str:
    return f"compliance:report:{report_id}:{outcome}"


def file_fact_event_id(file_id: int, status: str, attempts: int) -> str:
    return f"compliance:file:{file_id}:{status}:{attempts}"


def report_fact(
    view: ReportView, *, outcome: str, actor: str, at: datetime, reason: str | None = None
) -> tuple[str, ComplianceReportFact]:
    """The subject and payload announcing ``view`` as ``stored``, ``rejected`` or ``repaired``."""
    payload = ComplianceReportFact(
        report_id=view.id,
        regime=view.regime,
        fund_id=view.fund_id,
        report_key=view.report_key,
        event_type=view.event_type,
        order_id=view.order_id,
        source_event_id=view.source_event_id,
        trade_date=view.trade_date,
        status=view.status,
        problems=[ComplianceProblem(field=p.field, problem=p.problem) for p in view.problems],
        repaired_from=view.repaired_from,
        reason=reason,
        actor=actor,
        at=at,
    )
    return subjects.compliance_report(outcome), payload


def file_fact(
    view: FileView, *, actor: str, at: datetime, destination: str | None = None
) -> tuple[str, ComplianceFileFact]:
    """The subject and payload announcing a file's submission outcome (``submitted`` or ``failed``)."""
    status: Literal["submitted", "failed"] = "submitted" if view.status == "submitted" else "failed"
    payload = ComplianceFileFact(
        file_id=view.id,
        regime=view.regime,
        fund_id=view.fund_id,
        name=view.name,
        trade_date=view.trade_date,
        sequence=view.sequence,
        record_count=view.record_count,
        sha256=view.sha256,
        deadline=view.deadline,
        status=status,
        attempts=view.attempts,
        error=(view.last_error or "unknown error")[:8192] if status == "failed" else None,
        destination=destination,
        metadata_name=view.metadata_name,
        metadata_sha256=view.metadata_sha256,
        actor=actor,
        at=at,
    )
    return subjects.compliance_file(status), payload
