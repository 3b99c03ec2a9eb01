"""MiFID II transaction reporting (MiFIR Article 26, RTS 22) as ISO 20022 auth.016.001.01 XML.

A fill becomes one New transaction report (report status ``NEWT``); :func:`cancel_report` turns a
filed New into the Cancel (``CANC``) that withdraws it by its transaction reference number. Files
carry the head.001.001.01 business application header inside a head.003.001.01 ``BizData``
envelope. Field names in records, problems and overrides are auth.016 element paths (see
``docs/operations/compliance-oats-mifid2.md``), e.g. ``FinInstrm.Id`` for the ISIN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

from ._instruments import (
    EXAMPLE_INSTRUMENTS_FILE,
    INSTRUMENTS_FILE_ENV,
    Instrument,
    InstrumentReference,
    InstrumentsError,
    InstrumentsFileError,
    load_instruments,
)
from ._mifid2._fields import CANCEL_FIELDS, NEW_FIELDS
from ._mifid2._records import build_new, transaction_reference, validate
from ._mifid2._xml import AUTH016, HEAD001, HEAD003, MESSAGE_DEFINITION, render_document, transaction_xml
from ._model import Report, ReportFile

__all__ = [
    "AUTH016",
    "CANCEL",
    "CANCEL_FIELD_PATHS",
    "EXAMPLE_INSTRUMENTS_FILE",
    "HEAD001",
    "HEAD003",
    "INSTRUMENTS_FILE_ENV",
    "MESSAGE_DEFINITION",
    "NEW",
    "NEW_FIELD_PATHS",
    "REGIME",
    "Instrument",
    "InstrumentReference",
    "InstrumentsError",
    "InstrumentsFileError",
    "Mifid2Adapter",
    "cancel_report",
    "file_name",
    "load_instruments",
    "reporting_deadline",
    "transaction_reference",
]

REGIME: Final = "mifid2"
NEW: Final = "NEWT"
"""RTS 22 field 1 (report status) of a New report; the report's ``event_type``."""
CANCEL: Final = "CANC"
"""RTS 22 field 1 of a Cancel report."""

NEW_FIELD_PATHS: Final = tuple(NEW_FIELDS)
"""Every field a New report may carry (and an operator may override), in schema order."""
CANCEL_FIELD_PATHS: Final = tuple(CANCEL_FIELDS)

_XML_KIND: Final = {NEW: "New", CANCEL: "Cxl"}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def reporting_deadline(trade_date: date) -> datetime:
    """MiFIR Article 26(1): by the close of the following working day (Saturday and Sunday skipped;
    public holidays are not modelled), taken as 23:59:59 UTC."""
    due = trade_date + timedelta(days=1)
    while due.weekday() >= 5:
        due += timedelta(days=1)
    return datetime.combine(due, time(23, 59, 59), UTC)


def _fund_tag(fund_id: str) -> str:
    return hashlib.sha256(fund_id.encode()).hexdigest()[:8].upper()


def file_name(*, sender_lei: str, authority: str, fund_id: str, trade_date: date, sequence: int) -> str:
    """``{sender LEI}_DATTRA_{NCA}_{YYYYMMDD}-{fund tag}-{sequence:06d}_{YY}.xml``.

    After ESMA's transaction data exchange convention (sender, ``DATTRA``, receiver, keys, year);
    NCAs each publish their own variant, so this is the documented default, not a universal rule.
    The fund tag (8 hex of SHA-256 of the fund id) keeps apart the files of funds sharing one LEI.
    """
    tag = _fund_tag(fund_id)
    return f"{sender_lei}_DATTRA_{authority}_{trade_date:%Y%m%d}-{tag}-{sequence:06d}_{trade_date:%y}.xml"


