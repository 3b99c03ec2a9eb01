"""The compliance service's Prometheus series (default registry, served on /metrics)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge

__all__ = ["ComplianceMetrics", "compliance_metrics"]


@dataclass(frozen=True)
class ComplianceMetrics:
    undecodable_events: Counter
    reports_stored: Counter
    files_submitted: Counter
    submission_failures: Counter
    overdue_files: Gauge


def _get_or_create(factory: type[Counter] | type[Gauge], name: str, doc: str, labels: list[str]) -> Any:
    try:
        return factory(name, doc, labels)
    except ValueError:
        # Registered already in this process (several apps in one test process): reuse it.
        for key in (name, f"{name}_total"):
            existing = REGISTRY._names_to_collectors.get(key)
            if isinstance(existing, factory):
                return existing
        raise


@functools.cache
def compliance_metrics() -> ComplianceMetrics:
    return ComplianceMetrics(
        undecodable_events=_get_or_create(
            Counter,
            "mts_compliance_undecodable_order_events",
            "Order events that did not decode as OrderEvent (terminated, nothing reported).",
            [],
        ),
        reports_stored=_get_or_create(
            Counter,
            "mts_compliance_reports_stored",
            "Reports stored, by regime and status.",
            ["regime", "status"],
        ),
        files_submitted=_get_or_create(
            Counter, "mts_compliance_files_submitted", "Files submitted through the transport.", ["regime"]
        ),
        submission_failures=_get_or_create(
            Counter,
            "mts_compliance_submission_failures",
            "Submission rounds that failed (the file is retried).",
            ["regime"],
        ),
        overdue_files=_get_or_create(
            Gauge,
            "mts_compliance_overdue_files",
            "Files not submitted whose regulatory deadline has passed.",
            ["regime"],
        ),
    )
