"""What callers send and get back: requests, halts, status, resume results, pre-flight reports.

What the API answers (:class:`Halt`, :class:`HaltStatus`, :class:`ResumeResult`, :class:`Preflight`)
is core's wire shape (``core.schemas.halt_api``, re-exported here), the Structs the SDK decodes into.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity
from mts1b_operations.core.schemas.halt_api import Halt, HaltStatus, Preflight, ResumeResult

__all__ = [
    "Halt",
    "HaltRequest",
    "HaltStatus",
    "Preflight",
    "Refusal",
    "RefusalAction",
    "RequestRecord",
    "ResumeResult",
]


class HaltRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A request to halt trading of the firm, a fund or a strategy.

    A STRATEGY_HALT may leave ``fund_id`` out: the funds registry fills it in. ``triggered_by_watchdog``
    (a watchdog kind such as ``vol_dd``) and ``watchdog_subject_id`` (what it watches, e.g. the fund)
    let the pre-flight check of a later resume ask whether that watchdog is still alerting.
    """

    severity: HaltSeverity
    reason: str
    requested_by: str
    fund_id: str | None = None
    strategy_id: str | None = None
    mode: HaltMode = "cancel_open"
    triggered_by_watchdog: str | None = None
    watchdog_subject_id: str | None = None


RefusalAction = Literal["request", "resume"]


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """A refused request or resume, as recorded in Postgres."""

    refusal_id: int
    action: RefusalAction
    halt_id: str | None
    scope: str | None
    requested_by: str | None
    cosigned_by: str | None
    code: str
    field: str | None
    problem: str
    refused_at: datetime


class RequestRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request for a halt: ``request_no`` 1 created it, later ones found it already in force."""

    halt_id: str
    request_no: int
    requested_by: str
    reason: str
    mode: HaltMode
    triggered_by_watchdog: str | None
    watchdog_subject_id: str | None
    requested_at: datetime
