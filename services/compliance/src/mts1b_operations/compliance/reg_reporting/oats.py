"""FINRA OATS (legacy): New Order, Route, Execution and Cancel records in the delimited format.

OATS was retired in 2021 (CAT replaced it), but some firms still keep OATS-shaped records.
Each order event maps to one Reportable Order Event (ROE): ``new`` → New Order (NW),
``routed`` → Route (RT), ``filled`` → Execution (EX), ``canceled`` → Cancel (CL). A file
(a FORE, "Firm Order Report") is a Header record (``#HD#``), the ROEs and a Trailer record
(``#TR#``) counting them. Field names in records, problems and overrides are the names of the
OATS Reporting Technical Specifications (``Issue Symbol ID``); see
``docs/operations/compliance-oats-mifid2.md`` for what was followed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

from ._model import Report, ReportFile
from ._oats._layouts import HEADER, LAYOUTS, TRAILER, RecordLayout
from ._oats._records import (
    DELIMITER,
    EASTERN,
    EVENT_CODES,
    build_record,
    check_value,
    eastern_timestamp,
    firm_roe_id,
    render_line,
)

__all__ = [
    "DELIMITER",
    "EASTERN",
    "END_OF_RECORD",
    "EVENT_CODES",
    "REGIME",
    "VERSION_DESCRIPTION",
    "OatsAdapter",
    "eastern_timestamp",
    "file_name",
    "firm_roe_id",
    "submission_deadline",
]

REGIME: Final = "oats"
VERSION_DESCRIPTION: Final = "OATS D1999-01"
"""The Header record's Version Description of the delimited format."""
END_OF_RECORD: Final = "\n"


def submission_deadline(trade_date: date) -> datetime:
    """OATS: by 8:00 a.m. Eastern Time on the calendar day after the order events."""
    return datetime.combine(trade_date + timedelta(days=1), time(8, 0), EASTERN)


def file_name(*, mpid: str, fund_id: str, trade_date: date, sequence: int) -> str:
    """``{MPID}_{YYYYMMDD}_{fund tag}_{sequence:04d}.oats``: the specification names no file
    convention (a FORE is identified by its header), so this one is ours; the fund tag (8 hex of
    SHA-256 of the fund id) keeps two funds of one MPID apart."""
    tag = hashlib.sha256(fund_id.encode()).hexdigest()[:8].upper()
    return f"{mpid}_{trade_date:%Y%m%d}_{tag}_{sequence:04d}.oats"


def _fixed_record(layout: RecordLayout, values: Mapping[str, str]) -> str:
    for spec in layout.fields:
        value = values.get(spec.name, "")
        if spec.mandatory and not value:
            raise ValueError(f"{spec.name}: is required in the OATS {layout.name}")
        if value and (problem := check_value(spec, value)) is not None:
            raise ValueError(f"{spec.name}: {problem}")
    return render_line(layout, values)


class OatsAdapter:
    """The ``oats`` regime, for funds with ``oats_enabled`` (and their ``oats_firm_mpid``)."""

    @property
    def regime(self) -> str:
        return REGIME

    def enabled_for(self, fund: Fund) -> bool:
        return fund.compliance.oats_enabled

    def reports_for(
        self,
        event: OrderEvent,
        *,
        fund: Fund,
        actor: str,
        overrides: Mapping[str, Any] | None = None,
    ) -> list[Report]:
        built = build_record(event, fund, overrides or {})
        if built is None:
            return []
        layout, record, problems = built
        return [
            Report(
                regime=REGIME,
                event_type=layout.code,
                report_key=firm_roe_id(event, layout.code),
                fund_id=event.fund_id,
                order_id=event.order_id,
                source_event_id=event.event_id,
                trade_date=event.ts.astimezone(EASTERN).date(),
                event_time=event.ts,
                record=record,
                line=render_line(layout, record),
                status="rejected" if problems else "valid",
                problems=tuple(problems),
            )
        ]

    def render_file(
        self, reports: Sequence[Report], *, fund: Fund, trade_date: date, sequence: int
    ) -> ReportFile:
        """A FORE: Header, the ROEs in the given order, Trailer with their count.

        The Header's Generation Date is the trade date the file covers, so that its Submission
        Number (our per-day ``sequence``) is unique per generation date as the spec requires.
        """
        for i, report in enumerate(reports):
            if report.regime != REGIME or report.event_type not in LAYOUTS:
                raise ValueError(f"reports[{i}]: not an OATS record ({report.regime}/{report.event_type})")
            if not report.is_valid:
                raise ValueError(f"reports[{i}]: report {report.report_key} is rejected and cannot be filed")
            if report.fund_id != fund.fund_id:
                raise ValueError(f"reports[{i}]: belongs to fund {report.fund_id!r}, not {fund.fund_id!r}")
        mpid = fund.compliance.oats_firm_mpid
        if mpid is None:
            raise ValueError("oats_firm_mpid: the fund has no MPID for the OATS header")
        if not 1 <= sequence <= 999_999:
            raise ValueError(f"sequence: must be between 1 and 999999, got {sequence}")
        header = _fixed_record(
            HEADER,
            {
                "Record Type": "#HD#",
                "Version Description": VERSION_DESCRIPTION,
                "Generation Date": f"{trade_date:%Y%m%d}",
                "Submission Number": str(sequence),
                "Reporting OSO ID": fund.compliance.oats_reporting_oso_id or "",
                "Order Receiving Firm MPID": mpid,
            },
        )
        trailer = _fixed_record(TRAILER, {"Record Type": "#TR#", "Order Event Count": str(len(reports))})
        lines = [header, *(r.line for r in reports), trailer]
        return ReportFile(
            regime=REGIME,
            fund_id=fund.fund_id,
            name=file_name(mpid=mpid, fund_id=fund.fund_id, trade_date=trade_date, sequence=sequence),
            content=END_OF_RECORD.join(lines).encode("ascii") + END_OF_RECORD.encode(),
            trade_date=trade_date,
            sequence=sequence,
            record_count=len(reports),
            deadline=submission_deadline(trade_date).astimezone(UTC),
            media_type="text/plain",
            report_keys=tuple(r.report_key for r in reports),
        )
