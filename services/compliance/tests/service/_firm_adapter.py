"""A firm's own reporting regime, hooked into the service the way a firm would: a real
:class:`ReportingAdapter` registered in a registry handed to ``service_spec(registry=...)``.

Regime ``firmx``: one record per new, routed and filled order event (NDJSON lines), a file per
fund and trade date named ``FIRMX_<fund>_<YYYYMMDD>_<seq>.ndjson``, due the next day 08:00 ET.
A routed event without a venue is rejected naming ``destination``; a repair supplies it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mts1b_operations.compliance.reg_reporting._model import (
    FieldProblem,
    Report,
    ReportFile,
    ReportingAdapter,
)
from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

EASTERN = ZoneInfo("America/New_York")
_KINDS = {"new": "NEW", "routed": "ROUTE", "filled": "FILL"}


class FirmAdapter:
    """Enabled for the funds named at construction."""

    def __init__(self, funds: Iterable[str]) -> None:
        self._funds = frozenset(funds)

    @property
    def regime(self) -> str:
        return "firmx"

    def enabled_for(self, fund: Fund) -> bool:
        return fund.fund_id in self._funds

    def reports_for(
        self,
        event: OrderEvent,
        *,
        fund: Fund,
        actor: str,
        overrides: Mapping[str, Any] | None = None,
    ) -> list[Report]:
        kind = _KINDS.get(event.event)
        if kind is None:
            return []
        record: dict[str, Any] = {
            "type": kind,
            "orderID": event.order_id,
            "symbol": event.symbol,
            "side": event.side,
            "quantity": str(event.quantity),
            "eventTimestamp": event.ts.isoformat(),
        }
        if event.event == "routed":
            record["destination"] = event.venue
        if event.event == "filled":
            record["price"] = str(event.fill_price)
        record.update(overrides or {})
        problems = tuple(
            FieldProblem(name, "is required") for name, value in record.items() if value in (None, "")
        )
        return [
            Report(
                regime=self.regime,
                event_type=kind,
                report_key=f"{fund.fund_id}:{event.event_id}:{kind}",
                fund_id=fund.fund_id,
                order_id=event.order_id,
                source_event_id=event.event_id,
                trade_date=event.ts.astimezone(EASTERN).date(),
                event_time=event.ts,
                record=record,
                line=json.dumps(record, sort_keys=True, separators=(",", ":")),
                status="rejected" if problems else "valid",
                problems=problems,
            )
        ]

    def render_file(
        self, reports: Sequence[Report], *, fund: Fund, trade_date: date, sequence: int
    ) -> ReportFile:
        content = "".join(f"{report.line}\n" for report in reports).encode()
        return ReportFile(
            regime=self.regime,
            fund_id=fund.fund_id,
            name=f"FIRMX_{fund.fund_id}_{trade_date:%Y%m%d}_{sequence:06d}.ndjson",
            content=content,
            trade_date=trade_date,
            sequence=sequence,
            record_count=len(reports),
            deadline=datetime.combine(trade_date + timedelta(days=1), time(8, 0), tzinfo=EASTERN),
            media_type="application/x-ndjson",
            report_keys=tuple(report.report_key for report in reports),
        )


class FirmRegistry:
    """A registry with only the firm's adapter (the real AdapterRegistry takes it the same way)."""

    def __init__(self, *adapters: ReportingAdapter) -> None:
        self._adapters = {adapter.regime: adapter for adapter in adapters}

    def get(self, regime: str) -> ReportingAdapter:
        return self._adapters[regime]

    def enabled_for(self, fund: Fund) -> list[ReportingAdapter]:
        return [adapter for adapter in self._adapters.values() if adapter.enabled_for(fund)]

    @property
    def regimes(self) -> tuple[str, ...]:
        return tuple(self._adapters)
