"""The events and KV values a halt produces, built from the stored halt (pure).

The payloads are the contract's :class:`~mts1b_operations.core.schemas.HaltRequested` and
:class:`~mts1b_operations.core.schemas.HaltResumed` with a few fields added; they keep the
contract's wire tag, and core payloads ignore fields they do not know, so every consumer decodes
them as the core types while the audit trail can keep the extra detail:

- ``halt.requested``: ``request_no`` (1 for the request that created the halt; a later request
  for a scope already halted is published with the same ``halt_id`` and ``request_no`` > 1) and the
  triggering watchdog;
- ``halt.resumed``: the resume reason, how many requests asked for the halt, and the refused
  resume attempts recorded against it (the contract has no subject for a refusal).

Nats-Msg-Id is ``<halt_id>:requested`` / ``<halt_id>:resumed`` (``<halt_id>:requested:<n>`` for a
repeat request), so a retried publish lands once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from mts1b_operations.core import schemas

from ._model import Halt, Refusal

__all__ = [
    "HaltRequestedEvent",
    "HaltResumedEvent",
    "RefusalNote",
    "refused_event",
    "requested_event",
    "requested_msg_id",
    "resumed_event",
    "resumed_msg_id",
]


class HaltRequestedEvent(schemas.HaltRequested, frozen=True, kw_only=True, tag="HaltRequested"):
    """``HaltRequested`` plus which request this was and what triggered the halt."""

    request_no: int = 1
    triggered_by_watchdog: str | None = None
    watchdog_subject_id: str | None = None


class RefusalNote(msgspec.Struct, frozen=True, kw_only=True):
    refused_at: datetime
    code: str
    problem: str
    requested_by: str | None = None
    cosigned_by: str | None = None


class HaltResumedEvent(schemas.HaltResumed, frozen=True, kw_only=True, tag="HaltResumed"):
    """``HaltResumed`` plus the resume reason, the request count and the refused resume attempts."""

    resume_reason: str | None = None
    request_count: int = 1
    refusals: list[RefusalNote] = []


def requested_msg_id(halt_id: str, request_no: int = 1) -> str:
    return f"{halt_id}:requested" if request_no == 1 else f"{halt_id}:requested:{request_no}"


def resumed_msg_id(halt_id: str) -> str:
    return f"{halt_id}:resumed"


def requested_event(
    halt: Halt,
    *,
    request_no: int = 1,
    requested_by: str | None = None,
    reason: str | None = None,
    requested_at: datetime | None = None,
) -> HaltRequestedEvent:
    """The ``halt.requested`` payload of ``halt``; a repeat request passes its own who, why and when."""
    return HaltRequestedEvent(
        halt_id=halt.halt_id,
        severity=halt.severity,
        mode=halt.mode,
        fund_id=halt.fund_id,
        strategy_id=halt.strategy_id,
        reason=reason or halt.reason,
        requested_by=requested_by or halt.requested_by,
        requested_at=requested_at or halt.requested_at,
        request_no=request_no,
        triggered_by_watchdog=halt.triggered_by_watchdog,
        watchdog_subject_id=halt.watchdog_subject_id,
    )


def resumed_event(halt: Halt, refusals: Sequence[Refusal] = ()) -> HaltResumedEvent:
    """The ``halt.resumed`` payload of a resumed ``halt``."""
    if halt.active or halt.resumed_at is None or halt.resumed_by is None:
        raise ValueError(f"halt {halt.halt_id} is not resumed")
    cosigner = halt.cosigned_by if halt.cosigned_by != halt.resumed_by else None
    return HaltResumedEvent(
        halt_id=halt.halt_id,
        severity=halt.severity,
        mode=halt.mode,
        fund_id=halt.fund_id,
        strategy_id=halt.strategy_id,
        reason=halt.reason,
        requested_by=halt.requested_by,
        resumed_by=halt.resumed_by,
        cosigned_by=cosigner,
        forced=halt.forced,
        requested_at=halt.requested_at,
        resumed_at=halt.resumed_at,
        resume_reason=halt.resume_reason,
        request_count=halt.request_count,
        refusals=[
            RefusalNote(
                refused_at=r.refused_at,
                code=r.code,
                problem=r.problem,
                requested_by=r.requested_by,
                cosigned_by=r.cosigned_by,
            )
            for r in refusals
        ],
    )


def refused_event(refusal: Refusal) -> schemas.HaltRefused:
    """The ``halt.refused`` payload of a recorded refusal."""
    return schemas.HaltRefused(
        refusal_id=refusal.refusal_id,
        action=refusal.action,
        halt_id=refusal.halt_id,
        scope=refusal.scope,
        requested_by=refusal.requested_by or None,
        cosigned_by=refusal.cosigned_by or None,
        code=refusal.code,
        field=refusal.field,
        problem=refusal.problem[:8192] or "refused",
        refused_at=refusal.refused_at,
    )
