"""The mts1b-audit process: facts published on NATS land in the chain and are served over HTTP."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import AuditAppended, WatchdogAlert, decode
from mts1b_operations.core.testing import ServiceProcess, eventually

from .conftest import AUDIT, halt_fact


async def _trail(service: ServiceProcess, token: str, subject_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=5) as client:
        response = await client.get(
            "/v1/audit/trail", params={"subject_id": subject_id}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_halt_fact_on_nats_becomes_an_entry_about_the_halt(
    audit_service: ServiceProcess, bus: Bus, viewer_token: str
) -> None:
    fact = halt_fact("halt-e2e-1")
    await bus.publish(subjects.halt_requested(), fact, msg_id=f"halt-requested-{uuid.uuid4()}")

    async def recorded() -> dict[str, Any] | None:
        trail = await _trail(audit_service, viewer_token, "halt-e2e-1")
        return trail if trail["count"] else None

    trail = await eventually(recorded, what="the halt's audit entry")
    [entry] = trail["entries"]
    assert entry["actor"] == "operator:alice"
    assert entry["action"] == "halt.requested"
    assert entry["subject_id"] == "halt-e2e-1"
    assert entry["data"]["reason"] == "drawdown breach"
    assert entry["data"]["type"] == "HaltRequested"
    assert json.loads(entry["canonical"])["subject"] == "halt-e2e-1"


async def test_each_entry_is_announced_on_audit_appended_and_heartbeats_are_not_recorded(
    audit_service: ServiceProcess, bus: Bus, viewer_token: str
) -> None:
    alert = WatchdogAlert(
        alert_id="a-7",
        watchdog="db",
        status="firing",
        subject_id="postgres-primary",
        message="replication lag 40s",
        fired_at=halt_fact().requested_at,
    )
    await bus.publish(subjects.watchdog_alert("db"), alert, msg_id="alert-a-7")
    sub = await bus.js.subscribe(subjects.audit_appended(), ordered_consumer=True)
    try:
        msg = await sub.next_msg(timeout=15)
    finally:
        await sub.unsubscribe()
    appended = decode(msg.data, AuditAppended)
    assert (appended.action, appended.subject_id, appended.actor) == (
        "watchdog.db",
        "postgres-primary",
        "watchdog:db",
    )

    async with httpx.AsyncClient(base_url=audit_service.base_url, timeout=5) as client:
        page = await client.get("/v1/audit/entries", headers={"Authorization": f"Bearer {viewer_token}"})
    # The service's own heartbeats flow the whole time; only the alert is in the chain.
    assert [e["action"] for e in page.json()["entries"]] == ["watchdog.db"]


async def test_reads_need_a_viewer_token(audit_service: ServiceProcess) -> None:
    answer = await asyncio.to_thread(audit_service.get, "/v1/audit/entries")
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert (await asyncio.to_thread(audit_service.get, "/v1/healthz")).status == 200


async def test_without_a_signing_key_the_service_refuses_to_start(
    audit_db: str, nats_url: str, tmp_path: Path
) -> None:
    process = ServiceProcess(
        AUDIT,
        env={
            "MTS_DATABASE_URL": audit_db,
            "MTS_NATS_URL": nats_url,
            "MTS_AUDIT_SIGNING_KEY": None,
            "MTS_AUDIT_EXTRA_SUBJECTS": None,
        },
        log_dir=tmp_path,
    ).start()
    code = await asyncio.to_thread(process.wait_exit, 30)
    assert code == 1
    assert "MTS_AUDIT_SIGNING_KEY: is required by mts1b-audit" in process.stderr()


async def test_a_bad_extra_subject_stops_start_up_naming_the_variable(
    audit_db: str, nats_url: str, signing_key_file: Path, tmp_path: Path
) -> None:
    process = ServiceProcess(
        AUDIT,
        env={
            "MTS_DATABASE_URL": audit_db,
            "MTS_NATS_URL": nats_url,
            "MTS_AUDIT_SIGNING_KEY": str(signing_key_file),
            "MTS_AUDIT_EXTRA_SUBJECTS": "mts.v1.operations.audit.>",
        },
        log_dir=tmp_path,
    ).start()
    code = await asyncio.to_thread(process.wait_exit, 30)
    assert code == 1
    assert "MTS_AUDIT_EXTRA_SUBJECTS: 'mts.v1.operations.audit.>' overlaps" in process.stderr()
