"""The answers of the halt API (``mts1b-halt``), as they go on the wire.

The service encodes these Structs and the SDK (``mts1b_operations.client``) decodes into them, so
the two cannot drift. They are HTTP answers, not bus payloads: untagged, and without the bus
payloads' constraints, because these annotations are also what the service's OpenAPI schema
documents (a ``Meta`` added here changes the schema). Unknown fields from a newer service are
ignored on decode. The request bodies stay with the service: only it decodes them.

The class names are those of the OpenAPI components (the SDK also calls :class:`Preflight`
``ResumePreflight``). An OMS command's acks are the bus payload
:class:`~mts1b_operations.core.schemas.OmsCommandAck`, tag included, as the OMS sent them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity, OmsCommandAck, OmsCommandName

__all__ = [
    "Halt",
    "HaltAnswer",
    "HaltList",
    "HaltOutcome",
    "HaltStatus",
    "OmsCommandOutcome",
    "OmsCommandReport",
    "Preflight",
    "ResumeAnswer",
    "ResumeResult",
]

HaltOutcome = Literal["created", "already_halted"]


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
    """Whether a scope may trade: the halts in force on it (its own and inherited), broadest first
    (``GET /v1/halts/status``)."""

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
    """What a resume of ``scope`` would meet, checked before trying it (``GET /v1/halts/preflight``)."""

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


class OmsCommandOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What came back for one OMS command: each responder's ack and who stayed silent
    (``POST /v1/oms/cancel-all``, ``POST /v1/oms/flatten-paper``)."""

    command_id: str
    command: OmsCommandName
    fund_ids: list[str]
    paper_only: bool
    acks: list[OmsCommandAck]
    """One per responder (the first it sent), in arrival order."""
    expected_responders: list[str]
    missing: list[str]
    """Expected responders that did not ack before the timeout."""
    failed: list[str]
    """Responders that acked with ``ok: false`` (their ``error`` says why)."""
    no_responders: bool
    """Nobody was subscribed to the command's subject."""
    timed_out: bool
    """The wait ended by the timeout rather than by every expected responder answering."""
    invalid_replies: int
    """Replies that were not an ack of this command (logged, not counted)."""
    orders_cancelled: int
    positions_closed: int
    elapsed: float
    complete: bool
    """Someone answered, every expected responder acked and no ack reported a failure."""


class OmsCommandReport(msgspec.Struct, frozen=True, kw_only=True):
    """The OMS command a halt's mode called for (``sent``), or why none was sent (``detail``)."""

    sent: bool
    detail: str
    outcome: OmsCommandOutcome | None = None


class HaltAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /v1/halts``: 201 ``created`` or 200 ``already_halted`` (the halt in force)."""

    outcome: HaltOutcome
    message: str
    halt: Halt
    oms_command: OmsCommandReport


class ResumeAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of ``POST /v1/halts/resume``: the result and what the pre-flight check found before it."""

    result: ResumeResult
    preflight: Preflight


class HaltList(msgspec.Struct, frozen=True, kw_only=True):
    """Halts, newest first (``GET /v1/halts/history``) or oldest first (``GET /v1/halts``, those in force)."""

    halts: list[Halt]
    count: int
