"""Regulatory reporting: CAT, OATS and MiFID II adapters behind one protocol.

Everything here is pure: an adapter turns an order event into spec-shaped reports and renders
the submission file; the service stores, files and submits them. A firm hooks its own regime
by registering a :class:`ReportingAdapter` with an :class:`AdapterRegistry`.

    from mts1b_operations.compliance.reg_reporting import cat
    await cat.report_event(event_type="newOrderEvent", order=order, venue=venue, actor=actor)
"""

from __future__ import annotations

from . import cat, mifid2, oats
from ._model import (
    FieldProblem,
    MetadataFile,
    Regime,
    Report,
    ReportFile,
    ReportingAdapter,
    ReportStatus,
)
from ._registry import (
    AdapterRegistry,
    ReportSink,
    UnknownRegimeError,
    configure,
    default_registry,
)

__all__ = [
    "AdapterRegistry",
    "FieldProblem",
    "MetadataFile",
    "Regime",
    "Report",
    "ReportFile",
    "ReportSink",
    "ReportStatus",
    "ReportingAdapter",
    "UnknownRegimeError",
    "cat",
    "configure",
    "default_registry",
    "mifid2",
    "oats",
]
