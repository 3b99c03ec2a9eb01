"""Request and response bodies of the compliance HTTP API (msgspec Structs, shown in OpenAPI).

The answers are core's wire shapes (``core.schemas.compliance_api``, re-exported here), the
Structs the SDK decodes into; the request bodies, which only the service decodes, are defined here.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from mts1b_operations.core.schemas.compliance_api import (
    FileList,
    FileView,
    ProblemView,
    ReportList,
    ReportView,
)

__all__ = [
    "FileList",
    "FileView",
    "FlushBody",
    "ProblemView",
    "RepairBody",
    "ReportList",
    "ReportView",
]

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class RepairBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/compliance/reports/{id}/repair: spec fields to set, and why (recorded in the audit)."""

    fields: dict[Annotated[str, msgspec.Meta(min_length=1, max_length=128)], Any]
    """The specification's field names and their values, e.g. {"destination": "XNAS"}; they win
    over the values derived from the order event."""
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]


class FlushBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/compliance/files/flush: cut files now (of one fund and/or regime, or of all)."""

    fund_id: _Id | None = None
    regime: _Id | None = None
