"""mts1b-compliance as a real process with the real adapters (cat, oats, mifid2): CAT reports for the
fund that enables CAT only, a rejected route named and repaired over HTTP, a CAT file on disk."""

from __future__ import annotations

import asyncio
import bz2
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.testing import eventually, start_service

from .conftest import order_event, publish

FUNDS_YAML = """\
funds:
  - fund_id: live-equities
    mode: live
    strategies: [stat-arb-2]
    compliance:
      cat_enabled: true
      cat_subscriber_id: "ABCD12345"
      cat_submitter_id: "ABCD12345"
      cat_reporter_imid: "ABCD"
      cat_reporter_crd: 123456
      cat_destinations: {XNAS: NSDQ}
  - fund_id: quiet-fund
    mode: paper
    strategies: [mom-us-eq]
"""


async def test_the_service_process_reports_files_and_repairs_with_the_real_cat_adapter(
    tmp_path: Path, compliance_db: str, nats_url: str, bus: Bus, pool: asyncpg.Pool
) -> None:
    funds_file = tmp_path / "funds.yaml"
    funds_file.write_text(FUNDS_YAML)
    output_dir = tmp_path / "cat-out"
    _, viewer = await add_operator(pool, "vera", "viewer", created_by="test")
    _, operator = await add_operator(pool, "alice", "operator", created_by="test")
    process = await asyncio.to_thread(
        start_service,
        "mts1b_operations.compliance",
        database_url=compliance_db,
        nats_url=nats_url,
        log_dir=tmp_path / "logs",
        env={"MTS_FUNDS_FILE": str(funds_file), "MTS_COMPLIANCE_OUTPUT_DIR": str(output_dir)},
    )
    try:
        ready = process.get("/v1/readyz").json()
        assert ready["checks"]["output_dir"] == "ok"
        # Two days ahead: no daily cut can have reached the trade date, only the flush files it.
        ts = datetime.now(UTC) + timedelta(days=2)
        new = order_event("new", fund_id="live-equities", strategy_id="stat-arb-2", ts=ts)
        common = {"fund_id": "live-equities", "strategy_id": "stat-arb-2", "ts": ts}
        events = [new, order_event("routed", **common), order_event("filled", **common)]
        for event in events:
            await publish(bus, event)
        await publish(bus, new, msg_id="redelivered")
        await publish(bus, order_event("new", fund_id="quiet-fund", strategy_id="mom-us-eq", ts=ts))

        async with httpx.AsyncClient(base_url=process.base_url, timeout=10) as http:
            viewer_auth = {"Authorization": f"Bearer {viewer}"}
            operator_auth = {"Authorization": f"Bearer {operator}"}

            async def three_reports() -> list[dict[str, Any]] | None:
                items: list[dict[str, Any]] = (
                    await http.get("/v1/compliance/reports", headers=viewer_auth)
                ).json()["items"]
                return items if len(items) >= 3 else None

            await eventually(three_reports, what="the CAT reports of the three events")
            handled = b'mts_bus_messages_processed_total{durable="compliance-order-events"} 5.0'
            await eventually(
                lambda: handled in process.get("/metrics").body, what="all five messages handled"
            )
            reports = (await http.get("/v1/compliance/reports", headers=viewer_auth)).json()["items"]
            assert [(r["regime"], r["fund_id"], r["event_type"]) for r in reports] == [
                ("cat", "live-equities", "MENO"),
                ("cat", "live-equities", "MEOR"),
                ("cat", "live-equities", "MEOT"),
            ]
            route = reports[1]
            assert route["status"] == "rejected"
            assert [p["field"] for p in route["problems"]] == ["session"]

            repaired = await http.post(
                f"/v1/compliance/reports/{route['id']}/repair",
                json={"fields": {"session": "XNAS01"}, "reason": "route session missing in the registry"},
                headers=operator_auth,
            )
            assert repaired.status_code == 200, repaired.text
            assert repaired.json()["status"] == "pending"
            assert repaired.json()["record"]["session"] == "XNAS01"

            flushed = await http.post(
                "/v1/compliance/files/flush", json={"regime": "cat"}, headers=operator_auth
            )
            assert flushed.status_code == 200, flushed.text
            (file,) = flushed.json()["items"]
            assert (file["status"], file["record_count"], file["sequence"]) == ("submitted", 3, 1)
            content = (output_dir / "cat" / file["name"]).read_bytes()
            lines = [json.loads(line) for line in bz2.decompress(content).decode().splitlines()]
            assert sorted(line["type"] for line in lines) == ["MENO", "MEOR", "MEOT"]
            assert {line["actionType"] for line in lines} == {"NEW"}
    finally:
        await asyncio.to_thread(process.stop)
