"""What callers send and get back: requests, halts, status, resume results, pre-flight reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity

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


class Halt(msgspec.Struct, frozen=True, kw_only=True):
    """A halt as stored: in force while ``active``, with who asked, why, and who lifted it.

    ``scope`` is ``firm``, ``fund.<fund_id>`` or ``strategy.<strategy_id>``; ``request_count`` counts
    the requests that asked for it (the first created it, later ones found it in force).
    """

    halt_id: str
    scope: str
    severity: HaltSeverity
    mode: HaltMode
    fund_id: str | None
    strategy_id: str | None
    reason: str
    requested_by: str
    requested_at: datetime
    triggered_by_watchdog: str | None = None
    watchdog_subject_id: str | None = None
    request_count: int = 1
    active: bool = True
    resumed_at: datetime | None = None
    resumed_by: str | None = None
    cosigned_by: str | None = None
    resume_reason: str | None = None
    forced: bool = False
    """The resume overrode the pre-flight check (the triggering watchdog was still alerting)."""


class HaltStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a scope may trade: the halts in force on it (its own and inherited), broadest first."""

    scope: str
    halted: bool
    halts: list[Halt]
    since: datetime | None
    """When the earliest halt in force began; None when not halted."""


class ResumeResult(msgspec.Struct, frozen=True, kw_only=True):
    """A halt lifted; ``still_halted`` when a broader halt (the firm's, the fund's) still stops the scope."""

    resumed: Halt
    still_halted: bool
    halted_by: list[Halt]
    message: str


class Preflight(msgspec.Struct, frozen=True, kw_only=True):
    """What a resume of ``scope`` would meet, checked before trying it."""

    scope: str
    halt: Halt | None
    """The scope's own halt in force, the one a resume would lift (None: nothing to resume)."""
    inherited: list[Halt]
    """Broader halts in force that a resume of this scope leaves in place."""
    watchdog: str | None
    watchdog_subject_id: str | None
    watchdog_firing: bool
    """The watchdog that triggered the halt is still alerting on its subject."""
    needs_force: bool
    """A resume must pass ``force=True`` and a reason."""
    needs_two_operators: bool
    """A firm-wide resume: the caller and the cosigner must be two distinct registered operators."""
    message: str


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
