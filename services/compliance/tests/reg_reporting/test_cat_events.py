"""CAT event records: golden records per event type, validated against the reference field tables;
a rejected report naming the field for every required value the input can lack; firmROEID
determinism; Eastern dates; exact prices and quantities; repairs, corrections, deletions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mts1b_operations.compliance.reg_reporting import FieldProblem, Report, cat
from mts1b_operations.compliance.reg_reporting._cat import validate
from mts1b_operations.core.funds import Fund, FundCompliance
from mts1b_operations.core.schemas import OrderEvent

from ._cat_reference import event_fields, parse_line, reference_errors, required_fields

ADAPTER = cat.CatAdapter()
TS = datetime(2026, 11, 24, 15, 30, 0, 123456, tzinfo=UTC)  # 10:30:00.123456 EST, a Tuesday
TS_NANOS = int(TS.replace(microsecond=0).timestamp()) * 10**9 + 123_456_000
DAY_START = int(datetime(2026, 11, 24, 5, 0, tzinfo=UTC).timestamp()) * 10**9  # 2026-11-24 00:00 EST
ALL_CODES = ("MENO", "MEOR", "MEOA", "MEOM", "MEOC", "MEOT", "MEOF")


def make_fund(**compliance: Any) -> Fund:
    setup: dict[str, Any] = {
        "cat_enabled": True,
        "cat_subscriber_id": "ABCD12345",
        "cat_submitter_id": "SUB1",
        "cat_reporter_imid": "FIRM",
        "cat_reporter_crd": 12345,
        "cat_destinations": {"PAPER": "NYSE", "BROKER": "67890:BRKR"},
        "cat_route_session": "SESS1",
    }
    setup.update(compliance)
    return Fund(fund_id="live-equities", mode="live", compliance=FundCompliance(**setup))


FUND = make_fund()


def make_order(event: str = "new", **fields: Any) -> OrderEvent:
    values: dict[str, Any] = {
        "event": event,
        "event_id": f"evt-{event}-1",
        "order_id": "ord-1",
        "fund_id": "live-equities",
        "strategy_id": "stat-arb-1",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": Decimal("100"),
        "order_type": "limit",
        "limit_price": Decimal("187.25"),
        "ts": TS,
    }
    if event == "routed":
        values["venue"] = "PAPER"
    if event == "filled":
        values |= {"venue": "PAPER", "fill_quantity": Decimal("40"), "fill_price": Decimal("187.2")}
    values.update(fields)
    return OrderEvent(**values)


def build(code: str, order: OrderEvent | None = None, fund: Fund = FUND, **kwargs: Any) -> Report:
    source = {"MEOR": "routed", "MEOM": "modified", "MEOC": "canceled", "MEOT": "filled", "MEOF": "filled"}
    return ADAPTER.build(code, order or make_order(source.get(code, "new")), fund=fund, **kwargs)


def assert_valid(report: Report) -> dict[str, Any]:
    assert report.status == "valid", report.problems
    assert report.problems == ()
    record = parse_line(report.line)
    assert reference_errors(record) == []
    assert validate.validate_record(report.record) == ()
    assert record["type"] == report.event_type
    return record


# ---------------------------------------------------------------- golden records


def test_new_order_golden() -> None:
    record = assert_valid(build("MENO"))
    assert record == {
        "actionType": "NEW",
        "firmROEID": record["firmROEID"],
        "type": "MENO",
        "CATReporterIMID": "FIRM",
        "orderKeyDate": DAY_START,
        "orderID": "ord-1",
        "symbol": "AAPL",
        "eventTimestamp": TS_NANOS,
        "manualFlag": False,
        "electronicDupFlag": False,
        "deptType": "T",
        "solicitationFlag": False,
        "side": "B",
        "price": Decimal("187.25"),
        "quantity": 100,
        "orderType": "LMT",
        "timeInForce": {"DAY": 20261124},
        "tradingSession": "REG",
        "custDspIntrFlag": False,
        "firmDesignatedID": "live-equities",
        "accountHolderType": "P",
        "affiliateFlag": False,
        "negotiatedTradeFlag": False,
        "representativeInd": "N",
    }
    assert record["firmROEID"].startswith("20261124_")
    assert list(record) == [name for name in event_fields("MENO") if name in record]  # spec order


def test_route_golden() -> None:
    record = assert_valid(build("MEOR"))
    expected_subset = {
        "type": "MEOR",
        "senderIMID": "12345:FIRM",
        "destination": "NYSE",
        "destinationType": "E",
        "routedOrderID": "ord-1",
        "session": "SESS1",
        "isoInd": "NA",
        "routeRejectedFlag": False,
        "dupROIDCond": False,
        "multiLegInd": False,
        "affiliateFlag": False,
        "price": Decimal("187.25"),
    }
    assert {k: record[k] for k in expected_subset} == expected_subset
    assert required_fields("MEOR") <= set(record)


def test_route_to_an_industry_member_needs_no_session() -> None:
    record = assert_valid(
        build("MEOR", make_order("routed", venue="BROKER"), make_fund(cat_route_session=None))
    )
    assert (record["destination"], record["destinationType"]) == ("67890:BRKR", "F")
    assert "session" not in record


def test_route_venue_given_as_mic() -> None:
    record = assert_valid(build("MEOR", make_order("routed", venue="XNAS")))
    assert record["destination"] == "NSDQ"


def test_accepted_golden() -> None:
    record = assert_valid(
        cat.CatAdapter().build("orderAccepted", make_order(), fund=FUND, venue="67890:BRKR")
    )
    assert record["receiverIMID"] == "12345:FIRM"
    assert (record["senderIMID"], record["senderType"]) == ("67890:BRKR", "F")
    assert required_fields("MEOA") <= set(record)


def test_modified_golden() -> None:
    record = assert_valid(
        build("MEOM", make_order("modified", quantity=Decimal("80"), limit_price=Decimal("187.3")))
    )
    assert (record["quantity"], record["leavesQty"], record["price"]) == (80, 80, Decimal("187.3"))
    assert record["initiator"] == "F"
    assert required_fields("MEOM") <= set(record)


def test_canceled_golden() -> None:
    record = assert_valid(build("MEOC"))
    assert (record["cancelQty"], record["leavesQty"], record["initiator"]) == (100, 0, "F")
    assert set(record) == required_fields("MEOC") | {"CATReporterIMID"}  # no conditional field applies


def test_trade_golden() -> None:
    record = assert_valid(build("MEOT"))
    assert record == {
        "actionType": "NEW",
        "firmROEID": record["firmROEID"],
        "type": "MEOT",
        "CATReporterIMID": "FIRM",
        "tradeKeyDate": TS_NANOS,
        "tradeID": "evt-filled-1",
        "symbol": "AAPL",
        "eventTimestamp": TS_NANOS,
        "manualFlag": False,
        "cancelFlag": False,
        "quantity": 40,
        "price": Decimal("187.2"),
        "capacity": "P",
        "sideDetailsInd": "BUY",
        "buyDetails": [{"orderKeyDate": DAY_START, "orderID": "ord-1", "side": "B"}],
        "multiLegInd": False,
    }


def test_trade_of_a_sell_has_sell_details() -> None:
    record = assert_valid(build("MEOT", make_order("filled", side="sell_short")))
    assert record["sideDetailsInd"] == "SELL"
    assert record["sellDetails"][0]["side"] == "SS"
    assert "buyDetails" not in record


def test_fulfillment_golden() -> None:
    record = assert_valid(build("MEOF"))
    assert record["fulfillmentID"] == "evt-filled-1"
    assert record["clientDetails"] == [{"orderKeyDate": DAY_START, "orderID": "ord-1", "side": "B"}]
    assert required_fields("MEOF") <= set(record)


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_event_has_its_required_fields_and_nothing_unknown(code: str) -> None:
    record = assert_valid(build(code, venue="67890:BRKR" if code == "MEOA" else None))
    assert required_fields(code) <= set(record)
    assert set(record) <= set(event_fields(code))


@pytest.mark.parametrize(
    ("time_in_force", "order_type", "expected_tif", "expected_instructions"),
    [
        ("day", "limit", {"DAY": 20261124}, None),
        ("gtc", "limit", {"GTC": True}, None),
        ("ioc", "market", {"IOC": True}, None),
        ("fok", "limit", {"IOC": True}, {"FOK": True}),
        ("opg", "market", {"DAY": 20261124}, {"MOO": True}),
        ("opg", "limit", {"DAY": 20261124}, {"LOO": True}),
        ("cls", "market", {"DAY": 20261124}, {"MOC": True}),
    ],
)
def test_time_in_force_and_handling_instructions(
    time_in_force: str,
    order_type: str,
    expected_tif: dict[str, Any],
    expected_instructions: dict[str, Any] | None,
) -> None:
    price = Decimal("10") if order_type == "limit" else None
    order = make_order(time_in_force=time_in_force, order_type=order_type, limit_price=price)
    record = assert_valid(build("MENO", order))
    assert record["timeInForce"] == expected_tif
    assert record.get("handlingInstructions") == expected_instructions
    assert ("price" in record) == (order_type == "limit")


def test_market_order_has_no_price() -> None:
    record = assert_valid(build("MENO", make_order(order_type="market", limit_price=None)))
    assert record["orderType"] == "MKT"
    assert "price" not in record


# ---------------------------------------------------------------- missing required values


def _order_dict(event: str, **changes: Any) -> OrderEvent:
    return make_order(event, **changes)


NEGATIVE_CASES: list[tuple[str, str, Any, dict[str, Any]]] = [
    # (event code, expected field, order, fund compliance changes)
    *[(code, "CATReporterIMID", None, {"cat_reporter_imid": None}) for code in ALL_CODES],
    *[(code, "orderID", "long_order_id", {}) for code in ("MENO", "MEOR", "MEOA", "MEOM", "MEOC")],
    *[(code, "symbol", "long_symbol", {}) for code in ALL_CODES],
    ("MENO", "firmDesignatedID", "long_fund", {}),
    ("MENO", "price", "limit_price_too_precise", {}),
    ("MENO", "quantity", "quantity_too_precise", {}),
    ("MEOR", "destination", "no_venue", {}),
    ("MEOR", "destination", "unknown_venue", {}),
    ("MEOR", "session", None, {"cat_route_session": None}),
    ("MEOR", "senderIMID", None, {"cat_reporter_crd": None}),
    ("MEOA", "senderIMID", "no_venue", {}),
    ("MEOA", "receiverIMID", None, {"cat_reporter_crd": None}),
    ("MEOM", "leavesQty", "quantity_too_precise", {}),
    ("MEOC", "cancelQty", "quantity_too_precise", {}),
    ("MEOT", "price", "unfilled", {}),
    ("MEOT", "quantity", "unfilled", {}),
    ("MEOF", "price", "unfilled", {}),
    ("MEOF", "quantity", "unfilled", {}),
    ("MEOT", "buyDetails[0].orderID", "long_order_id", {}),
]


def _negative_input(code: str, case: Any, compliance: dict[str, Any]) -> tuple[OrderEvent, Fund, str | None]:
    event = {
        "MEOR": "routed",
        "MEOM": "modified",
        "MEOC": "canceled",
        "MEOT": "filled",
        "MEOF": "filled",
    }.get(code, "new")
    fund = make_fund(**compliance)
    venue = "67890:BRKR" if code == "MEOA" else None
    changes: dict[str, Any] = {}
    if case == "long_order_id":
        changes["order_id"] = "o" * 65
    elif case == "long_symbol":
        changes["symbol"] = "S" * 23
    elif case == "limit_price_too_precise":
        changes["limit_price"] = Decimal("1.123456789")
    elif case == "quantity_too_precise":
        changes["quantity"] = Decimal("1.1234567")
    elif case == "no_venue":
        changes["venue"] = None
        venue = None
    elif case == "unknown_venue":
        changes["venue"] = "SOMEWHERE"
    elif case == "unfilled":
        event = "new"
    elif case == "long_fund":
        fund = msgspec.structs.replace(fund, fund_id="f" * 41)
        changes["fund_id"] = "f" * 41
    return make_order(event, **changes), fund, venue


@pytest.mark.parametrize(("code", "field", "case", "compliance"), NEGATIVE_CASES)
def test_missing_required_value_rejects_naming_the_field(
    code: str, field: str, case: Any, compliance: dict[str, Any]
) -> None:
    order, fund, venue = _negative_input(code, case, compliance)
    report = ADAPTER.build(code, order, fund=fund, venue=venue)
    assert report.status == "rejected"
    assert not report.is_valid
    assert field in {problem.field for problem in report.problems}, report.problems
    assert all(isinstance(problem, FieldProblem) and problem.problem for problem in report.problems)


def test_reports_for_never_raises_and_keeps_what_it_could_build() -> None:
    [report] = ADAPTER.reports_for(make_order("routed", venue=None), fund=FUND, actor="service:oms")
    assert report.status == "rejected"
    assert report.problems[0] == FieldProblem(
        "destination", "the order was routed to no venue (the order event has no venue)"
    )
    assert report.record["orderID"] == "ord-1"  # the rest of the record is there for the operator


def test_overrides_supply_missing_fields_and_win_over_derived_values() -> None:
    order = make_order("routed", venue=None)
    report = ADAPTER.build("MEOR", order, fund=FUND, overrides={"destination": "ARCA", "deptType": None})
    record = assert_valid(report)
    assert (record["destination"], record["destinationType"]) == ("ARCA", "E")
    won = ADAPTER.build("MENO", make_order(), fund=FUND, overrides={"deptType": "A", "price": "187.5"})
    assert assert_valid(won)["deptType"] == "A"
    assert won.record["price"] == Decimal("187.5")
    assert won.report_key != build("MENO").report_key  # a repair is a new report


def test_override_with_a_bad_value_is_rejected_naming_it() -> None:
    report = ADAPTER.build("MENO", make_order(), fund=FUND, overrides={"side": "X", "nonsense": 1})
    assert {p.field for p in report.problems} == {"side", "nonsense"}


# ---------------------------------------------------------------- identity, dates, numbers


def test_firm_roe_id_is_deterministic_and_distinct_per_event_and_type() -> None:
    first, again = build("MENO"), build("MENO")
    assert first.report_key == again.report_key == first.record["firmROEID"]
    assert first.line == again.line
    other_event = build("MENO", make_order(event_id="evt-new-2"))
    other_type = build("MEOA", make_order(), venue="67890:BRKR")
    keys = {first.report_key, other_event.report_key, other_type.report_key}
    assert len(keys) == 3
    assert all(len(key) <= 64 for key in keys)


def test_reports_for_maps_order_events_to_event_types() -> None:
    mapped = {
        event: [r.event_type for r in ADAPTER.reports_for(make_order(event), fund=FUND, actor="service:oms")]
        for event in ("new", "routed", "accepted", "modified", "canceled", "filled")
    }
    assert mapped == {
        "new": ["MENO"],
        "routed": ["MEOR"],
        "accepted": [],
        "modified": ["MEOM"],
        "canceled": ["MEOC"],
        "filled": ["MEOT"],
    }


@pytest.mark.parametrize(
    ("ts", "event_day", "trade_date"),
    [
        # 2026-11-25 03:30 UTC is still the 24th in New York (EST, UTC-5)
        (datetime(2026, 11, 25, 3, 30, tzinfo=UTC), date(2026, 11, 24), date(2026, 11, 25)),
        # 04:59:59 UTC in winter: 23:59:59 EST the day before
        (datetime(2026, 1, 6, 4, 59, 59, tzinfo=UTC), date(2026, 1, 5), date(2026, 1, 6)),
        # 05:00 UTC in winter is midnight EST
        (datetime(2026, 1, 6, 5, 0, tzinfo=UTC), date(2026, 1, 6), date(2026, 1, 6)),
        # summer (EDT, UTC-4): 03:59 UTC is the day before, 04:00 UTC the same day
        (datetime(2026, 7, 8, 3, 59, tzinfo=UTC), date(2026, 7, 7), date(2026, 7, 8)),
        (datetime(2026, 7, 8, 4, 0, tzinfo=UTC), date(2026, 7, 8), date(2026, 7, 8)),
        # the DST switch: 2026-03-08 06:30 UTC is 01:30 EST; 07:30 UTC is 03:30 EDT
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), date(2026, 3, 8), date(2026, 3, 9)),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), date(2026, 3, 8), date(2026, 3, 9)),
        # after the 16:15 ET cutoff the CAT trading day is the next one
        (datetime(2026, 11, 24, 21, 16, tzinfo=UTC), date(2026, 11, 24), date(2026, 11, 25)),
        (datetime(2026, 11, 24, 21, 15, tzinfo=UTC), date(2026, 11, 24), date(2026, 11, 24)),
    ],
)
def test_eastern_dates_across_utc_midnight_and_dst(ts: datetime, event_day: date, trade_date: date) -> None:
    report = build("MENO", make_order(ts=ts))
    record = assert_valid(report)
    stamp = event_day.strftime("%Y%m%d")
    assert record["firmROEID"].startswith(f"{stamp}_")
    assert record["timeInForce"] == {"DAY": int(stamp)}
    assert report.trade_date == trade_date
    assert record["eventTimestamp"] == int(ts.timestamp()) * 10**9


def test_timestamps_are_exact_nanoseconds() -> None:
    ts = datetime(2026, 11, 24, 15, 30, 0, 999_999, tzinfo=UTC)
    record = assert_valid(build("MENO", make_order(ts=ts)))
    assert record["eventTimestamp"] % 10**9 == 999_999_000
    assert record["eventTimestamp"] // 10**9 == int(ts.replace(microsecond=0).timestamp())


@pytest.mark.parametrize(
    ("price", "quantity", "price_text", "quantity_text"),
    [
        (Decimal("0.00000001"), Decimal("0.000001"), "0.00000001", "0.000001"),
        (
            Decimal("9999999999.99999999"),
            Decimal("999999999999.999999"),
            "9999999999.99999999",
            "999999999999.999999",
        ),
        (Decimal("187.2500"), Decimal("100.000"), "187.25", "100"),
        (Decimal("1E+2"), Decimal("2.5E+1"), "100", "25"),
        (Decimal("0.1"), Decimal("0.3"), "0.1", "0.3"),
    ],
)
def test_prices_and_quantities_are_exact_json_numbers(
    price: Decimal, quantity: Decimal, price_text: str, quantity_text: str
) -> None:
    report = build("MENO", make_order(limit_price=price, quantity=quantity))
    record = assert_valid(report)
    assert f'"price":{price_text},' in report.line
    assert f'"quantity":{quantity_text},' in report.line
    assert record["price"] == price
    assert record["quantity"] == quantity
    assert "e" not in report.line.split('"price":')[1].split(",")[0].lower()


@pytest.mark.parametrize(
    ("price", "quantity", "field"),
    [
        (Decimal("1.000000001"), Decimal("1"), "price"),
        (Decimal("12345678901"), Decimal("1"), "price"),
        (Decimal("1"), Decimal("0.0000001"), "quantity"),
        (Decimal("1"), Decimal("1234567890123"), "quantity"),
    ],
)
def test_numbers_beyond_the_spec_precision_are_rejected_not_rounded(
    price: Decimal, quantity: Decimal, field: str
) -> None:
    report = build("MENO", make_order(limit_price=price, quantity=quantity))
    assert report.status == "rejected"
    assert [p.field for p in report.problems] == [field]
    assert field not in report.record


# ---------------------------------------------------------------- repairs, corrections, deletions


def test_repair_of_a_cat_rejection_is_rpr_with_error_roe_id() -> None:
    original = build("MENO")
    repaired = cat.repair_report(original, error_roe_id="98765432101", overrides={"deptType": "A"})
    record = assert_valid(repaired)
    assert record["actionType"] == "RPR"
    assert record["errorROEID"] == 98765432101
    assert record["firmROEID"] == original.record["firmROEID"]
    assert record["deptType"] == "A"
    assert repaired.report_key != original.report_key
    assert (
        repaired.report_key
        == cat.repair_report(original, error_roe_id="98765432101", overrides={"deptType": "A"}).report_key
    )


def test_repair_of_a_local_rejection_is_a_corrected_new() -> None:
    rejected = ADAPTER.build("MEOR", make_order("routed", venue=None), fund=FUND)
    assert rejected.status == "rejected"
    fixed = cat.repair_report(
        rejected,
        error_roe_id=None,
        overrides={
            "destination": "NYSE",
            "destinationType": "E",
            "senderIMID": "12345:FIRM",
            "routedOrderID": "ord-1",
            "session": "S",
        },
    )
    record = assert_valid(fixed)
    assert record["actionType"] == "NEW"
    assert "errorROEID" not in record
    assert fixed.report_key != rejected.report_key
    assert (fixed.order_id, fixed.source_event_id, fixed.trade_date) == (
        rejected.order_id,
        rejected.source_event_id,
        rejected.trade_date,
    )


def test_repair_that_still_lacks_a_field_stays_rejected_naming_it() -> None:
    rejected = ADAPTER.build("MEOR", make_order("routed", venue=None), fund=FUND)
    still = cat.repair_report(rejected, error_roe_id=None, overrides={"destination": "NYSE"})
    assert still.status == "rejected"
    assert "destinationType" in {p.field for p in still.problems}


def test_repair_with_a_malformed_error_roe_id_names_it() -> None:
    repaired = cat.repair_report(build("MENO"), error_roe_id="not-a-number")
    assert [p.field for p in repaired.problems] == ["errorROEID"]


def test_repair_accepts_a_record_read_back_from_json_storage() -> None:
    original = build("MEOT")
    stored = msgspec.json.decode(msgspec.json.encode(original.record))  # Decimals come back as strings
    reloaded = Report(**{**{f: getattr(original, f) for f in Report.__slots__}, "record": stored})  # type: ignore[arg-type]
    repaired = cat.repair_report(reloaded, error_roe_id="1")
    record = assert_valid(repaired)
    assert record["price"] == Decimal("187.2")


def test_correction_is_cor_with_the_same_firm_roe_id() -> None:
    original = build("MEOT")
    corrected = cat.correction(original, {"price": Decimal("187.21")})
    record = assert_valid(corrected)
    assert (record["actionType"], record["price"]) == ("COR", Decimal("187.21"))
    assert record["firmROEID"] == original.record["firmROEID"]
    assert "errorROEID" not in record


def test_deletion_is_a_del_instruction() -> None:
    original = build("MEOC")
    deleted = cat.deletion(original)
    assert deleted.is_valid
    assert parse_line(deleted.line) == {"actionType": "DEL", "firmROEID": original.record["firmROEID"]}
    assert reference_errors(parse_line(deleted.line)) == []
    assert deleted.report_key == f"{original.record['firmROEID']}:DEL"


def test_restating_another_regime_is_refused() -> None:
    other = Report(
        regime="oats",
        event_type="NW",
        report_key="k",
        fund_id="f",
        order_id="o",
        source_event_id="e",
        trade_date=date(2026, 11, 24),
        event_time=TS,
        record={},
        line="",
    )
    with pytest.raises(ValueError, match="regime 'oats' is not cat"):
        cat.correction(other)


@pytest.mark.parametrize("event_type", ["newOrderEvent", "MENO", "orderRoute", "MEOF", "trade"])
def test_event_types_by_name_and_code(event_type: str) -> None:
    assert cat.event_code(event_type) in ALL_CODES


def test_unknown_event_type_names_it() -> None:
    with pytest.raises(ValueError, match=r"^event_type: 'newOrder' is not a CAT event"):
        cat.event_code("newOrder")


# ---------------------------------------------------------------- property


_decimals = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("99999999"), places=6, allow_nan=False
)
_prices = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("999999"), places=8, allow_nan=False)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64)


@st.composite
def order_events(draw: st.DrawFn) -> OrderEvent:
    event = draw(st.sampled_from(["new", "routed", "modified", "canceled", "filled"]))
    order_type = draw(st.sampled_from(["market", "limit"]))
    quantity = draw(_decimals)
    values: dict[str, Any] = {
        "event": event,
        "event_id": draw(_ids),
        "order_id": draw(_ids),
        "fund_id": "live-equities",
        "symbol": draw(st.from_regex(r"[A-Z]{1,5}(\.[A-Z])?", fullmatch=True)),
        "side": draw(st.sampled_from(["buy", "sell", "sell_short"])),
        "quantity": quantity,
        "order_type": order_type,
        "limit_price": draw(_prices) if order_type == "limit" else None,
        "time_in_force": draw(st.sampled_from(["day", "gtc", "ioc", "fok", "opg", "cls"])),
        "ts": draw(
            st.datetimes(
                min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
            )
        ),
    }
    if event in ("routed", "filled"):
        values["venue"] = draw(st.sampled_from(["PAPER", "BROKER", "XNYS", "IEX", "12345:OTHR"]))
    if event == "filled":
        values["fill_quantity"] = draw(_decimals.filter(lambda q: q <= quantity))
        values["fill_price"] = draw(_prices)
    return OrderEvent(**values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_events())
def test_any_valid_order_event_yields_a_record_the_reference_accepts(order: OrderEvent) -> None:
    reports = ADAPTER.reports_for(order, fund=FUND, actor="service:oms")
    assert len(reports) == 1
    [report] = reports
    assert report.status == "valid", report.problems
    assert reference_errors(parse_line(report.line)) == []
    assert report.line == ADAPTER.reports_for(order, fund=FUND, actor="service:oms")[0].line


@pytest.mark.parametrize("code", ["MENO", "MEOR", "MEOA", "MEOM"])
def test_limit_order_without_a_price_is_rejected_naming_price(code: str) -> None:
    # OrderEvent itself refuses a limit order without limit_price; a repair that drops it is caught.
    report = build(code, venue="67890:BRKR" if code == "MEOA" else None, overrides={"price": None})
    assert report.status == "rejected"
    assert [p.field for p in report.problems] == ["price"]
    assert "limit order" in report.problems[0].problem
