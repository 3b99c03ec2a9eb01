"""CAT data files: bzip2 NDJSON named per the spec, sequenced per day, due T+1 08:00 ET; metadata."""

from __future__ import annotations

import bz2
import dataclasses
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mts1b_operations.compliance.reg_reporting import Report, ReportFile, cat
from mts1b_operations.compliance.reg_reporting._cat._calendar import is_trading_day, report_deadline
from mts1b_operations.compliance.reg_reporting._cat._files import generation_date
from mts1b_operations.core.funds import Fund, FundCompliance
from mts1b_operations.core.schemas import OrderEvent

from ._cat_reference import parse_line, reference_errors

ADAPTER = cat.CatAdapter()
FUND = Fund(
    fund_id="live-equities",
    mode="live",
    compliance=FundCompliance(
        cat_enabled=True,
        cat_subscriber_id="ABCD12345",
        cat_submitter_id="SUB1",
        cat_reporter_imid="FIRM",
        cat_reporter_crd=12345,
        cat_destinations={"PAPER": "NYSE"},
        cat_route_session="S1",
    ),
)
TUESDAY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def order(event: str, n: int, ts: datetime = TUESDAY, **fields: Any) -> OrderEvent:
    values: dict[str, Any] = {
        "event": event,
        "event_id": f"e{n}-{event}",
        "order_id": f"o{n}",
        "fund_id": "live-equities",
        "symbol": "MSFT",
        "side": "sell",
        "quantity": Decimal("10"),
        "order_type": "market",
        "ts": ts,
    }
    if event in ("routed", "filled"):
        values["venue"] = "PAPER"
    if event == "filled":
        values |= {"fill_quantity": Decimal("10"), "fill_price": Decimal("412.01")}
    return OrderEvent(**(values | fields))


def lifecycle(n: int, ts: datetime = TUESDAY) -> list[Report]:
    return [
        report
        for event in ("new", "routed", "accepted", "filled")
        for report in ADAPTER.reports_for(order(event, n, ts), fund=FUND, actor="service:oms")
    ]


def test_file_is_bzip2_ndjson_of_the_report_lines_in_order() -> None:
    reports = lifecycle(1) + lifecycle(2)
    file = ADAPTER.render_file(reports, fund=FUND, trade_date=date(2026, 11, 24), sequence=1)
    text = bz2.decompress(file.content).decode()
    assert text.endswith("\n")
    assert "\r" not in text
    lines = text.split("\n")[:-1]
    assert lines == [report.line for report in reports]
    assert [parse_line(line)["type"] for line in lines] == ["MENO", "MEOR", "MEOT"] * 2
    assert all(reference_errors(parse_line(line)) == [] for line in lines)
    assert (file.record_count, file.regime, file.fund_id, file.sequence) == (6, "cat", "live-equities", 1)
    assert file.report_keys == tuple(report.report_key for report in reports)
    assert file.media_type == "application/x-bzip2"


def test_file_name_follows_the_convention_and_is_sequenced_per_day() -> None:
    reports = lifecycle(1)
    names = [
        ADAPTER.render_file(
            reports, fund=FUND, trade_date=date(2026, 11, 24), sequence=seq, generated_on=date(2026, 11, 24)
        ).name
        for seq in (1, 2, 12)
    ]
    assert names == [
        "SUB1_FIRM_20261124_liveequities_OrderEvents_000001.json.bz2",
        "SUB1_FIRM_20261124_liveequities_OrderEvents_000002.json.bz2",
        "SUB1_FIRM_20261124_liveequities_OrderEvents_000012.json.bz2",
    ]


def test_the_file_generation_date_is_the_day_the_file_is_made_not_the_trading_day() -> None:
    late = ADAPTER.render_file(
        lifecycle(1), fund=FUND, trade_date=date(2026, 11, 24), sequence=1, generated_on=date(2026, 11, 27)
    )
    assert late.name == "SUB1_FIRM_20261127_liveequities_OrderEvents_000001.json.bz2"
    assert late.trade_date == date(2026, 11, 24)
    assert late.deadline == report_deadline(date(2026, 11, 24))  # the deadline stays the trading day's

    before = generation_date()
    made_now = ADAPTER.render_file(lifecycle(1), fund=FUND, trade_date=date(2026, 11, 24), sequence=1)
    after = generation_date()
    assert made_now.name.split("_")[2] in {f"{day:%Y%m%d}" for day in (before, after)}
    assert generation_date(datetime(2026, 11, 25, 4, 59, tzinfo=UTC)) == date(2026, 11, 24)  # 23:59 EST
    assert generation_date(datetime(2026, 11, 25, 5, 0, tzinfo=UTC)) == date(2026, 11, 25)


