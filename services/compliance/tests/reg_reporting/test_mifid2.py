"""MiFID II RTS 22: the XML parses back and carries every field with the right value and format;
a cancel references the original transaction reference number; gaps are named and repairable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mts1b_operations.compliance.reg_reporting import mifid2
from mts1b_operations.compliance.reg_reporting._identifiers import is_valid_isin, is_valid_lei
from mts1b_operations.compliance.reg_reporting._instruments import (
    EXAMPLE_INSTRUMENTS_FILE,
    Instrument,
    InstrumentReference,
    load_instruments,
)
from mts1b_operations.compliance.reg_reporting._model import Report, ReportingAdapter
from mts1b_operations.core.funds import Fund, FundCompliance
from mts1b_operations.core.schemas import OrderEvent

EXECUTING_LEI = "7LTWFZYICNSX8D621K86"  # Deutsche Bank AG
CLIENT_LEI = "5493001KJTIIGC8Y1R12"  # Bloomberg Finance L.P.
SUBMITTING_LEI = "INR2EJN1ERAN0W5ZP974"  # Microsoft Corporation, standing in for an ARM
CREATED = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)
FILL_TIME = datetime(2026, 11, 25, 15, 30, 1, 123456, tzinfo=UTC)

NS = {
    "biz": "urn:iso:std:iso:20022:tech:xsd:head.003.001.01",
    "hdr": "urn:iso:std:iso:20022:tech:xsd:head.001.001.01",
    "tx": "urn:iso:std:iso:20022:tech:xsd:auth.016.001.01",
}


def _fund(**compliance: Any) -> Fund:
    setup: dict[str, Any] = {
        "mifid2_enabled": True,
        "mifid2_executing_entity_lei": EXECUTING_LEI,
        "mifid2_branch_country": "DE",
    }
    setup.update(compliance)
    return Fund(
        fund_id="eu-equities", mode="live", strategies=["stat-arb-1"], compliance=FundCompliance(**setup)
    )


def _fill(**changes: Any) -> OrderEvent:
    fields: dict[str, Any] = {
        "event": "filled",
        "event_id": "o-17:filled",
        "order_id": "o-17",
        "fund_id": "eu-equities",
        "strategy_id": "stat-arb-1",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": Decimal("150"),
        "order_type": "limit",
        "limit_price": Decimal("190.50"),
        "venue": "PAPER",
        "fill_quantity": Decimal("150"),
        "fill_price": Decimal("190.2500"),
        "ts": FILL_TIME,
    }
    fields.update(changes)
    return OrderEvent(**fields)


@pytest.fixture(scope="module")
def adapter() -> mifid2.Mifid2Adapter:
    return mifid2.Mifid2Adapter(load_instruments(EXAMPLE_INSTRUMENTS_FILE), clock=lambda: CREATED)


def _one(adapter: mifid2.Mifid2Adapter, event: OrderEvent, fund: Fund | None = None, **kw: Any) -> Report:
    reports = adapter.reports_for(event, fund=fund or _fund(), actor="service:oms", **kw)
    assert len(reports) == 1
    return reports[0]


def _text(node: ET.Element, path: str) -> str:
    found = node.find(path, NS)
    assert found is not None, f"{path} missing"
    assert found.text is not None
    return found.text


def _parse_file(content: bytes) -> ET.Element:
    root = ET.fromstring(content)
    assert root.tag == f"{{{NS['biz']}}}BizData"
    return root


# ---------------------------------------------------------------- the protocol


def test_it_is_a_reporting_adapter_enabled_per_fund(adapter: mifid2.Mifid2Adapter) -> None:
    assert isinstance(adapter, ReportingAdapter)
    assert adapter.regime == "mifid2"
    assert adapter.enabled_for(_fund())
    assert not adapter.enabled_for(_fund(mifid2_enabled=False))
    assert not adapter.enabled_for(Fund(fund_id="f", mode="paper"))


@pytest.mark.parametrize("kind", ["new", "routed", "accepted", "modified", "canceled"])
def test_only_fills_are_transactions(adapter: mifid2.Mifid2Adapter, kind: str) -> None:
    event = _fill(event=kind, event_id=f"o-17:{kind}", fill_quantity=None, fill_price=None)
    assert adapter.reports_for(event, fund=_fund(), actor="service:oms") == []


# ---------------------------------------------------------------- the New report, field by field


def test_a_buy_fill_carries_every_rts22_field(adapter: mifid2.Mifid2Adapter) -> None:
    report = _one(adapter, _fill())
    assert report.is_valid, report.problems
    assert report.event_type == "NEWT"
    assert report.regime == "mifid2"
    assert report.report_key == report.record["TxId"]
    assert (report.fund_id, report.order_id, report.source_event_id) == ("eu-equities", "o-17", "o-17:filled")
    assert report.trade_date == date(2026, 11, 25)

    line = ET.fromstring(report.line)
    assert line.tag == f"{{{NS['tx']}}}Tx"
    new = line.find("tx:New", NS)
    assert new is not None
    assert re.fullmatch(r"[A-Z0-9]{32}", _text(new, "tx:TxId"))
    assert _text(new, "tx:ExctgPty") == EXECUTING_LEI
    assert _text(new, "tx:InvstmtPtyInd") == "true"
    assert _text(new, "tx:SubmitgPty") == EXECUTING_LEI
    # Dealing on own account: the executing entity is the buyer; the anonymous venue side is the MIC.
    assert _text(new, "tx:Buyr/tx:AcctOwnr/tx:Id/tx:LEI") == EXECUTING_LEI
    assert _text(new, "tx:Sellr/tx:AcctOwnr/tx:Id/tx:MIC") == "XNAS"
    assert _text(new, "tx:OrdrTrnsmssn/tx:TrnsmssnInd") == "false"
    assert _text(new, "tx:Tx/tx:TradDt") == "2026-11-25T15:30:01.123Z"
    assert _text(new, "tx:Tx/tx:TradgCpcty") == "DEAL"
    assert _text(new, "tx:Tx/tx:Qty/tx:Unit") == "150"
    amount = new.find("tx:Tx/tx:Pric/tx:Pric/tx:MntryVal/tx:Amt", NS)
    assert amount is not None
    assert amount.text == "190.25"
    assert amount.get("Ccy") == "USD"
    assert _text(new, "tx:Tx/tx:TradVn") == "XNAS"
    assert _text(new, "tx:Tx/tx:CtryOfBrnch") == "DE"
    assert _text(new, "tx:FinInstrm/tx:Id") == "US0378331005"
    assert _text(new, "tx:InvstmtDcsnPrsn/tx:Algo") == "STATARB1"
    assert _text(new, "tx:ExctgPrsn/tx:Algo") == "STATARB1"
    assert new.find("tx:AddtlAttrbts/tx:ShrtSellgInd", NS) is None  # a buy has no short selling indicator
    assert _text(new, "tx:AddtlAttrbts/tx:SctiesFincgTxInd") == "false"
    # The schema's sequence of New, in order.
    assert [child.tag.split("}")[1] for child in new] == [
        "TxId", "ExctgPty", "InvstmtPtyInd", "SubmitgPty", "Buyr", "Sellr", "OrdrTrnsmssn", "Tx",
        "FinInstrm", "InvstmtDcsnPrsn", "ExctgPrsn", "AddtlAttrbts",
    ]  # fmt: skip
    inner = new.find("tx:Tx", NS)
    assert inner is not None
    assert [c.tag.split("}")[1] for c in inner] == [
        "TradDt",
        "TradgCpcty",
        "Qty",
        "Pric",
        "TradVn",
        "CtryOfBrnch",
    ]


@pytest.mark.parametrize(("side", "indicator"), [("sell", "SELX"), ("sell_short", "SESH")])
def test_a_sell_puts_the_fund_on_the_seller_side(
    adapter: mifid2.Mifid2Adapter, side: str, indicator: str
) -> None:
    report = _one(adapter, _fill(side=side))
    assert report.is_valid, report.problems
    assert report.record["Sellr.AcctOwnr.Id.LEI"] == EXECUTING_LEI
    assert report.record["Buyr.AcctOwnr.Id.MIC"] == "XNAS"
    assert report.record["AddtlAttrbts.ShrtSellgInd"] == indicator


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("microsecond", "2026-11-25T15:30:01.123456Z"),
        ("millisecond", "2026-11-25T15:30:01.123Z"),
        ("second", "2026-11-25T15:30:01Z"),
    ],
)
def test_trading_time_is_utc_at_the_funds_rts25_granularity(
    adapter: mifid2.Mifid2Adapter, granularity: str, expected: str
) -> None:
    # The fill is stamped in New York time; the report is in UTC, truncated, never rounded up.
    eastern = timezone(timedelta(hours=-5))
    event = _fill(ts=FILL_TIME.replace(microsecond=123456).astimezone(eastern))
    report = _one(adapter, event, _fund(mifid2_timestamp_granularity=granularity))
    assert report.record["Tx.TradDt"] == expected
    assert report.is_valid


def test_the_funds_configuration_fills_the_parties(adapter: mifid2.Mifid2Adapter) -> None:
    fund = _fund(
        mifid2_submitting_entity_lei=SUBMITTING_LEI,
        mifid2_buyer_seller_lei=CLIENT_LEI,
        mifid2_trading_capacity="AOTC",
        mifid2_execution_algo="SOR7",
    )
    report = _one(adapter, _fill(venue="XETR"), fund)
    assert report.is_valid, report.problems
    record = report.record
    assert record["SubmitgPty"] == SUBMITTING_LEI
    assert record["Buyr.AcctOwnr.Id.LEI"] == CLIENT_LEI
    assert record["Sellr.AcctOwnr.Id.MIC"] == "XETR"  # a MIC-shaped venue on the event wins
    assert record["Tx.TradVn"] == "XETR"
    assert record["Tx.TradgCpcty"] == "AOTC"
    # Agency: the client decided, so no investment decision within the firm.
    assert record["InvstmtPtyInd"] == "false"
    assert "InvstmtDcsnPrsn.Algo" not in record
    assert record["ExctgPrsn.Algo"] == "SOR7"


def test_decimals_are_plain_and_exact(adapter: mifid2.Mifid2Adapter) -> None:
    event = _fill(quantity=Decimal("1E+3"), fill_quantity=Decimal("1000"), fill_price=Decimal("0.00012300"))
    report = _one(adapter, event)
    assert report.record["Tx.Qty.Unit"] == "1000"
    assert report.record["Tx.Pric.Pric.MntryVal.Amt"] == "0.000123"
    too_fine = _one(adapter, _fill(fill_price=Decimal("1.00000000000001")))
    assert [p.field for p in too_fine.problems] == ["Tx.Pric.Pric.MntryVal.Amt"]


# ---------------------------------------------------------------- rejections and repairs


def test_a_missing_isin_rejects_naming_the_field_and_an_override_repairs_it() -> None:
    reference = InstrumentReference({"AAPL": Instrument(mic="XNAS", currency="USD")})  # no ISIN known
    adapter = mifid2.Mifid2Adapter(reference, clock=lambda: CREATED)
    rejected = _one(adapter, _fill())
    assert rejected.status == "rejected"
    assert [p.field for p in rejected.problems] == ["FinInstrm.Id"]
    assert "RTS 22 field 41" in rejected.problems[0].problem
    repaired = _one(adapter, _fill(), overrides={"FinInstrm.Id": "US0378331005"})
    assert repaired.is_valid, repaired.problems
    assert repaired.record["FinInstrm.Id"] == "US0378331005"
    assert repaired.report_key == rejected.report_key  # the same transaction, the same TxId


def test_an_unknown_symbol_names_each_missing_field_and_an_isin_override_brings_the_rest(
    adapter: mifid2.Mifid2Adapter,
) -> None:
    rejected = _one(adapter, _fill(symbol="GOOG"))
    fields = [p.field for p in rejected.problems]
    assert fields == [
        "Sellr.AcctOwnr.Id.LEI",  # no venue known, so no anonymous counterparty MIC either
        "Tx.Pric.Pric.MntryVal.Amt@Ccy",
        "Tx.TradVn",
        "FinInstrm.Id",
    ]
    # An operator supplying the ISIN of a known instrument gets its currency and venue with it.
    repaired = _one(adapter, _fill(symbol="GOOG"), overrides={"FinInstrm.Id": "US5949181045"})
    assert repaired.is_valid, repaired.problems
    assert repaired.record["Tx.TradVn"] == "XNAS"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"FinInstrm.Id": "US0378331006"}, "FinInstrm.Id"),
        ({"ExctgPty": "7LTWFZYICNSX8D621K87"}, "ExctgPty"),
        ({"Tx.TradVn": "xnas"}, "Tx.TradVn"),
        ({"Tx.TradgCpcty": "PRIN"}, "Tx.TradgCpcty"),
        ({"Tx.TradDt": "2026-11-25 15:30:01"}, "Tx.TradDt"),
        ({"Tx.CtryOfBrnch": "DEU"}, "Tx.CtryOfBrnch"),
        ({"Tx.Qty.Unit": "-5"}, "Tx.Qty.Unit"),
        ({"TxId": "lower-case"}, "TxId"),
        ({"FinInstrm.Isin": "US0378331005"}, "FinInstrm.Isin"),
        ({"Tx.Qty.Unit": 5}, "Tx.Qty.Unit"),
    ],
)
def test_a_malformed_value_is_named(
    adapter: mifid2.Mifid2Adapter, override: dict[str, Any], field: str
) -> None:
    report = _one(adapter, _fill(), overrides=override)
    assert report.status == "rejected"
    assert field in [p.field for p in report.problems]


def test_missing_fund_setup_is_named_not_raised(adapter: mifid2.Mifid2Adapter) -> None:
    fund = _fund(mifid2_branch_country=None)
    report = _one(adapter, _fill(strategy_id=None), fund)
    assert [p.field for p in report.problems] == ["Tx.CtryOfBrnch", "InvstmtDcsnPrsn.Algo", "ExctgPrsn.Algo"]
    repaired = _one(
        adapter,
        _fill(strategy_id=None),
        fund,
        overrides={"Tx.CtryOfBrnch": "FR", "InvstmtDcsnPrsn.Algo": "ALGO1", "ExctgPrsn.Algo": "ALGO1"},
    )
    assert repaired.is_valid, repaired.problems


def test_an_off_venue_trade_needs_the_counterparty_lei(adapter: mifid2.Mifid2Adapter) -> None:
    rejected = _one(adapter, _fill(venue="XOFF"))
    assert [p.field for p in rejected.problems] == ["Sellr.AcctOwnr.Id.LEI"]
    repaired = _one(adapter, _fill(venue="XOFF"), overrides={"Sellr.AcctOwnr.Id.LEI": CLIENT_LEI})
    assert repaired.is_valid
    assert repaired.record["Sellr.AcctOwnr.Id.LEI"] == CLIENT_LEI
    assert "Sellr.AcctOwnr.Id.MIC" not in repaired.record


# ---------------------------------------------------------------- cancel and file


def test_a_cancel_references_the_original_transaction(adapter: mifid2.Mifid2Adapter) -> None:
    new = _one(adapter, _fill())
    cancel = mifid2.cancel_report(new)
    assert cancel.is_valid
    assert cancel.event_type == "CANC"
    assert cancel.record == {"TxId": new.record["TxId"], "ExctgPty": EXECUTING_LEI}
    assert cancel.report_key != new.report_key
    cxl = ET.fromstring(cancel.line).find("tx:Cxl", NS)
    assert cxl is not None
    assert [c.tag.split("}")[1] for c in cxl] == ["TxId", "ExctgPty"]
    assert _text(cxl, "tx:TxId") == new.record["TxId"]
    with pytest.raises(ValueError, match="report: only a MiFID II New"):
        mifid2.cancel_report(cancel)


def test_a_rejected_report_cannot_be_cancelled(adapter: mifid2.Mifid2Adapter) -> None:
    rejected = _one(adapter, _fill(symbol="GOOG"))
    with pytest.raises(ValueError, match="repair it"):
        mifid2.cancel_report(rejected)


def test_the_file_has_the_header_and_the_transactions(adapter: mifid2.Mifid2Adapter) -> None:
    fund = _fund(mifid2_submitting_entity_lei=SUBMITTING_LEI, mifid2_competent_authority="FR")
    first = _one(adapter, _fill(), fund)
    second = _one(adapter, _fill(event_id="o-18:filled", order_id="o-18", side="sell"), fund)
    cancel = mifid2.cancel_report(first)
    report_file = adapter.render_file(
        [first, second, cancel], fund=fund, trade_date=date(2026, 11, 25), sequence=3
    )

    assert re.fullmatch(
        rf"{SUBMITTING_LEI}_DATTRA_FR_20261125-[0-9A-F]{{8}}-000003_26\.xml", report_file.name
    )
    other_fund = Fund(fund_id="eu-other", mode="live", compliance=fund.compliance)
    other = _one(adapter, _fill(fund_id="eu-other"), other_fund)
    other_file = adapter.render_file([other], fund=other_fund, trade_date=date(2026, 11, 25), sequence=3)
    assert other_file.name != report_file.name  # two funds of one LEI never collide
    assert report_file.media_type == "application/xml"
    assert report_file.record_count == 3
    assert report_file.report_keys == (first.report_key, second.report_key, cancel.report_key)
    assert report_file.deadline == datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC)

    root = _parse_file(report_file.content)
    header = root.find("biz:Hdr/hdr:AppHdr", NS)
    assert header is not None
    assert [c.tag.split("}")[1] for c in header] == ["Fr", "To", "BizMsgIdr", "MsgDefIdr", "CreDt"]
    assert _text(header, "hdr:Fr/hdr:OrgId/hdr:Id/hdr:OrgId/hdr:Othr/hdr:Id") == SUBMITTING_LEI
    assert _text(header, "hdr:To/hdr:OrgId/hdr:Id/hdr:OrgId/hdr:Othr/hdr:Id") == "FR"
    assert _text(header, "hdr:MsgDefIdr") == "auth.016.001.01"
    assert _text(header, "hdr:CreDt") == "2026-11-25T18:00:00Z"
    assert len(_text(header, "hdr:BizMsgIdr")) <= 35

    transactions = root.findall("biz:Pyld/tx:Document/tx:FinInstrmRptgTxRpt/tx:Tx", NS)
    assert [t[0].tag.split("}")[1] for t in transactions] == ["New", "New", "Cxl"]
    assert _text(transactions[0], "tx:New/tx:TxId") == first.record["TxId"]
    assert _text(transactions[1], "tx:New/tx:Sellr/tx:AcctOwnr/tx:Id/tx:LEI") == EXECUTING_LEI
    assert _text(transactions[2], "tx:Cxl/tx:TxId") == first.record["TxId"]


def test_the_deadline_skips_the_weekend() -> None:
    assert mifid2.reporting_deadline(date(2026, 11, 27)) == datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)


def test_the_file_refuses_rejected_or_foreign_reports(adapter: mifid2.Mifid2Adapter) -> None:
    rejected = _one(adapter, _fill(symbol="GOOG"))
    with pytest.raises(ValueError, match=r"reports\[0\].*rejected"):
        adapter.render_file([rejected], fund=_fund(), trade_date=date(2026, 11, 25), sequence=1)
    valid = _one(adapter, _fill())
    other = Fund(fund_id="other", mode="live", compliance=_fund().compliance)
    with pytest.raises(ValueError, match=r"reports\[0\].*eu-equities"):
        adapter.render_file([valid], fund=other, trade_date=date(2026, 11, 25), sequence=1)
    with pytest.raises(ValueError, match="mifid2_competent_authority"):
        adapter.render_file(
            [mifid2.cancel_report(valid)],
            fund=_fund(mifid2_branch_country=None),
            trade_date=date(2026, 11, 25),
            sequence=1,
        )


def test_reports_and_files_are_deterministic(adapter: mifid2.Mifid2Adapter) -> None:
    first = _one(adapter, _fill())
    again = _one(mifid2.Mifid2Adapter(load_instruments(EXAMPLE_INSTRUMENTS_FILE)), _fill())
    assert first == again
    other = _one(adapter, _fill(event_id="o-17:filled:2"))
    assert other.report_key != first.report_key
    files = [
        adapter.render_file([first], fund=_fund(), trade_date=date(2026, 11, 25), sequence=1).content
        for _ in range(2)
    ]
    assert files[0] == files[1]


# ---------------------------------------------------------------- any valid fill


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.sampled_from(["AAPL", "MSFT", "NVDA", "TSLA", "SPY"]),
    side=st.sampled_from(["buy", "sell", "sell_short"]),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000000"), places=3),
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4),
    ts=st.datetimes(min_value=datetime(2018, 1, 3), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    granularity=st.sampled_from(["second", "millisecond", "microsecond"]),
)
def test_any_valid_fill_makes_a_valid_parseable_report(
    adapter: mifid2.Mifid2Adapter,
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal,
    ts: datetime,
    granularity: str,
) -> None:
    event = _fill(
        symbol=symbol, side=side, quantity=quantity, fill_quantity=quantity, fill_price=price,
        order_type="market", limit_price=None, ts=ts,
    )  # fmt: skip
    report = _one(adapter, event, _fund(mifid2_timestamp_granularity=granularity))
    assert report.is_valid, report.problems
    record = report.record
    assert Decimal(record["Tx.Qty.Unit"]) == quantity
    assert Decimal(record["Tx.Pric.Pric.MntryVal.Amt"]) == price
    assert is_valid_isin(record["FinInstrm.Id"])
    assert is_valid_lei(record["ExctgPty"])
    digits = {"second": 0, "millisecond": 3, "microsecond": 6}[granularity]
    fraction = rf"\.\d{{{digits}}}" if digits else ""
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d{fraction}Z", record["Tx.TradDt"])
    parsed = datetime.fromisoformat(record["Tx.TradDt"].replace("Z", "+00:00"))
    assert timedelta(0) <= ts - parsed < timedelta(seconds=1) / (10**digits)
    assert ET.fromstring(report.line).find("tx:New/tx:TxId", NS) is not None
