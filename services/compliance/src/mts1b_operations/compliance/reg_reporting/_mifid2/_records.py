"""From a fill to the RTS 22 fields of a New transaction report, and from a New to its Cancel.

Everything is derived from the order event, the fund's registry entry and the instrument
reference; an operator's overrides (same field names) win. Nothing raises for missing data:
every gap becomes a :class:`FieldProblem` naming the field, so the report can be held and repaired.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

from .._identifiers import is_valid_mic
from .._instruments import Instrument, InstrumentReference
from .._model import FieldProblem
from ._fields import NEW_FIELDS, RtsField, format_decimal, format_trade_time

__all__ = ["OFF_VENUE", "Record", "build_new", "transaction_reference", "validate"]

Record = dict[str, str]

OFF_VENUE: Final = frozenset({"XOFF", "XXXX"})
"""Venue codes that are not a trading venue's MIC (off venue; third-country venue)."""


def transaction_reference(event: OrderEvent) -> str:
    """RTS 22 field 2, deterministic in the fill: a redelivered event maps to the same number.

    32 upper-case hex characters of SHA-256 over the fund and the event id (unique per firm and
    well inside the 52 characters allowed).
    """
    digest = hashlib.sha256(f"mifid2\x1f{event.fund_id}\x1f{event.event_id}".encode()).hexdigest()
    return digest[:32].upper()


def _algo_id(strategy_id: str | None) -> str | None:
    """A strategy id as an RTS 22 algorithm id: upper-case letters and digits, at most 50."""
    if strategy_id is None:
        return None
    return re.sub(r"[^A-Z0-9]", "", strategy_id.upper())[:50] or None


def _instrument(
    event: OrderEvent, instruments: InstrumentReference, overrides: Mapping[str, Any]
) -> Instrument | None:
    found = instruments.get(event.symbol)
    isin = overrides.get("FinInstrm.Id")
    if isinstance(isin, str) and (found is None or found.isin != isin):
        # An operator supplying the ISIN of a known instrument also supplies its currency and venue.
        return instruments.by_isin(isin) or found
    return found


def _derive(
    event: OrderEvent, fund: Fund, instruments: InstrumentReference, overrides: Mapping[str, Any]
) -> Record:
    setup = fund.compliance
    instrument = _instrument(event, instruments, overrides)
    executing = setup.mifid2_executing_entity_lei
    derived: dict[str, str | None] = dict.fromkeys(NEW_FIELDS)

    derived["TxId"] = transaction_reference(event)
    derived["ExctgPty"] = executing
    agency = setup.mifid2_trading_capacity == "AOTC"
    derived["InvstmtPtyInd"] = "false" if agency else "true"
    derived["SubmitgPty"] = setup.mifid2_submitting_entity_lei or executing

    venue = event.venue if event.venue is not None and is_valid_mic(event.venue) else None
    venue = venue or (instrument.mic if instrument is not None else None)
    derived["Tx.TradVn"] = venue

    own, counterparty = ("Buyr", "Sellr") if event.side == "buy" else ("Sellr", "Buyr")
    derived[f"{own}.AcctOwnr.Id.LEI"] = setup.mifid2_buyer_seller_lei or executing
    if venue is not None and venue not in OFF_VENUE and f"{counterparty}.AcctOwnr.Id.LEI" not in overrides:
        # An anonymous trade on a venue: the counterparty is identified by the venue's MIC.
        derived[f"{counterparty}.AcctOwnr.Id.MIC"] = venue

    derived["OrdrTrnsmssn.TrnsmssnInd"] = "false"
    derived["Tx.TradDt"] = format_trade_time(event.ts, setup.mifid2_timestamp_granularity)
    derived["Tx.TradgCpcty"] = setup.mifid2_trading_capacity
    if event.fill_quantity is not None:
        derived["Tx.Qty.Unit"] = format_decimal(event.fill_quantity)
    if event.fill_price is not None:
        derived["Tx.Pric.Pric.MntryVal.Amt"] = format_decimal(event.fill_price)
    derived["Tx.Pric.Pric.MntryVal.Amt@Ccy"] = instrument.currency if instrument is not None else None
    derived["Tx.CtryOfBrnch"] = setup.mifid2_branch_country
    derived["FinInstrm.Id"] = instrument.isin if instrument is not None else None

    decision = setup.mifid2_investment_decision_algo or _algo_id(event.strategy_id)
    derived["InvstmtDcsnPrsn.Algo"] = None if agency else decision
    derived["ExctgPrsn.Algo"] = setup.mifid2_execution_algo or decision
    if event.side != "buy":
        derived["AddtlAttrbts.ShrtSellgInd"] = "SESH" if event.side == "sell_short" else "SELX"
    derived["AddtlAttrbts.SctiesFincgTxInd"] = "false"
    return {path: value for path, value in derived.items() if value is not None}


def _required(record: Record, side: str) -> list[str]:
    """The fields a New report must carry, given what the record already says."""
    optional = {"Buyr.AcctOwnr.Id.LEI", "Buyr.AcctOwnr.Id.MIC", "Sellr.AcctOwnr.Id.LEI"}
    optional |= {"Sellr.AcctOwnr.Id.MIC", "InvstmtDcsnPrsn.Algo", "AddtlAttrbts.ShrtSellgInd"}
    required = [path for path in NEW_FIELDS if path not in optional]
    for party in ("Buyr", "Sellr"):
        if f"{party}.AcctOwnr.Id.LEI" not in record and f"{party}.AcctOwnr.Id.MIC" not in record:
            required.append(f"{party}.AcctOwnr.Id.LEI")
    if record.get("InvstmtPtyInd") == "true":
        required.append("InvstmtDcsnPrsn.Algo")
    if side != "buy":
        required.append("AddtlAttrbts.ShrtSellgInd")
    return required


def validate(
    record: Mapping[str, str], fields: Mapping[str, RtsField], required: list[str]
) -> list[FieldProblem]:
    """Every missing required field and every malformed value, in schema order."""
    problems: list[FieldProblem] = []
    for path, spec in fields.items():
        value = record.get(path)
        if value is None:
            if path in required:
                problems.append(FieldProblem(path, spec.missing()))
        elif (problem := spec.check(value)) is not None:
            problems.append(FieldProblem(path, problem))
    return problems


def _apply_overrides(
    derived: Record, overrides: Mapping[str, Any], fields: Mapping[str, RtsField]
) -> tuple[Record, list[FieldProblem]]:
    problems: list[FieldProblem] = []
    merged = dict(derived)
    for path, value in overrides.items():
        if path not in fields:
            problems.append(FieldProblem(str(path), "unknown RTS 22 field for this report"))
        elif value is None:
            merged.pop(path, None)
        elif not isinstance(value, str):
            problems.append(FieldProblem(path, f"must be a string, got {type(value).__name__}"))
        else:
            merged[path] = value
    # Keep the schema order whatever order the overrides came in.
    return {path: merged[path] for path in fields if path in merged}, problems


def build_new(
    event: OrderEvent,
    fund: Fund,
    instruments: InstrumentReference,
    overrides: Mapping[str, Any],
) -> tuple[Record, list[FieldProblem]]:
    """The New report's fields for a fill, and what keeps it from being filed."""
    record, problems = _apply_overrides(_derive(event, fund, instruments, overrides), overrides, NEW_FIELDS)
    problems += validate(record, NEW_FIELDS, _required(record, event.side))
    return record, problems