def test_file_name_uses_the_configured_group_and_falls_back_to_the_subscriber_id() -> None:
    fund = Fund(
        fund_id="live-equities",
        mode="live",
        compliance=FundCompliance(
            cat_enabled=True, cat_subscriber_id="ABCD12345", cat_reporter_imid="FIRM", cat_file_group="G7"
        ),
    )
    reports = [r for r in ADAPTER.reports_for(order("new", 1), fund=fund, actor="a")]
    file = ADAPTER.render_file(
        reports, fund=fund, trade_date=date(2026, 11, 24), sequence=3, generated_on=date(2026, 11, 24)
    )
    assert file.name == "ABCD12345_FIRM_20261124_G7_OrderEvents_000003.json.bz2"


def test_rendering_is_deterministic() -> None:
    reports = lifecycle(1)
    day = date(2026, 11, 24)
    first = ADAPTER.render_file(reports, fund=FUND, trade_date=day, sequence=1, generated_on=day)
    again = ADAPTER.render_file(reports, fund=FUND, trade_date=day, sequence=1, generated_on=day)
    assert first == again
    assert first.metadata is not None
    assert first.metadata == again.metadata


@pytest.mark.parametrize(
    ("trade_date", "due_utc"),
    [
        (date(2026, 11, 23), datetime(2026, 11, 24, 13, 0, tzinfo=UTC)),  # Monday → Tuesday 08:00 EST
        (date(2026, 11, 20), datetime(2026, 11, 23, 13, 0, tzinfo=UTC)),  # Friday → Monday, over the weekend
        (date(2026, 11, 25), datetime(2026, 11, 27, 13, 0, tzinfo=UTC)),  # Wednesday → Friday (Thanksgiving)
        (date(2026, 7, 2), datetime(2026, 7, 6, 12, 0, tzinfo=UTC)),  # Thu → Mon: July 3 observed; 08:00 EDT
        (
            date(2026, 3, 6),
            datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
        ),  # Friday EST → Monday EDT after the switch
        (date(2026, 12, 31), datetime(2027, 1, 4, 13, 0, tzinfo=UTC)),  # New Year's Day, then the weekend
    ],
)
def test_deadline_is_8am_eastern_on_the_next_trading_day(trade_date: date, due_utc: datetime) -> None:
    assert report_deadline(trade_date) == due_utc
    assert report_deadline(trade_date).utcoffset() == timedelta(0)


def test_file_deadline_over_a_weekend() -> None:
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    reports = lifecycle(1, friday)
    assert {r.trade_date for r in reports} == {date(2026, 11, 20)}
    file = ADAPTER.render_file(reports, fund=FUND, trade_date=date(2026, 11, 20), sequence=1)
    assert file.deadline == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_weekend_events_belong_to_the_next_trading_day() -> None:
    saturday = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    [report] = ADAPTER.reports_for(order("new", 1, saturday), fund=FUND, actor="a")
    assert report.trade_date == date(2026, 11, 23)
    assert report.record["firmROEID"].startswith("20261121_")  # the firmROEID keeps the event's own date


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2026, 11, 26), False),  # Thanksgiving
        (date(2026, 11, 27), True),
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 6, 19), False),  # Juneteenth
        (date(2027, 12, 24), False),  # Christmas observed on the Friday
        (date(2022, 12, 31), False),  # a Saturday
        (date(2021, 12, 31), True),  # New Year's Day 2022 was a Saturday: not observed on the Friday
    ],
)
def test_trading_days(day: date, trading: bool) -> None:
    assert is_trading_day(day) is trading


def _metadata_of(file: ReportFile) -> tuple[str, dict[str, Any]]:
    assert file.metadata is not None
    assert file.metadata.media_type == "application/json"
    assert file.metadata.content.endswith(b"\n")
    body: dict[str, Any] = json.loads(file.metadata.content)
    return file.metadata.name, body


