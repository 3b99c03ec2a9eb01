"""What the service shows of a stored report or file (HTTP bodies), and the facts it publishes.

Pure data: the Postgres adapter fills these from rows; :func:`report_fact` / :func:`file_fact`
turn them into the payloads on ``mts.v1.operations.compliance.*`` that land in the audit chain.
The views are core's wire shapes (``core.schemas.compliance_api``, re-exported here), the
Structs the SDK decodes into.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal, get_args

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import ComplianceFileFact, ComplianceProblem, ComplianceReportFact
from mts1b_operations.core.schemas.compliance_api import (
    FileStatus,
    FileView,
    ProblemView,
    ReportStatusInStore,
    ReportView,
)

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

REPORT_STATUSES: Final[tuple[str, ...]] = get_args(ReportStatusInStore)
FILE_STATUSES: Final[tuple[str, ...]] = get_args(FileStatus)
REPAIRABLE_STATUSES: Final[frozenset[str]] = frozenset({"rejected", "failed"})


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
