"""CAT (Consolidated Audit Trail) reporting, per the CAT Reporting Technical Specifications for
Industry Members v4.1.0.

:class:`CatAdapter` is the regime's :class:`~._model.ReportingAdapter`: an OMS ``new`` event
becomes a New Order (MENO), ``routed`` an Order Route (MEOR), ``modified`` an Order Modified
(MEOM), ``canceled`` an Order Canceled (MEOC) and ``filled`` a Trade (MEOT); ``accepted`` needs
no report of ours (the venue reports its own acceptance). Order Accepted (MEOA) and Order
Fulfillment (MEOF) are available through :func:`report_event`, which builds any of the seven by
name (``newOrderEvent``) or code (``MENO``) and hands it to the sink the service configured.
Each data file comes with its metadata file (``{name}.meta.json``, see ``_cat/_files.py``).

Records are built from the order event and the fund's CAT setup; an event missing a required
value becomes a ``rejected`` report naming the CAT field, never an exception. Operators repair
with :func:`repair_report` (RPR with errorROEID for a record CAT rejected, or a corrected NEW for
one that never left), correct with :func:`correction` (COR) and withdraw with :func:`deletion`
(DEL). See docs/operations/compliance-cat.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

from mts1b_operations.core.funds import Fund, UnknownFundError
from mts1b_operations.core.schemas import OrderEvent

from ._cat._builders import EVENT_CODES, EVENT_NAMES, apply_overrides, build_event, coerce, ordered
from ._cat._calendar import cat_trade_date, report_deadline
from ._cat._files import file_group, metadata_file, render_data_file
from ._cat._formats import digest, dumps
from ._cat._spec import EVENT_FIELDS, fields_of
from ._cat.validate import validate_record
from ._model import FieldProblem, Report, ReportFile
from ._registry import configured_funds, configured_sink

__all__ = [
    "EVENT_CODES",
    "EVENT_NAMES",
    "REGIME",
    "CatAdapter",
    "cat_trade_date",
    "correction",
    "deletion",
    "event_code",
    "file_group",
    "metadata_file",
    "repair_report",
    "report_deadline",
    "report_event",
    "validate_record",
]

REGIME: Final = "cat"

_FOR_ORDER_EVENT: Final[Mapping[str, str | None]] = {
    "new": "MENO",
    "routed": "MEOR",
    "accepted": None,
    "modified": "MEOM",
    "canceled": "MEOC",
    "filled": "MEOT",
}


def event_code(event_type: str) -> str:
    """The message type code of a CAT event given by name (``newOrderEvent``) or code (``MENO``)."""
    if event_type in EVENT_NAMES:
        return event_type
    try:
        return EVENT_CODES[event_type]
    except KeyError:
        known = ", ".join(f"{name}/{code}" for name, code in EVENT_CODES.items())
        raise ValueError(
            f"event_type: {event_type!r} is not a CAT event this adapter builds ({known})"
        ) from None


def _report(
    code: str,
    record: Mapping[str, Any],
    problems: Sequence[FieldProblem],
    *,
    report_key: str,
    fund_id: str,
    order_id: str,
    source_event_id: str,
    trade_date: date,
    event_time: Any,
) -> Report:
    named = {problem.field for problem in problems}
    merged = [*problems, *(p for p in validate_record(record) if p.field not in named)]
    return Report(
        regime=REGIME,
        event_type=code,
        report_key=report_key,
        fund_id=fund_id,
        order_id=order_id,
        source_event_id=source_event_id,
        trade_date=trade_date,
        event_time=event_time,
        record=dict(record),
        line=dumps(record),
        status="rejected" if merged else "valid",
        problems=tuple(merged),
    )


class CatAdapter:
    """The CAT regime: enabled by a fund's ``compliance.cat_enabled``."""

    @property
    def regime(self) -> str:
        return REGIME

    def enabled_for(self, fund: Fund) -> bool:
        return fund.compliance.cat_enabled

    def build(
        self,
        event_type: str,
        order: OrderEvent,
        *,
        fund: Fund,
        venue: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Report:
        """The ``event_type`` report (name or code) for ``order``; rejected when a field is missing.

        The report key is the record's firmROEID, a digest of the source event: the same event
        always maps to the same key. With overrides (a repair) the key also carries a digest of
        the repaired record, so the repair is a new report that supersedes the first.
        """
        code = event_code(event_type)
        if order.fund_id != fund.fund_id:
            raise ValueError(
                f"fund: order {order.order_id!r} belongs to fund {order.fund_id!r}, not {fund.fund_id!r}"
            )
        built = build_event(code, order, fund, venue=venue, overrides=overrides)
        roe_id = str(built.record.get("firmROEID", ""))
        key = roe_id
        if overrides:
            key = f"{roe_id}:{built.record.get('actionType')}:{digest(dumps(built.record))[:16]}"
        return _report(
            code,
            built.record,
            built.problems,
            report_key=key,
            fund_id=order.fund_id,
            order_id=order.order_id,
            source_event_id=order.event_id,
            trade_date=cat_trade_date(order.ts),
            event_time=order.ts,
        )

    def reports_for(
        self,
        event: OrderEvent,
        *,
        fund: Fund,
        actor: str,
        overrides: Mapping[str, Any] | None = None,
    ) -> list[Report]:
        code = _FOR_ORDER_EVENT[event.event]
        if code is None:
            return []
        return [self.build(code, event, fund=fund, overrides=overrides)]

    def render_file(
        self,
        reports: Sequence[Report],
        *,
        fund: Fund,
        trade_date: date,
        sequence: int,
        generated_on: date | None = None,
    ) -> ReportFile:
        """The bzip2-compressed NDJSON data file, named per the spec, due T+1 08:00 ET, with its
        metadata file (``ReportFile.metadata``), which the service submits right after it.

        ``generated_on`` is the File Generation Date; by default today's Eastern date.
        """
        return render_data_file(
            reports, fund=fund, trade_date=trade_date, sequence=sequence, generated_on=generated_on
        )

    def metadata_file(self, data_file: ReportFile, *, fund: Fund) -> tuple[str, bytes]:
        """The metadata file (name, content) that must accompany ``data_file`` (the same bytes
        ``render_file`` attached to it)."""
        return metadata_file(data_file, fund=fund)

    def __repr__(self) -> str:
        return "CatAdapter()"


_ADAPTER: Final = CatAdapter()


async def report_event(
    event_type: str,
    *,
    order: OrderEvent,
    venue: str | None = None,
    actor: str,
    fund: Fund | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Report:
    """Build exactly the ``event_type`` CAT report for ``order``, validate it, hand it to the sink.

    ``fund`` defaults to the order's fund in the registry given to ``configure``. The report is
    handed to the configured sink when the fund has CAT enabled (and returned either way), so a
    rejected report is stored and repairable like one built from the order stream.
    """
    if not actor:
        raise ValueError("actor: is required (who reports the event)")
    code = event_code(event_type)
    if fund is None:
        funds = configured_funds()
        if funds is None:
            raise ValueError("fund: not given, and configure() has set no funds registry to look it up in")
        try:
            fund = funds.fund(order.fund_id)
        except UnknownFundError:
            raise ValueError(f"fund: {order.fund_id!r} is not in the funds registry") from None
    report = _ADAPTER.build(code, order, fund=fund, venue=venue, overrides=overrides)
    sink = configured_sink()
    if sink is not None and fund.compliance.cat_enabled:
        await sink.accept([report])
    return report


# ---------------------------------------------------------------- repairs, corrections, deletions


def _restated(report: Report, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    if report.regime != REGIME:
        raise ValueError(f"report: regime {report.regime!r} is not cat")
    code = report.event_type
    if code not in EVENT_FIELDS:
        raise ValueError(f"report: event type {code!r} is not a CAT event this adapter knows")
    fields = fields_of(code)
    record = {name: coerce(fields.get(name), value) for name, value in report.record.items()}
    apply_overrides(code, record, overrides or {})
    return record


def _successor(report: Report, record: dict[str, Any], action: str) -> Report:
    code = report.event_type
    record = ordered(code, record)
    roe_id = str(record.get("firmROEID", report.report_key))
    return _report(
        code,
        record,
        (),
        report_key=f"{roe_id}:{action}:{digest(dumps(record))[:16]}",
        fund_id=report.fund_id,
        order_id=report.order_id,
        source_event_id=report.source_event_id,
        trade_date=report.trade_date,
        event_time=report.event_time,
    )


def repair_report(
    report: Report, *, error_roe_id: str | None, overrides: Mapping[str, Any] | None = None
) -> Report:
    """The repaired report: RPR carrying ``errorROEID`` when CAT rejected ``report`` after
    submission, or a corrected NEW when ``report`` was rejected here and never submitted.

    ``overrides`` (spec field names; ``None`` removes a field) are applied to ``report``'s
    record; the result is validated again, so a repair that still lacks a field is rejected
    naming it. A malformed ``error_roe_id`` is reported as a problem on ``errorROEID``.
    """
    record = _restated(report, overrides)
    if error_roe_id is None:
        record["actionType"] = "NEW"
        record.pop("errorROEID", None)
        return _successor(report, record, "NEW")
    record["actionType"] = "RPR"
    error_id = str(error_roe_id).strip()
    record["errorROEID"] = int(error_id) if error_id.isdigit() and len(error_id) <= 20 else error_id
    return _successor(report, record, "RPR")


def correction(report: Report, overrides: Mapping[str, Any] | None = None) -> Report:
    """A firm-initiated correction (COR) of a report CAT accepted: the full restated record."""
    record = _restated(report, overrides)
    record["actionType"] = "COR"
    record.pop("errorROEID", None)
    return _successor(report, record, "COR")


def deletion(report: Report) -> Report:
    """A DEL instruction withdrawing ``report``'s record (identified by its firmROEID) from CAT."""
    if report.regime != REGIME:
        raise ValueError(f"report: regime {report.regime!r} is not cat")
    roe_id = report.record.get("firmROEID")
    if not isinstance(roe_id, str) or not roe_id:
        raise ValueError(f"report: {report.report_key} has no firmROEID to delete")
    record = {"actionType": "DEL", "firmROEID": roe_id}
    return _report(
        report.event_type,
        record,
        (),
        report_key=f"{roe_id}:DEL",
        fund_id=report.fund_id,
        order_id=report.order_id,
        source_event_id=report.source_event_id,
        trade_date=report.trade_date,
        event_time=report.event_time,
    )
