"""The shapes every reporting regime shares: a report, a file of reports, the adapter protocol.

Pure data and protocols, no I/O: adapters build reports from order events and render files;
the service stores, files and submits them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

__all__ = [
    "FieldProblem",
    "MetadataFile",
    "Regime",
    "Report",
    "ReportFile",
    "ReportStatus",
    "ReportingAdapter",
]

Regime = str
"""``cat``, ``oats``, ``mifid2`` or a firm's own adapter's name."""

ReportStatus = Literal["valid", "rejected"]
"""What the adapter made of an event: ``rejected`` when a required field is missing or malformed."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One reason a report cannot be filed: the spec's field name and what is wrong with it."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One regulatory record built from one order event.

    ``report_key`` is deterministic in the source event (CAT's firmROEID, MiFID II's transaction
    reference number, OATS's order event id), so a redelivered event maps to the same key and
    ``(regime, report_key)`` is the idempotency key of the store.
    ``record`` is the record as the spec's field names and values (JSON-able); ``line`` is its
    rendering inside a file (an NDJSON line, a delimited record, an XML fragment).
    A ``rejected`` report keeps whatever fields could be built and names each problem.
    """

    regime: Regime
    event_type: str
    report_key: str
    fund_id: str
    order_id: str
    source_event_id: str
    trade_date: date
    event_time: datetime
    record: Mapping[str, Any]
    line: str
    status: ReportStatus = "valid"
    problems: tuple[FieldProblem, ...] = ()

    @property
    def is_valid(self) -> bool:
        return self.status == "valid"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataFile:
    """A file that must reach the regulator right after its data file and describes it (CAT's
    ``.meta.json``). It is made once, when the data file is cut, and stored with it: every
    submission round delivers these same bytes."""

    name: str
    content: bytes
    media_type: str = "application/json"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFile:
    """A submission file: its spec-conformant name, its bytes and when it is due.

    ``metadata``, when the regime has one, is delivered after the data file, in the same round.
    """

    regime: Regime
    fund_id: str
    name: str
    content: bytes
    trade_date: date
    sequence: int
    record_count: int
    deadline: datetime
    media_type: str = "application/octet-stream"
    report_keys: tuple[str, ...] = field(default=())
    metadata: MetadataFile | None = None


@runtime_checkable
class ReportingAdapter(Protocol):
    """A reporting regime. Register an instance with :class:`AdapterRegistry` to hook a firm's own."""

    @property
    def regime(self) -> Regime: ...

    def enabled_for(self, fund: Fund) -> bool:
        """Whether ``fund``'s registry entry turns this regime on (everything is off by default)."""
        ...

    def reports_for(
        self,
        event: OrderEvent,
        *,
        fund: Fund,
        actor: str,
        overrides: Mapping[str, Any] | None = None,
    ) -> list[Report]:
        """The reports one order event calls for (possibly none); never raises for a missing field.

        ``overrides`` are spec fields supplied by an operator's repair; they win over derived values.
        """
        ...

    def render_file(
        self, reports: Sequence[Report], *, fund: Fund, trade_date: date, sequence: int
    ) -> ReportFile:
        """The file for ``reports`` (all valid, one fund, one trade date), numbered ``sequence``."""
        ...
