"""The HTTP API's refusals: bad filters name the parameter, tokens and roles are checked, never a 500."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually

from .conftest import ComplianceApp, order_event, publish, report_rows


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/compliance/reports", {"regime": "sec17a"}, "regime"),
        ("/v1/compliance/reports", {"status": "lost"}, "status"),
        ("/v1/compliance/reports", {"limit": "0"}, "limit"),
        ("/v1/compliance/reports", {"limit": "1001"}, "limit"),
        ("/v1/compliance/reports", {"limit": "ten"}, "limit"),
        ("/v1/compliance/reports", {"after_id": "-1"}, "after_id"),
        ("/v1/compliance/reports", {"fund_id": ""}, "fund_id"),
        ("/v1/compliance/reports", {"fund_id": "paper\x00fund"}, "fund_id"),
        ("/v1/compliance/reports", {"after_id": str(2**63)}, "after_id"),
        ("/v1/compliance/files", {"fund_id": "x" * 129}, "fund_id"),
        ("/v1/compliance/files", {"fund_id": "fund; DROP TABLE reg_reports"}, "fund_id"),
        ("/v1/compliance/files", {"regime": "sec17a"}, "regime"),
        ("/v1/compliance/files", {"status": "rejected"}, "status"),
    ],
)
async def test_a_bad_filter_is_a_400_naming_the_parameter(
    compliance_app: ComplianceApp, path: str, params: dict[str, str], field: str
) -> None:
    response = await compliance_app.get(path, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["extra"]["field"] == field
    assert body["detail"].startswith(f"{field}: ")


async def test_an_unknown_regime_error_lists_the_registered_ones(compliance_app: ComplianceApp) -> None:
    response = await compliance_app.get("/v1/compliance/reports", regime="sec17a")
    assert "registered: firmx" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"regime": "sec17a"}, "regime"),
        ({"fund_id": "ghost-fund"}, "fund_id"),
        ({"fund": "firm-fund"}, "fund"),
    ],
)
async def test_a_bad_flush_is_a_400_naming_the_field(
    compliance_app: ComplianceApp, body: dict[str, str], field: str
) -> None:
    response = await compliance_app.post("/v1/compliance/files/flush", body)
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": {"destination": "XNAS"}}, "reason"),
        ({"reason": "x"}, "fields"),
        ({"fields": [], "reason": "x"}, "fields"),
    ],
)
async def test_a_bad_repair_body_is_a_400_naming_the_field(
    compliance_app: ComplianceApp, body: dict[str, object], field: str
) -> None:
    response = await compliance_app.post("/v1/compliance/reports/1/repair", body)
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == field


async def test_a_malformed_report_id_is_refused_as_json(compliance_app: ComplianceApp) -> None:
    for path in ("/v1/compliance/reports/abc", "/v1/compliance/reports/0"):
        response = await compliance_app.get(path)
        assert response.status_code in (400, 404), response.text
        assert response.headers["content-type"].startswith("application/json")


async def test_every_route_needs_a_token_and_posts_need_an_operator(compliance_app: ComplianceApp) -> None:
    assert (await compliance_app.http.get("/v1/compliance/reports")).status_code == 401
    assert (await compliance_app.http.get("/v1/compliance/files")).status_code == 401
    flush = await compliance_app.post("/v1/compliance/files/flush", {}, as_="vera")
    assert flush.status_code == 403


async def test_reports_page_through_with_after_id(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    for i in range(5):
        await publish(bus, order_event("new", order_id=f"o-{i}"))

    async def five() -> bool:
        return len(await report_rows(pool)) == 5

    await eventually(five, what="five reports")
    first = (await compliance_app.get("/v1/compliance/reports", limit=2)).json()
    assert [r["order_id"] for r in first["items"]] == ["o-0", "o-1"]
    assert first["next_after_id"] == first["items"][-1]["id"]
    rest = (
        await compliance_app.get("/v1/compliance/reports", limit=10, after_id=first["next_after_id"])
    ).json()
    assert [r["order_id"] for r in rest["items"]] == ["o-2", "o-3", "o-4"]
    assert rest["next_after_id"] is None
    assert (await compliance_app.get("/v1/compliance/reports", fund_id="quiet-fund")).json()["items"] == []


async def test_readyz_checks_the_output_directory(compliance_app: ComplianceApp, output_dir: Path) -> None:
    response = await compliance_app.http.get("/v1/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"postgres": "ok", "nats": "ok", "output_dir": "ok"}

    await asyncio.to_thread(shutil.rmtree, output_dir)
    await asyncio.to_thread(output_dir.write_text, "a file where the directory should be")
    down = await compliance_app.http.get("/v1/readyz")
    assert down.status_code == 503, down.text
    assert down.json()["checks"]["output_dir"].startswith("down: FileExistsError")
    assert down.json()["checks"]["postgres"] == "ok"
