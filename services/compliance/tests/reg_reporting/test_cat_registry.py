"""The adapter registry, the configure() hook and cat.report_event's hand-off to the sink."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mts1b_operations.compliance.reg_reporting import (
    AdapterRegistry,
    Report,
    ReportingAdapter,
    UnknownRegimeError,
    cat,
    configure,
    default_registry,
)
from mts1b_operations.core.funds import Fund, FundCompliance, FundsRegistry
from mts1b_operations.core.schemas import OrderEvent

CAT_FUND = Fund(
    fund_id="live-equities",
    mode="live",
    strategies=["stat-arb-1"],
    compliance=FundCompliance(cat_enabled=True, cat_subscriber_id="ABCD12345", cat_reporter_imid="FIRM"),
)
PAPER_FUND = Fund(fund_id="paper-momentum", mode="paper", strategies=["mom-us-eq"])
ORDER = OrderEvent(
    event="new",
    event_id="e1",
    order_id="o1",
    fund_id="live-equities",
    symbol="AAPL",
    side="buy",
    quantity=Decimal("5"),
    order_type="market",
    ts=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
)


class RecordingSink:
    def __init__(self) -> None:
        self.batches: list[list[Report]] = []

    async def accept(self, reports: Sequence[Report]) -> None:
        self.batches.append(list(reports))


@pytest.fixture(autouse=True)
def _unconfigured() -> object:
    configure(funds=None, sink=None)
    yield None
    configure(funds=None, sink=None)


def test_registry_enables_cat_only_for_funds_that_turn_it_on() -> None:
    registry = AdapterRegistry([cat.CatAdapter()])
    assert registry.get("cat").regime == "cat"
    assert [a.regime for a in registry.enabled_for(CAT_FUND)] == ["cat"]
    assert registry.enabled_for(PAPER_FUND) == []
    with pytest.raises(UnknownRegimeError, match="no reporting adapter is registered for regime 'nope'"):
        registry.get("nope")
    with pytest.raises(TypeError, match="does not implement ReportingAdapter"):
        registry.register(object())  # type: ignore[arg-type]


def test_default_registry_holds_cat_oats_and_mifid2() -> None:
    registry = default_registry()
    assert set(registry.regimes) == {"cat", "oats", "mifid2"}
    assert all(isinstance(adapter, ReportingAdapter) for adapter in registry)


async def test_report_event_builds_the_named_event_and_hands_it_to_the_sink() -> None:
    sink = RecordingSink()
    configure(funds=FundsRegistry([CAT_FUND, PAPER_FUND]), sink=sink)
    report = await cat.report_event(event_type="newOrderEvent", order=ORDER, venue=None, actor="operator:ann")
    assert (report.event_type, report.status) == ("MENO", "valid")
    assert sink.batches == [[report]]
    again = await cat.report_event("MENO", order=ORDER, actor="operator:ann")
    assert again.report_key == report.report_key  # a resubmission is the same report


async def test_report_event_for_a_fund_without_cat_is_not_handed_to_the_sink() -> None:
    sink = RecordingSink()
    configure(funds=FundsRegistry([CAT_FUND, PAPER_FUND]), sink=sink)
    paper_order = OrderEvent(
        **{**{f: getattr(ORDER, f) for f in ORDER.__struct_fields__}, "fund_id": "paper-momentum"}
    )
    report = await cat.report_event("newOrderEvent", order=paper_order, actor="operator:ann")
    assert report.event_type == "MENO"
    assert sink.batches == []


async def test_report_event_rejects_bad_arguments_naming_them() -> None:
    with pytest.raises(ValueError, match=r"^event_type: 'orderFilled' is not a CAT event"):
        await cat.report_event("orderFilled", order=ORDER, actor="a", fund=CAT_FUND)
    with pytest.raises(ValueError, match=r"^fund: not given, and configure\(\) has set no funds registry"):
        await cat.report_event("MENO", order=ORDER, actor="a")
    configure(funds=FundsRegistry([PAPER_FUND]), sink=None)
    with pytest.raises(ValueError, match=r"^fund: 'live-equities' is not in the funds registry"):
        await cat.report_event("MENO", order=ORDER, actor="a")
    with pytest.raises(ValueError, match=r"^actor: is required"):
        await cat.report_event("MENO", order=ORDER, actor="", fund=CAT_FUND)


def test_configure_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match=r"^sink: "):
        configure(funds=None, sink=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^funds: expected a FundsRegistry"):
        configure(funds=[CAT_FUND], sink=None)  # type: ignore[arg-type]
