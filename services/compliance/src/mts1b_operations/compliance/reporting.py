"""Order events in, stored reports out; repairs of rejected ones. The service's reporting logic.

For each order event of a fund in the registry, every adapter the fund enables builds its
reports (a valid one waits as ``pending`` for the next file, an invalid one is held as
``rejected`` with its fields named); they are stored with one fact each in one transaction.
A repair rebuilds a rejected (or regulator-refused) report from its stored order event with
an operator's field overrides, and supersedes it only when the result is valid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.schemas import OrderEvent

from .adapters import ComplianceStore
from .adapters.registry import AdapterSource, adapter_for
from .domain import (
    REPAIRABLE_STATUSES,
    NotRepairableError,
    RepairRejectedError,
    ReportView,
)
from .reg_reporting._model import FieldProblem, Report

__all__ = ["SERVICE_ACTOR", "Reporter"]

log = logging.getLogger(__name__)

SERVICE_ACTOR: Final = "service:compliance"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reporter:
    store: ComplianceStore
    registry: AdapterSource
    funds: FundsRegistry
    actor: str = SERVICE_ACTOR

    async def report(self, event: OrderEvent) -> list[ReportView]:
        """Build and store the reports ``event`` calls for; the newly stored ones (none on a redelivery)."""
        if event.fund_id not in self.funds:
            log.warning(
                "order event %s (%s of order %s) names fund %r, which the funds registry does not know; "
                "nothing reported",
                event.event_id, event.event, event.order_id, event.fund_id,
            )  # fmt: skip
            return []
        fund = self.funds.fund(event.fund_id)
        reports: list[Report] = []
        for adapter in self.registry.enabled_for(fund):
            reports.extend(adapter.reports_for(event, fund=fund, actor=self.actor))
        if not reports:
            return []
        stored = await self.store.store_reports(event, reports, actor=self.actor)
        for view in stored:
            if view.status == "rejected":
                log.warning(
                    "%s report %s (%s, order %s) rejected: %s",
                    view.regime, view.id, view.event_type, view.order_id,
                    "; ".join(f"{p.field}: {p.problem}" for p in view.problems),
                )  # fmt: skip
        return stored

    async def repair(
        self, report_id: int, *, fields: Mapping[str, Any], reason: str, actor: str
    ) -> ReportView:
        """Rebuild report ``report_id`` with ``fields`` overriding the spec's fields; the new report."""
        source = await self.store.source_of(report_id)
        old = source.view
        if old.status not in REPAIRABLE_STATUSES:
            raise NotRepairableError(
                report_id, f"its status is {old.status!r}; only rejected or failed reports are repaired"
            )
        if old.fund_id not in self.funds:
            raise NotRepairableError(report_id, f"fund {old.fund_id!r} is no longer in the funds registry")
        adapter = adapter_for(self.registry, old.regime)
        if adapter is None:
            raise NotRepairableError(report_id, f"no adapter is registered for regime {old.regime!r}")
        fund = self.funds.fund(old.fund_id)
        rebuilt = adapter.reports_for(source.event, fund=fund, actor=actor, overrides=dict(fields))
        candidate = _same_kind(rebuilt, old)
        if candidate is None:
            raise RepairRejectedError(
                report_id,
                [
                    FieldProblem(
                        "event_type", f"the adapter built no {old.event_type} report from the order event"
                    )
                ],
            )
        if not candidate.is_valid:
            raise RepairRejectedError(report_id, candidate.problems)
        view = await self.store.repair(
            report_id, candidate, source_event=source.event, actor=actor, reason=reason
        )
        log.info(
            "%s report %s repaired by %s as report %s (key %s): %s",
            old.regime, report_id, actor, view.id, view.report_key, reason,
        )  # fmt: skip
        return view


def _same_kind(reports: Sequence[Report], old: ReportView) -> Report | None:
    """The rebuilt report that stands for ``old``: the same event type (or the only one)."""
    same = [report for report in reports if report.event_type == old.event_type]
    if same:
        return next((r for r in same if r.report_key == old.report_key), same[0])
    return reports[0] if len(reports) == 1 else None
