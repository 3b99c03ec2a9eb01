"""The compliance service's domain, free of I/O: views, facts, schedule rules and refusals."""

from ._errors import (
    ComplianceError,
    InvalidRequestError,
    NotRepairableError,
    RepairRejectedError,
    ReportNotFoundError,
)
from ._schedule import cut_trade_date, is_overdue, latest_cut, retry_due
from ._views import (
    FILE_STATUSES,
    REPAIRABLE_STATUSES,
    REPORT_STATUSES,
    FileStatus,
    FileView,
    ProblemView,
    ReportStatusInStore,
    ReportView,
    file_fact,
    file_fact_event_id,
    report_fact,
    report_fact_event_id,
)

__all__ = [
    "FILE_STATUSES",
    "REPAIRABLE_STATUSES",
    "REPORT_STATUSES",
    "ComplianceError",
    "FileStatus",
    "FileView",
    "InvalidRequestError",
    "NotRepairableError",
    "ProblemView",
    "RepairRejectedError",
    "ReportNotFoundError",
    "ReportStatusInStore",
    "ReportView",
    "cut_trade_date",
    "file_fact",
    "file_fact_event_id",
    "is_overdue",
    "latest_cut",
    "report_fact",
    "report_fact_event_id",
    "retry_due",
]
