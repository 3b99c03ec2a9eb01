"""The audit service's entrypoints: the HTTP API and the recorder that consumes operations facts."""

from ._drill_reports import DRILL_REPORT_ACTION, DrillReportController
from ._filters import EXTRA_SUBJECTS_VARIABLE, parse_extra_subjects
from .consumer import AuditRecorder, FactSink
from .http import CHAIN_STATE_KEY, AuditController, chain_of

__all__ = [
    "CHAIN_STATE_KEY",
    "DRILL_REPORT_ACTION",
    "EXTRA_SUBJECTS_VARIABLE",
    "AuditController",
    "AuditRecorder",
    "DrillReportController",
    "FactSink",
    "chain_of",
    "parse_extra_subjects",
]