class Mifid2Adapter:
    """The ``mifid2`` regime: RTS 22 New reports for fills, for funds with ``mifid2_enabled``.

    ``instruments`` maps symbols to ISINs, venues and currencies (an empty reference rejects every
    report, naming ``FinInstrm.Id``); ``clock`` stamps a file's creation date (``CreDt``).
    """

    def __init__(
        self,
        instruments: InstrumentReference | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._instruments = instruments if instruments is not None else InstrumentReference.empty()
        self._clock = clock

    @property
    def regime(self) -> str:
        return REGIME

    @property
    def instruments(self) -> InstrumentReference:
        return self._instruments

    def enabled_for(self, fund: Fund) -> bool:
        return fund.compliance.mifid2_enabled

    def reports_for(
        self,
        event: OrderEvent,
        *,
        fund: Fund,
        actor: str,
        overrides: Mapping[str, Any] | None = None,
    ) -> list[Report]:
        """One New report per fill; other order events are not transactions under RTS 22."""
        if event.event != "filled":
            return []
        record, problems = build_new(event, fund, self._instruments, overrides or {})
        return [
            Report(
                regime=REGIME,
                event_type=NEW,
                report_key=record.get("TxId") or transaction_reference(event),
                fund_id=event.fund_id,
                order_id=event.order_id,
                source_event_id=event.event_id,
                trade_date=event.ts.astimezone(UTC).date(),
                event_time=event.ts,
                record=record,
                line=transaction_xml("New", record),
                status="rejected" if problems else "valid",
                problems=tuple(problems),
            )
        ]

    def render_file(
        self, reports: Sequence[Report], *, fund: Fund, trade_date: date, sequence: int
    ) -> ReportFile:
        """One auth.016 file of New and Cancel reports for ``fund``; refuses a rejected or foreign report."""
        for i, report in enumerate(reports):
            if report.regime != REGIME or report.event_type not in _XML_KIND:
                raise ValueError(
                    f"reports[{i}]: not a MiFID II New or Cancel report ({report.regime}/{report.event_type})"
                )
            if not report.is_valid:
                raise ValueError(f"reports[{i}]: report {report.report_key} is rejected and cannot be filed")
            if report.fund_id != fund.fund_id:
                raise ValueError(f"reports[{i}]: belongs to fund {report.fund_id!r}, not {fund.fund_id!r}")
        if sequence < 1:
            raise ValueError(f"sequence: must be >= 1, got {sequence}")
        setup = fund.compliance
        sender = setup.mifid2_submitting_entity_lei or setup.mifid2_executing_entity_lei
        if sender is None:
            raise ValueError("mifid2_executing_entity_lei: the fund has no LEI to send the file from")
        authority = setup.mifid2_competent_authority or setup.mifid2_branch_country
        if authority is None:
            branches = {str(r.record["Tx.CtryOfBrnch"]) for r in reports if "Tx.CtryOfBrnch" in r.record}
            authority = branches.pop() if len(branches) == 1 else None
        if authority is None:
            raise ValueError(
                "mifid2_competent_authority: set it (or mifid2_branch_country) to address the file"
            )
        fund_tag = _fund_tag(fund.fund_id)
        content = render_document(
            ((_XML_KIND[r.event_type], r.record) for r in reports),
            sender_lei=sender,
            authority=authority,
            message_id=f"DATTRA{trade_date:%Y%m%d}{sequence:06d}{fund_tag}",
            created=self._clock(),
        )
        return ReportFile(
            regime=REGIME,
            fund_id=fund.fund_id,
            name=file_name(
                sender_lei=sender,
                authority=authority,
                fund_id=fund.fund_id,
                trade_date=trade_date,
                sequence=sequence,
            ),
            content=content,
            trade_date=trade_date,
            sequence=sequence,
            record_count=len(reports),
            deadline=reporting_deadline(trade_date),
            media_type="application/xml",
            report_keys=tuple(r.report_key for r in reports),
        )


def cancel_report(report: Report) -> Report:
    """The Cancel (``Tx/Cxl``) withdrawing a filed New report: its TxId and executing entity.

    A New later found wrong is cancelled and, when the transaction stands, reported again as a
    corrected New (RTS 22 has no amend). Only a valid ``NEWT`` can be cancelled.
    """
    if report.regime != REGIME or report.event_type != NEW:
        raise ValueError(
            f"report: only a MiFID II New report can be cancelled, got {report.regime}/{report.event_type}"
        )
    if not report.is_valid:
        raise ValueError(
            f"report: {report.report_key} was rejected, never filed; repair it instead of cancelling"
        )
    record = {path: report.record[path] for path in CANCEL_FIELDS if path in report.record}
    problems = validate(record, CANCEL_FIELDS, list(CANCEL_FIELDS))
    return Report(
        regime=REGIME,
        event_type=CANCEL,
        report_key=f"{CANCEL}-{report.report_key}",
        fund_id=report.fund_id,
        order_id=report.order_id,
        source_event_id=report.source_event_id,
        trade_date=report.trade_date,
        event_time=report.event_time,
        record=record,
        line=transaction_xml("Cxl", record),
        status="rejected" if problems else "valid",
        problems=tuple(problems),
    )
