"""OATS: records in the delimited format, field order per record type, required fields, the FORE
header and trailer, determinism."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mts1b_operations.compliance.reg_reporting import oats
from mts1b_operations.compliance.reg_reporting._model import Report, ReportingAdapter
from mts1b_operations.compliance.reg_reporting._oats._layouts import HEADER, LAYOUTS, TRAILER
from mts1b_operations.core.funds import Fund, FundCompliance
from mts1b_operations.core.schemas import OrderEvent

# 15:30:01.123456 UTC on 2026-11-25 is 10:30:01.123 Eastern Standard Time.
TS = datetime(2026, 11, 25, 15, 30, 1, 123456, tzinfo=UTC)
ET_STAMP = "20261125103001123"
ADAPTER = oats.OatsAdapter()


def _fund(**compliance: Any) -> Fund:
    setup: dict[str, Any] = {"oats_enabled": True, "oats_firm_mpid": "ABCD"}
    setup.update(compliance)
    return Fund(fund_id="us-equities", mode="live", compliance=FundCompliance(**setup))


def _event(kind: str, **changes: Any) -> OrderEvent:
    fields: dict[str, Any] = {
        "event": kind,
        "event_id": f"o-9:{kind}",
        "order_id": "o-9",
        "fund_id": "us-equities",
        "strategy_id": "stat-arb-1",
        "symbol": "MSFT",
        "side": "sell_short",
        "quantity": Decimal("250"),
        "order_type": "limit",
        "limit_price": Decimal("410.1500"),
        "time_in_force": "day",
        "venue": "NSDQ",
        "ts": TS,
    }
    if kind == "filled":
        fields |= {"fill_quantity": Decimal("250"), "fill_price": Decimal("410.10")}
    fields.update(changes)
    return OrderEvent(**fields)


def _one(event: OrderEvent, fund: Fund | None = None, **kw: Any) -> Report:
    reports = ADAPTER.reports_for(event, fund=fund or _fund(), actor="service:oms", **kw)
    assert len(reports) == 1
    return reports[0]


def _fields(line: str, code: str) -> dict[str, str]:
    values = line.split(",")
    layout = LAYOUTS[code]
    assert len(values) == len(layout.fields), f"{code}: {len(values)} fields, layout has {len(layout.fields)}"
    return dict(zip(layout.names, values, strict=True))


def test_it_is_a_reporting_adapter_enabled_per_fund() -> None:
    assert isinstance(ADAPTER, ReportingAdapter)
    assert ADAPTER.regime == "oats"
    assert ADAPTER.enabled_for(_fund())
    assert not ADAPTER.enabled_for(Fund(fund_id="f", mode="paper"))


@pytest.mark.parametrize(
    ("kind", "code"), [("new", "NW"), ("routed", "RT"), ("filled", "EX"), ("canceled", "CL")]
)
def test_each_order_event_maps_to_its_record_type(kind: str, code: str) -> None:
    report = _one(_event(kind))
    assert report.is_valid, report.problems
    assert report.event_type == code
    assert report.trade_date == date(2026, 11, 25)
    fields = _fields(report.line, code)
    assert fields["Record Type"] == "#OE#"
    assert fields["Order Event Type Code"] == code
    assert fields["Action Type Code"] == "N"
    assert fields["Firm ROE ID"] == report.report_key
    assert len(report.report_key) == 12
    assert fields["Order Receiving Firm MPID"] == "ABCD"
    assert fields["Order Receiving Firm Order ID"] == "o-9"
    assert report.record == {name: value for name, value in fields.items() if value}


@pytest.mark.parametrize("kind", ["accepted", "modified"])
def test_events_without_an_oats_record_make_none(kind: str) -> None:
    assert ADAPTER.reports_for(_event(kind), fund=_fund(), actor="service:oms") == []


def test_the_new_order_record() -> None:
    fields = _fields(_one(_event("new")).line, "NW")
    assert list(fields)[:12] == [
        "Record Type", "Order Event Type Code", "Action Type Code", "Firm ROE ID",
        "Correction/Deletion Timestamp", "Rejected ROE Resubmit Flag", "Order Receiving Firm MPID",
        "Order Receiving Firm Order Received Date",
        "Order Receiving Firm Order ID", "Routing Firm MPID", "Routed Order ID", "Issue Symbol ID",
    ]  # fmt: skip
    assert fields["Order Receiving Firm Order Received Date"] == ET_STAMP
    assert fields["Issue Symbol ID"] == "MSFT"
    assert fields["Buy/Sell Code"] == "SS"
    assert fields["Shares Quantity"] == "250"
    assert fields["Limit Price"] == "410.15"
    assert fields["Time in Force Code"] == "DAY=20261125"
    assert fields["Receiving Department ID"] == "T"
    assert fields["Account Type Code"] == "P"
    assert (fields["Program Trading Code"], fields["Arbitrage Code"]) == ("N", "N")


@pytest.mark.parametrize(
    ("tif", "order_type", "tif_code", "handling"),
    [
        ("gtc", "limit", "GTC", ""),
        ("ioc", "limit", "", "IOC"),
        ("fok", "limit", "", "FOK"),
        ("opg", "market", "", "MKO"),
        ("cls", "market", "", "MOC"),
    ],
)
def test_time_in_force_and_special_handling(tif: str, order_type: str, tif_code: str, handling: str) -> None:
    price = Decimal("410.15") if order_type == "limit" else None
    fields = _fields(
        _one(_event("new", time_in_force=tif, order_type=order_type, limit_price=price)).line, "NW"
    )
    assert fields["Time in Force Code"] == tif_code
    assert fields["Special Handling Code 1"] == handling
    assert fields["Limit Price"] == ("410.15" if price else "")


def test_the_route_record() -> None:
    fields = _fields(_one(_event("routed")).line, "RT")
    assert fields["Sent to Firm MPID"] == "NSDQ"
    assert fields["Routed Order ID"] == "o-9"
    assert fields["Order Sent Timestamp"] == ET_STAMP
    assert fields["Routed Shares Quantity"] == "250"
    assert fields["Routing Method Code"] == "E"
    assert list(fields)[-2:] == ["Routing Method Code", "Bunched Order Indicator"]


def test_the_execution_and_cancel_records() -> None:
    ex = _fields(_one(_event("filled")).line, "EX")
    assert (ex["Execution Timestamp"], ex["Execution Quantity"], ex["Execution Price"]) == (
        ET_STAMP,
        "250",
        "410.1",
    )
    assert ex["Capacity Code"] == "P"
    cl = _fields(_one(_event("canceled")).line, "CL")
    assert (cl["Cancel Timestamp"], cl["Cancel Type Flag"], cl["Canceled By Flag"]) == (ET_STAMP, "F", "F")


def test_a_summer_timestamp_is_eastern_daylight_time() -> None:
    fields = _fields(_one(_event("new", ts=datetime(2026, 7, 1, 13, 0, 0, 999999, tzinfo=UTC))).line, "NW")
    assert fields["Order Receiving Firm Order Received Date"] == "20260701090000999"


def test_the_funds_setup_fills_its_fields() -> None:
    fund = _fund(oats_account_type_code="A", oats_receiving_department_id="A", oats_capacity_code="A")
    nw = _fields(_one(_event("new"), fund).line, "NW")
    assert (nw["Account Type Code"], nw["Receiving Department ID"]) == ("A", "A")
    assert _fields(_one(_event("filled"), fund).line, "EX")["Capacity Code"] == "A"


# ---------------------------------------------------------------- required fields


_REQUIRED = [
    (code, spec.name) for code, layout in LAYOUTS.items() for spec in layout.fields if spec.mandatory
]
_KIND = {"NW": "new", "RT": "routed", "EX": "filled", "CL": "canceled"}


@pytest.mark.parametrize(("code", "name"), _REQUIRED, ids=[f"{c}-{n}" for c, n in _REQUIRED])
def test_each_missing_required_field_rejects_naming_it(code: str, name: str) -> None:
    report = _one(_event(_KIND[code]), overrides={name: None})
    assert report.status == "rejected"
    assert [p.field for p in report.problems] == [name]
    assert "required" in report.problems[0].problem
    assert name not in report.record


_PREFIX = [
    "Record Type", "Order Event Type Code", "Action Type Code", "Order Receiving Firm MPID",
    "Order Receiving Firm Order Received Date", "Order Receiving Firm Order ID",
]  # fmt: skip


def test_the_required_fields_of_each_record_type() -> None:
    required = {code: [n for c, n in _REQUIRED if c == code] for code in LAYOUTS}
    assert required == {
        "NW": [*_PREFIX, "Issue Symbol ID", "Buy/Sell Code", "Shares Quantity", "Receiving Department ID",
               "Account Type Code", "Program Trading Code", "Arbitrage Code"],
        "RT": [*_PREFIX, "Sent to Firm MPID", "Routed Order ID", "Issue Symbol ID", "Order Sent Timestamp",
               "Routed Shares Quantity", "Routing Method Code"],
        "EX": [*_PREFIX, "Execution Timestamp", "Execution Quantity", "Issue Symbol ID", "Execution Price",
               "Capacity Code"],
        "CL": [*_PREFIX, "Issue Symbol ID", "Cancel Timestamp", "Cancel Type Flag"],
    }  # fmt: skip


def test_a_fund_without_mpid_and_a_venue_without_mpid_are_named_and_repairable() -> None:
    fund = Fund(fund_id="us-equities", mode="live")  # OATS not configured at all
    report = _one(_event("routed", venue="PAPER"), fund)
    assert [p.field for p in report.problems] == ["Order Receiving Firm MPID", "Sent to Firm MPID"]
    repaired = _one(
        _event("routed", venue="PAPER"),
        fund,
        overrides={"Order Receiving Firm MPID": "ABCD", "Sent to Firm MPID": "WXYZ"},
    )
    assert repaired.is_valid, repaired.problems
    assert _fields(repaired.line, "RT")["Sent to Firm MPID"] == "WXYZ"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"Issue Symbol ID": "MS,FT"}, "Issue Symbol ID"),
        ({"Order Receiving Firm Order ID": "x" * 21}, "Order Receiving Firm Order ID"),
        (
            {"Order Receiving Firm Order Received Date": "2026-11-25"},
            "Order Receiving Firm Order Received Date",
        ),
        ({"Shares Quantity": "-1"}, "Shares Quantity"),
        ({"Limit Price": "1.123456789"}, "Limit Price"),
        ({"Execution Price": "1"}, "Execution Price"),  # not a New Order field
        ({"Issue Symbol ID": "MSFTé"}, "Issue Symbol ID"),
        ({"Shares Quantity": 250}, "Shares Quantity"),
    ],
)
def test_malformed_values_are_named(override: dict[str, Any], field: str) -> None:
    report = _one(_event("new"), overrides=override)
    assert report.status == "rejected"
    assert field in [p.field for p in report.problems]


# ---------------------------------------------------------------- the file


def test_the_file_has_header_records_and_trailer_with_the_count() -> None:
    fund = _fund(oats_reporting_oso_id="CLEARCO1")
    reports = [_one(_event(kind)) for kind in ("new", "routed", "filled", "canceled")]
    report_file = ADAPTER.render_file(reports, fund=fund, trade_date=date(2026, 11, 25), sequence=7)
    lines = report_file.content.decode("ascii").split("\n")
    assert lines[-1] == ""  # every record, the trailer included, ends with an end-of-record marker
    header, *records, trailer = lines[:-1]
    assert dict(zip(HEADER.names, header.split(","), strict=True)) == {
        "Record Type": "#HD#",
        "Version Description": "OATS D1999-01",
        "Generation Date": "20261125",
        "Submission Number": "7",
        "User ID": "",
        "Password": "",
        "Reporting OSO ID": "CLEARCO1",
        "Order Receiving Firm MPID": "ABCD",
    }
    assert records == [r.line for r in reports]
    assert dict(zip(TRAILER.names, trailer.split(","), strict=True)) == {
        "Record Type": "#TR#",
        "Order Event Count": "4",
    }
    assert report_file.record_count == 4
    assert report_file.report_keys == tuple(r.report_key for r in reports)
    assert report_file.name.startswith("ABCD_20261125_")
    assert report_file.name.endswith("_0007.oats")
    # 8:00 a.m. Eastern (EST, UTC-5) the next calendar day.
    assert report_file.deadline == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def test_an_empty_file_still_has_header_and_trailer() -> None:
    report_file = ADAPTER.render_file([], fund=_fund(), trade_date=date(2026, 11, 25), sequence=1)
    assert report_file.content.decode().splitlines()[-1] == "#TR#,0"


def test_the_file_refuses_what_cannot_be_filed() -> None:
    rejected = _one(_event("new"), overrides={"Issue Symbol ID": None})
    with pytest.raises(ValueError, match=r"reports\[0\].*rejected"):
        ADAPTER.render_file([rejected], fund=_fund(), trade_date=date(2026, 11, 25), sequence=1)
    with pytest.raises(ValueError, match="oats_firm_mpid"):
        ADAPTER.render_file(
            [], fund=Fund(fund_id="us-equities", mode="live"), trade_date=date(2026, 11, 25), sequence=1
        )
    with pytest.raises(ValueError, match="sequence"):
        ADAPTER.render_file([], fund=_fund(), trade_date=date(2026, 11, 25), sequence=0)


def test_reports_are_deterministic() -> None:
    for kind in ("new", "routed", "filled", "canceled"):
        assert (
            _one(_event(kind)) == oats.OatsAdapter().reports_for(_event(kind), fund=_fund(), actor="other")[0]
        )
    keys = {_one(_event(kind)).report_key for kind in ("new", "routed", "filled", "canceled")}
    assert len(keys) == 4


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["new", "routed", "filled", "canceled"]),
    side=st.sampled_from(["buy", "sell", "sell_short"]),
    quantity=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000000000"), places=4),
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4),
    tif=st.sampled_from(["day", "gtc", "ioc", "fok", "opg", "cls"]),
    market=st.booleans(),
    ts=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    order_id=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20),
)
def test_any_valid_order_event_makes_a_valid_record(
    kind: str,
    side: str,
    quantity: Decimal,
    price: Decimal,
    tif: str,
    market: bool,
    ts: datetime,
    order_id: str,
) -> None:
    changes: dict[str, Any] = {
        "side": side, "quantity": quantity, "time_in_force": tif, "ts": ts, "order_id": order_id,
        "event_id": f"{order_id}:{kind}",
        "order_type": "market" if market else "limit", "limit_price": None if market else price,
    }  # fmt: skip
    if kind == "filled":
        changes |= {"fill_quantity": quantity, "fill_price": price}
    report = _one(_event(kind, **changes))
    assert report.is_valid, report.problems
    fields = _fields(report.line, report.event_type)
    stamp = ts.astimezone(oats.EASTERN)
    assert fields["Order Receiving Firm Order Received Date"][:14] == f"{stamp:%Y%m%d%H%M%S}"
    assert fields["Order Receiving Firm Order ID"] == order_id
    assert report.record == {name: value for name, value in fields.items() if value}
