"""The mts1b-operations SDK: typed async clients for every service's HTTP API.

Configuration comes from the environment (MTS_HALT_URL, MTS_AUDIT_URL, ..., MTS_TOKEN) or a
credentials file (MTS_CREDENTIALS_FILE, else ``~/.config/mts/credentials`` with a line
``token = mts_...``, mode 600)::

    from mts1b_operations.client import ClientConfig, ServiceClient

    config = ClientConfig.from_env()
    async with ServiceClient.for_service("halt", config) as halt:
        health = await halt.healthz()

Every error is an :class:`MtsError`: :class:`ApiError` (with ``status``, ``code``, ``message``,
``field``) and its subclasses for error answers, :class:`TransportError` / :class:`TimeoutError`
when no answer came. Only idempotent GETs are retried.

Service clients: :class:`HaltClient`, :class:`AuditClient`, :class:`WatchdogsClient`,
:class:`ComplianceClient` (regulatory reports and files), :class:`MarketDataClient`.

Also here: :class:`HaltGate` (an order gate answering from the ``mts_halts`` KV bucket in
microseconds, failing closed when its view is stale), an offline audit proof checker
(:func:`check_audit_proof`), and :func:`follow` helpers for NATS subjects (audit tail, watchdog alerts).
"""

from ._audit import (
    AuditCheckpointInfo,
    AuditClient,
    AuditPage,
    AuditProof,
    AuditRecord,
    AuditTrail,
    AuditVerification,
    DrillReportRecorded,
    VerifyProgressCallback,
)
from ._audit_proof import (
    CheckedProof,
    ProofCheckError,
    check_audit_proof,
)
from ._compliance import (
    ComplianceClient,
    ReportFileView,
    ReportPage,
    ReportProblem,
    ReportView,
    repair_problems,
)
from ._config import (
    SERVICES,
    ClientConfig,
    ServiceName,
    default_credentials_path,
    read_credentials,
)
from ._errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    MtsError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
    TimeoutError,
    TransportError,
    UnexpectedResponseError,
    error_for_status,
)
from ._follow import (
    DeliverFrom,
    FollowDecodeError,
    FollowedMessage,
    InvalidMessageHandler,
    follow,
    follow_audit,
    follow_watchdog_alerts,
)
from ._gate import (
    HALT_BUCKET,
    GateDecision,
    GateListener,
    HaltGate,
    halt_key,
)
from ._halt import (
    Halt,
    HaltAnswer,
    HaltClient,
    HaltStatus,
    OmsCommandOutcome,
    OmsCommandReport,
    ResumeAnswer,
    ResumePreflight,
    ResumeResult,
)
from ._http import (
    RETRIED_STATUSES,
    ServiceClient,
    api_error_from_response,
)
from ._marketdata import Bar, BarInterval, FundStatus, HaltInForce, MarketDataClient, Quote
from ._watchdogs import WatchdogFiringSubject, WatchdogsClient, WatchdogView

__all__ = [
    "HALT_BUCKET",
    "RETRIED_STATUSES",
    "SERVICES",
    "ApiError",
    "AuditCheckpointInfo",
    "AuditClient",
    "AuditPage",
    "AuditProof",
    "AuditRecord",
    "AuditTrail",
    "AuditVerification",
    "AuthenticationError",
    "BadRequestError",
    "Bar",
    "BarInterval",
    "CheckedProof",
    "ClientConfig",
    "ComplianceClient",
    "ConfigurationError",
    "ConflictError",
    "DeliverFrom",
    "DrillReportRecorded",
    "FollowDecodeError",
    "FollowedMessage",
    "FundStatus",
    "GateDecision",
    "GateListener",
    "Halt",
    "HaltAnswer",
    "HaltClient",
    "HaltGate",
    "HaltInForce",
    "HaltStatus",
    "InvalidMessageHandler",
    "MarketDataClient",
    "MtsError",
    "NotFoundError",
    "OmsCommandOutcome",
    "OmsCommandReport",
    "PermissionDeniedError",
    "ProofCheckError",
    "Quote",
    "ReportFileView",
    "ReportPage",
    "ReportProblem",
    "ReportView",
    "ResumeAnswer",
    "ResumePreflight",
    "ResumeResult",
    "ServiceClient",
    "ServiceName",
    "ServiceUnavailableError",
    "TimeoutError",
    "TransportError",
    "UnexpectedResponseError",
    "VerifyProgressCallback",
    "WatchdogFiringSubject",
    "WatchdogView",
    "WatchdogsClient",
    "api_error_from_response",
    "check_audit_proof",
    "default_credentials_path",
    "error_for_status",
    "follow",
    "follow_audit",
    "follow_watchdog_alerts",
    "halt_key",
    "read_credentials",
    "repair_problems",
]
