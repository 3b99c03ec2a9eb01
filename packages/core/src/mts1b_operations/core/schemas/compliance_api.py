"""The answers of the compliance API (``mts1b-compliance``), as they go on the wire.

The service encodes these Structs and the SDK (``mts1b_operations.client``) decodes into them, so
the two cannot drift. They are HTTP answers, not bus payloads: untagged, and without the bus
payloads' constraints, because these annotations are also what the service's OpenAPI schema
documents (a ``Meta`` added here changes the schema). Unknown fields from a newer service are
ignored on decode. The request bodies stay with the service: only it decodes them.

The class names are those of the OpenAPI components; the SDK also calls them by its older names
(``ReportProblem``, ``ReportPage``, ``ReportFileView``). The facts the service publishes about
reports and files are the bus payloads :class:`~mts1b_operations.core.schemas.ComplianceReportFact`
and :class:`~mts1b_operations.core.schemas.ComplianceFileFact`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import msgspec

__all__ = [
    "FileList",
    "FileStatus",
    "FileView",
    "ProblemView",
    "ReportList",
    "ReportStatusInStore",
    "ReportView",
]

ReportStatusInStore = Literal["rejected", "pending", "filed", "submitted", "accepted", "failed", "superseded"]
"""``pending``: valid, waiting for the next cut; ``filed``: in a file not yet submitted;
``failed``: refused by the regulator after submission (repairable, like ``rejected``);
``superseded``: replaced by a repair, whose ``repaired_from`` points back."""
FileStatus = Literal["pending", "submitted", "failed"]


class ProblemView(msgspec.Struct, frozen=True, kw_only=True):
    """Why a report cannot be filed: the specification's field and what is wrong with it."""

    field: str
    """The specification's field name."""
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class ReportView(msgspec.Struct, frozen=True, kw_only=True):
    """One stored regulatory report (``GET /v1/compliance/reports/{id}``, and a repair's answer)."""

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


class ReportList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of reports in id order; ``next_after_id`` is the ``after_id`` of the next page (null: last)
    (``GET /v1/compliance/reports``)."""

    items: list[ReportView]
    next_after_id: int | None


class FileView(msgspec.Struct, frozen=True, kw_only=True):
    """One submission file (with its metadata file, when the regime has one) and the transport's
    outcome: ``submitted`` once both went.

    ``deadline`` is when the regulator must have it (CAT: T+1 08:00 ET).
    """

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


class FileList(msgspec.Struct, frozen=True, kw_only=True):
    """Report files (``GET /v1/compliance/files``), or the files a flush cut (``POST .../files/flush``)."""

    items: list[FileView]