def test_metadata_file_describes_its_data_file_field_by_field() -> None:
    reports = lifecycle(1) + lifecycle(2)
    file = ADAPTER.render_file(
        reports, fund=FUND, trade_date=date(2026, 11, 24), sequence=4, generated_on=date(2026, 11, 25)
    )
    name, meta = _metadata_of(file)

    assert file.name == "SUB1_FIRM_20261125_liveequities_OrderEvents_000004.json.bz2"
    assert name == "SUB1_FIRM_20261125_liveequities_OrderEvents_000004.meta.json"
    assert name.removesuffix(".meta.json") == file.name.removesuffix(".json.bz2")
    assert list(meta) == [
        "type",
        "submitter",
        "reporter",
        "fileGenerationDate",
        "fileVersion",
        "doneForDay",
        "files",
    ]
    submitter, reporter, generated, *_ = file.name.split("_")
    assert meta["type"] == "META"
    assert (meta["submitter"], meta["reporter"]) == (submitter, reporter) == ("SUB1", "FIRM")
    assert meta["fileGenerationDate"] == int(generated) == 20261125  # a Date: an 8-digit number
    assert meta["fileVersion"] == "4.1.0"
    assert meta["doneForDay"] is False
    [entry] = meta["files"]
    assert list(entry) == ["fileName", "recordCount", "compressedHash"]
    assert entry["fileName"] == file.name
    lines = bz2.decompress(file.content).decode().splitlines()
    assert entry["recordCount"] == len(lines) == file.record_count == 6
    assert entry["compressedHash"] == hashlib.sha256(file.content).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", entry["compressedHash"])


def test_metadata_file_is_a_function_of_the_data_file() -> None:
    file = ADAPTER.render_file(
        lifecycle(1), fund=FUND, trade_date=date(2026, 11, 24), sequence=4, generated_on=date(2026, 11, 25)
    )
    assert file.metadata is not None
    assert ADAPTER.metadata_file(file, fund=FUND) == (file.metadata.name, file.metadata.content)
    # Stripped of the attached metadata (as the store hands a file back), the same bytes again.
    bare = dataclasses.replace(file, metadata=None)
    assert cat.metadata_file(bare, fund=FUND) == (file.metadata.name, file.metadata.content)


def test_metadata_file_refuses_a_file_that_is_not_a_cat_data_file_of_the_fund() -> None:
    file = ADAPTER.render_file(
        lifecycle(1), fund=FUND, trade_date=date(2026, 11, 24), sequence=1, generated_on=date(2026, 11, 24)
    )
    with pytest.raises(ValueError, match=r"^data_file\.name: .* is not a CAT data file name of fund"):
        ADAPTER.metadata_file(dataclasses.replace(file, name="SUB1_FIRM_20261124_x.ndjson"), fund=FUND)
    with pytest.raises(ValueError, match=r"^data_file\.name: .* is not a CAT data file name of fund"):
        ADAPTER.metadata_file(dataclasses.replace(file, name="OTHER_" + file.name), fund=FUND)
    bad_day = file.name.replace("20261124", "20261324")
    with pytest.raises(ValueError, match=r"^data_file\.name: .* has no valid File Generation Date"):
        ADAPTER.metadata_file(dataclasses.replace(file, name=bad_day), fund=FUND)
    with pytest.raises(ValueError, match=r"^data_file\.regime: 'oats' is not cat"):
        ADAPTER.metadata_file(dataclasses.replace(file, regime="oats"), fund=FUND)


def test_refuses_rejected_reports_other_funds_and_other_days() -> None:
    good = lifecycle(1)
    [rejected] = ADAPTER.reports_for(order("routed", 9, venue=None), fund=FUND, actor="a")
    with pytest.raises(ValueError, match=r"^reports\[1\]: report .* is rejected"):
        ADAPTER.render_file([good[0], rejected], fund=FUND, trade_date=date(2026, 11, 24), sequence=1)
    with pytest.raises(ValueError, match=r"^reports\[0\]: trade date 2026-11-24 is not 2026-11-25"):
        ADAPTER.render_file(good, fund=FUND, trade_date=date(2026, 11, 25), sequence=1)
    other = Fund(fund_id="other", mode="live", compliance=FUND.compliance)
    with pytest.raises(ValueError, match=r"^reports\[0\]: belongs to fund 'live-equities', not 'other'"):
        ADAPTER.render_file(good, fund=other, trade_date=date(2026, 11, 24), sequence=1)
    with pytest.raises(ValueError, match=r"^sequence: 0 is outside"):
        ADAPTER.render_file(good, fund=FUND, trade_date=date(2026, 11, 24), sequence=0)
    with pytest.raises(ValueError, match=r"^reports: a CAT file needs at least one report"):
        ADAPTER.render_file([], fund=FUND, trade_date=date(2026, 11, 24), sequence=1)
