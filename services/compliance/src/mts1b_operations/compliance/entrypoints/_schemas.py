"""Request and response bodies of the compliance HTTP API (msgspec Structs, shown in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from ..domain import FileView, ProblemView, ReportView

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


class ReportList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of reports in id order; ``next_after_id`` is the ``after_id`` of the next page (null: last)."""

    items: list[ReportView]
    next_after_id: int | None


class FileList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[FileView]


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
