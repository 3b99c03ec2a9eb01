"""A rejected report is repaired over HTTP: rebuilt from its order event with the operator's fields."""

from __future__ import annotations

from typing import Any

import asyncpg

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually

from .conftest import ComplianceApp, compliance_facts, order_event, publish, report_rows


async def _rejected_report(app: ComplianceApp, bus: Bus, pool: asyncpg.Pool) -> dict[str, Any]:
    await publish(bus, order_event("routed", venue=None, order_id="o-bad"))

    async def stored() -> bool:
        return len(await report_rows(pool)) == 1

    await eventually(stored, what="the rejected report")
    (report,) = await app.reports(status="rejected")
    return report


async def test_a_repair_supersedes_the_rejected_report_with_a_valid_one_and_records_the_operator(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    old = await _rejected_report(compliance_app, bus, pool)
    response = await compliance_app.post(
        f"/v1/compliance/reports/{old['id']}/repair",
        {"fields": {"destination": "XNYS"}, "reason": "the router dropped the venue"},
    )
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["id"] != old["id"]
    assert new["status"] == "pending"
    assert new["repaired_from"] == old["id"]
    assert new["record"]["destination"] == "XNYS"
    assert new["problems"] == []
    assert (new["order_id"], new["event_type"], new["source_event_id"]) == (
        old["order_id"],
        old["event_type"],
        old["source_event_id"],
    )
    superseded = await compliance_app.get(f"/v1/compliance/reports/{old['id']}")
    assert superseded.json()["status"] == "superseded"
    rows = {row["id"]: row for row in await report_rows(pool)}
    assert rows[new["id"]]["actor"] == "operator:alice"
    assert rows[new["id"]]["repair_reason"] == "the router dropped the venue"

    async def repaired_fact() -> dict[str, Any] | None:
        facts = await compliance_facts(bus)
        return next((p for s, p in facts if s == subjects.compliance_report("repaired")), None)

    fact = await eventually(repaired_fact, what="the repaired fact")
    assert fact["actor"] == "operator:alice"
    assert fact["repaired_from"] == old["id"]
    assert fact["report_id"] == new["id"]
    assert fact["reason"] == "the router dropped the venue"

    again = await compliance_app.post(
        f"/v1/compliance/reports/{old['id']}/repair", {"fields": {"destination": "XNYS"}, "reason": "twice"}
    )
    assert again.status_code == 409, again.text
    assert again.json()["extra"]["code"] == "not_repairable"


async def test_a_repair_that_still_leaves_a_problem_is_refused_naming_the_field(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    old = await _rejected_report(compliance_app, bus, pool)
    response = await compliance_app.post(
        f"/v1/compliance/reports/{old['id']}/repair",
        {"fields": {"destination": "XNYS", "symbol": ""}, "reason": "typo"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["extra"]["code"] == "repair_invalid"
    assert body["extra"]["field"] == "symbol"
    assert body["extra"]["problems"] == [{"field": "symbol", "problem": "is required"}]
    unchanged = await compliance_app.get(f"/v1/compliance/reports/{old['id']}")
    assert unchanged.json()["status"] == "rejected"
    assert len(await report_rows(pool)) == 1


async def test_only_rejected_or_failed_reports_are_repaired_and_an_unknown_id_is_a_404(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    await publish(bus, order_event("new"))

    async def stored() -> bool:
        return len(await report_rows(pool)) == 1

    await eventually(stored, what="the valid report")
    (valid,) = await compliance_app.reports()
    refused = await compliance_app.post(
        f"/v1/compliance/reports/{valid['id']}/repair", {"fields": {}, "reason": "why not"}
    )
    assert refused.status_code == 409, refused.text
    assert "pending" in refused.json()["detail"]

    missing = await compliance_app.post("/v1/compliance/reports/999999/repair", {"fields": {}, "reason": "x"})
    assert missing.status_code == 404, missing.text
    assert missing.json()["extra"]["code"] == "not_found"
    assert (await compliance_app.get("/v1/compliance/reports/999999")).status_code == 404


async def test_a_viewer_cannot_repair(compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool) -> None:
    old = await _rejected_report(compliance_app, bus, pool)
    response = await compliance_app.post(
        f"/v1/compliance/reports/{old['id']}/repair",
        {"fields": {"destination": "XNYS"}, "reason": "x"},
        as_="vera",
    )
    assert response.status_code == 403, response.text
    assert (await compliance_app.get(f"/v1/compliance/reports/{old['id']}")).json()["status"] == "rejected"
