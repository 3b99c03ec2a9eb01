"""Request and response bodies of the halt service's HTTP API (msgspec Structs, shown in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity

from ..domain import Halt, Preflight, ResumeResult
from ..oms_commands import OmsCommandOutcome

__all__ = [
    "CancelAllBody",
    "FlattenPaperBody",
    "HaltAnswer",
    "HaltList",
    "HaltRequestBody",
    "OmsCommandReport",
    "ResumeAnswer",
    "ResumeBody",
]

_Reason = Annotated[
    str, msgspec.Meta(min_length=1, max_length=8192, description="Why; recorded in the audit trail.")
]
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Actor = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class HaltRequestBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/halts: what to halt and how. The caller (from the bearer token) is the requester."""

    severity: HaltSeverity
    reason: _Reason
    fund_id: _Id | None = None
    """Required for FUND_HALT; for STRATEGY_HALT optional (the registry knows the strategy's fund)."""
    strategy_id: _Id | None = None
    """Required for STRATEGY_HALT."""
    mode: HaltMode = "cancel_open"
    """block_new: no new orders; cancel_open (default): also cancel working orders; flatten: also
    close positions (paper funds, and live funds that allow it in the registry)."""


class OmsCommandReport(msgspec.Struct, frozen=True, kw_only=True):
    """The OMS command a halt's mode called for, or why none was sent."""

    sent: bool
    detail: str
    outcome: OmsCommandOutcome | None = None


class HaltAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of POST /v1/halts: 201 ``created`` or 200 ``already_halted`` (the halt in force)."""

    outcome: Literal["created", "already_halted"]
    message: str
    halt: Halt
    oms_command: OmsCommandReport


class ResumeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/halts/resume. The caller (from the bearer token) is the one resuming."""

    scope: Annotated[str, msgspec.Meta(min_length=1, max_length=140)]
    """``firm``, a fund id or a strategy id (looked up in the funds registry); ``fund:<id>`` or
    ``strategy:<id>`` when an id is both."""
    cosigned_by: _Actor | None = None
    """The registered operator cosigning, ``operator:<name>`` (a bare name is read as one). A firm
    resume needs a cosigner other than the caller; elsewhere it defaults to the caller."""
    force: bool = False
    """Resume although the watchdog that triggered the halt still alerts (needs a reason)."""
    reason: _Reason | None = None


class ResumeAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of POST /v1/halts/resume."""

    result: ResumeResult
    preflight: Preflight
    """What the pre-flight check found before the resume."""


class HaltList(msgspec.Struct, frozen=True, kw_only=True):
    """Halts, newest first (history) or broadest first (active)."""

    halts: list[Halt]
    count: int


class CancelAllBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/oms/cancel-all: cancel every open order (of the given funds, or of every fund)."""

    reason: _Reason
    fund_ids: list[_Id] = []


class FlattenPaperBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/oms/flatten-paper: close the positions of paper funds (all, or the given ones)."""

    reason: _Reason
    fund_ids: list[_Id] = []
