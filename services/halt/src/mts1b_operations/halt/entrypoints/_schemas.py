"""Request and response bodies of the halt service's HTTP API (msgspec Structs, shown in OpenAPI).

The answers are core's wire shapes (``core.schemas.halt_api``, re-exported here), the Structs the
SDK decodes into; the request bodies, which only the service decodes, are defined here.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity
from mts1b_operations.core.schemas.halt_api import HaltAnswer, HaltList, OmsCommandReport, ResumeAnswer

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


class CancelAllBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/oms/cancel-all: cancel every open order (of the given funds, or of every fund)."""

    reason: _Reason
    fund_ids: list[_Id] = []


class FlattenPaperBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/oms/flatten-paper: close the positions of paper funds (all, or the given ones)."""

    reason: _Reason
    fund_ids: list[_Id] = []
