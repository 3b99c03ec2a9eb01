"""Order events in, reports stored with a fact each; funds without reporting and redeliveries add nothing."""

from __future__ import annotations

import asyncpg
from prometheus_client import REGISTRY

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually

from .conftest import ComplianceApp, compliance_facts, order_event, publish, report_rows


async def test_a_fund_with_the_regime_gets_its_reports_stored_each_with_a_fact_in_the_audit_stream(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    events = [order_event("new"), order_event("routed"), order_event("accepted"), order_event("filled")]
    for event in events:
        await publish(bus, event)

    async def three_reports() -> bool:
        return len(await report_rows(pool)) == 3

    await eventually(three_reports, what="a report per new, routed and filled event")
    items = await compliance_app.reports(fund_id="firm-fund")
    assert [(r["event_type"], r["status"], r["regime"]) for r in items] == [
        ("NEW", "pending", "firmx"),
        ("ROUTE", "pending", "firmx"),
        ("FILL", "pending", "firmx"),
    ]
    assert [r["source_event_id"] for r in items] == [
        events[0].event_id,
        events[1].event_id,
        events[3].event_id,
    ]
    assert items[1]["record"]["destination"] == "XNAS"
    assert items[0]["trade_date"] == "2026-03-16"
    rows = await report_rows(pool)
    assert all(row["actor"] == "service:compliance" for row in rows)

    async def three_facts() -> list[tuple[str, dict[str, object]]] | None:
        facts = await compliance_facts(bus)
        return facts if len(facts) == 3 else None

    facts = await eventually(three_facts, what="a stored fact per report in the OPERATIONS stream")
    assert {subject for subject, _ in facts} == {subjects.compliance_report("stored")}
    assert sorted(int(str(payload["report_id"])) for _, payload in facts) == [r["id"] for r in items]
    assert {payload["type"] for _, payload in facts} == {"ComplianceReportFact"}


async def test_a_fund_without_reporting_and_an_unknown_fund_get_nothing(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    await publish(bus, order_event("new", fund_id="quiet-fund"))
    await publish(bus, order_event("new", fund_id="ghost-fund"))
    marker = order_event("new", order_id="o-marker")
    await publish(bus, marker)

    async def marker_stored() -> bool:
        return any(row["order_id"] == "o-marker" for row in await report_rows(pool))

    # The consumer handles the stream in order: once the last event is in, the earlier two were handled.
    await eventually(marker_stored, what="the marker event's report")
    assert [row["fund_id"] for row in await report_rows(pool)] == ["firm-fund"]

    # A report is committed before its handler returns and the event is acked.
    async def all_acked() -> bool:
        info = await compliance_app.consumer.info()
        return info.num_ack_pending == 0 and info.num_pending == 0

    await eventually(all_acked, what="every order event acked")


async def test_the_same_event_published_twice_makes_one_report(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    event = order_event("new")
    await publish(bus, event, msg_id="first-publish")
    await publish(bus, event, msg_id="second-publish")  # a redelivery JetStream cannot deduplicate
    marker = order_event("new", order_id="o-marker")
    await publish(bus, marker)

    async def marker_stored() -> bool:
        return any(row["order_id"] == "o-marker" for row in await report_rows(pool))

    await eventually(marker_stored, what="the marker event's report")
    rows = await report_rows(pool)
    assert [row["source_event_id"] for row in rows] == [event.event_id, marker.event_id]

    async def two_facts() -> bool:
        return len(await compliance_facts(bus)) == 2

    await eventually(two_facts, what="one fact per stored report")
    stream = await bus.js.stream_info("OMS")
    assert stream.state.messages == 3


async def test_an_event_that_is_not_an_order_event_is_terminated_and_counted(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    def undecodable() -> float:
        return REGISTRY.get_sample_value("mts_compliance_undecodable_order_events_total") or 0.0

    before = undecodable()
    await bus.publish(subjects.oms_order("new"), b'{"event": "new", "order_id": 7}', msg_id="garbage-1")
    await publish(bus, order_event("new", order_id="o-after"))

    async def after_stored() -> bool:
        return any(row["order_id"] == "o-after" for row in await report_rows(pool))

    await eventually(after_stored, what="the event after the undecodable one")
    assert undecodable() == before + 1
    assert [row["order_id"] for row in await report_rows(pool)] == ["o-after"]


async def test_a_rejected_report_is_listed_with_its_field_named_and_a_rejected_fact(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    await publish(bus, order_event("routed", venue=None))

    async def stored() -> bool:
        return len(await report_rows(pool)) == 1

    await eventually(stored, what="the rejected report")
    rejected = await compliance_app.reports(status="rejected")
    assert len(rejected) == 1
    assert rejected[0]["problems"] == [{"field": "destination", "problem": "is required"}]
    assert await compliance_app.reports(status="pending") == []

    async def fact() -> list[tuple[str, dict[str, object]]]:
        return await compliance_facts(bus)

    facts = await eventually(fact, what="the rejected fact")
    assert facts[0][0] == subjects.compliance_report("rejected")
    assert facts[0][1]["problems"] == [{"field": "destination", "problem": "is required"}]
