"""The compliance service's adapters: Postgres (reports, files, their facts) and the file transport."""

from .postgres import ComplianceStore, PendingGroup, StoredSource
from .transport import LocalDirectoryTransport, SubmissionReceipt, Transport, TransportError

__all__ = [
    "ComplianceStore",
    "LocalDirectoryTransport",
    "PendingGroup",
    "StoredSource",
    "SubmissionReceipt",
    "Transport",
    "TransportError",
]
