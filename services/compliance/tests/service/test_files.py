"""Files: cut on flush (and at the daily cut), written through the transport, retried until submitted."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from mts1b_operations.compliance.adapters import LocalDirectoryTransport, SubmissionReceipt
from mts1b_operations.compliance.reg_reporting._model import ReportFile
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually

from ._firm_adapter import FirmAdapter
from .conftest import (
    ComplianceApp,
    compliance_facts,
    fast_config,
    order_event,
    publish,
    report_rows,
    running_compliance,
)


async def _reports_stored(bus: Bus, pool: asyncpg.Pool, *events: Any) -> None:
    for event in events:
        await publish(bus, event)

    async def stored() -> bool:
        return len(await report_rows(pool)) == len(events)

    await eventually(stored, what=f"{len(events)} reports")


async def test_flush_writes_the_adapters_render_to_disk_and_records_it_submitted(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    await _reports_stored(
        bus, pool, order_event("new"), order_event("filled"), order_event("routed", venue=None)
    )
    response = await compliance_app.post("/v1/compliance/files/flush", {"fund_id": "firm-fund"})
    assert response.status_code == 200, response.text
    (file,) = response.json()["items"]
    assert file["name"] == "FIRMX_firm-fund_20260316_000001.ndjson"
    assert (file["status"], file["sequence"], file["record_count"], file["attempts"]) == (
        "submitted",
        1,
        2,
        1,
    )
    assert file["deadline"] == "2026-03-17T12:00:00Z"  # 08:00 ET (EDT) on T+1

    pending = [r for r in await report_rows(pool) if r["status"] == "submitted"]
    expected = FirmAdapter({"firm-fund"}).render_file(
        [_report(row) for row in pending],
        fund=compliance_app.service.funds.fund("firm-fund"),
        trade_date=pending[0]["trade_date"],
        sequence=1,
    )
    written = (output_dir / "firmx" / file["name"]).read_bytes()
    assert written == expected.content
    assert file["sha256"] == hashlib.sha256(written).hexdigest()
    assert all(r["file_id"] == file["id"] for r in pending)
    assert [r["status"] for r in await report_rows(pool)] == ["submitted", "submitted", "rejected"]

    listed = await compliance_app.get("/v1/compliance/files", status="submitted")
    assert [f["id"] for f in listed.json()["items"]] == [file["id"]]
    assert listed.json()["items"][0]["overdue"] is False  # past its deadline, but submitted

    async def submitted_fact() -> dict[str, Any] | None:
        facts = await compliance_facts(bus)
        return next((p for s, p in facts if s == subjects.compliance_file("submitted")), None)

    fact = await eventually(submitted_fact, what="the file.submitted fact")
    assert (fact["name"], fact["actor"], fact["sha256"]) == (file["name"], "operator:alice", file["sha256"])

    # Nothing pending: a second flush cuts nothing; a later report goes into sequence 2.
    assert (await compliance_app.post("/v1/compliance/files/flush", {})).json()["items"] == []
    await publish(bus, order_event("new", order_id="o-2"))

    async def fourth() -> bool:
        return len(await report_rows(pool)) == 4

    await eventually(fourth, what="the later report")
    (second,) = (await compliance_app.post("/v1/compliance/files/flush", {"regime": "firmx"})).json()["items"]
    assert (second["sequence"], second["record_count"]) == (2, 1)
    assert second["name"].endswith("_000002.ndjson")


def _report(row: asyncpg.Record) -> Any:
    import msgspec

    from mts1b_operations.compliance.reg_reporting._model import Report

    return Report(
        regime=row["regime"],
        event_type=row["event_type"],
        report_key=row["report_key"],
        fund_id=row["fund_id"],
        order_id=row["order_id"],
        source_event_id=row["source_event_id"],
        trade_date=row["trade_date"],
        event_time=row["event_time"],
        record=msgspec.json.decode(row["record"]),
        line=row["line"],
    )


class FlakyTransport:
    """A regulator's endpoint that is down for the first ``failures`` submissions (the one fake we need)."""

    def __init__(self, root: Path, failures: int) -> None:
        self.local = LocalDirectoryTransport(root)
        self.failures = failures
        self.calls = 0

    async def submit(self, file: ReportFile) -> SubmissionReceipt:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"endpoint down (call {self.calls})")
        return await self.local.submit(file)


async def test_a_transport_failure_marks_the_file_failed_and_the_filer_retries_it_until_submitted(
    pool: asyncpg.Pool,
    bus: Bus,
    compliance_db: str,
    nats_url: str,
    funds_file: Path,
    output_dir: Path,
    tokens: dict[str, str],
) -> None:
    transport = FlakyTransport(output_dir, failures=3)  # round 1 (2 tries) fails, round 2 fails then succeeds
    async with running_compliance(
        pool=pool,
        bus=bus,
        database_url=compliance_db,
        nats_url=nats_url,
        funds_file=funds_file,
        tokens=tokens,
        config=fast_config(output_dir, filing_interval=0.05),
        transport=transport,
    ) as app:
        await _reports_stored(bus, pool, order_event("new"))
        (file,) = (await app.post("/v1/compliance/files/flush", {})).json()["items"]
        assert (file["status"], file["attempts"]) == ("failed", 2)
        assert file["last_error"] == "ConnectionError: endpoint down (call 2)"

        async def submitted() -> dict[str, Any] | None:
            (current,) = (await app.get("/v1/compliance/files")).json()["items"]
            return current if current["status"] == "submitted" else None

        done = await eventually(submitted, what="the filer to retry the failed file")
        assert done["attempts"] == 4
        assert done["last_error"] is None
        assert (output_dir / "firmx" / done["name"]).is_file()
        assert [r["status"] for r in await report_rows(pool)] == ["submitted"]

        async def both_facts() -> list[str] | None:
            names = [s for s, _ in await compliance_facts(bus) if ".file." in s]
            return names if len(names) == 2 else None

        assert await eventually(both_facts, what="the failed and submitted facts") == [
            subjects.compliance_file("failed"),
            subjects.compliance_file("submitted"),
        ]


async def test_the_daily_cut_files_the_days_reports_once_the_cut_time_passed(
    compliance_app: ComplianceApp, bus: Bus, pool: asyncpg.Pool
) -> None:
    from mts1b_operations.compliance.filing import Filer

    await _reports_stored(bus, pool, order_event("new"))
    filer = Filer(filing=compliance_app.service.filing)
    before_cut = datetime(2026, 3, 16, 22, 29, tzinfo=UTC)  # 18:29 ET: yesterday's cut is the latest
    assert await filer.round(now=before_cut) == []
    after_cut = before_cut + timedelta(minutes=1)  # 18:30 ET
    (file,) = await filer.round(now=after_cut)
    assert (file.status, file.trade_date.isoformat(), file.record_count) == ("submitted", "2026-03-16", 1)
    assert await filer.round(now=after_cut + timedelta(minutes=5)) == []


async def test_an_unsubmitted_file_past_its_deadline_is_overdue_in_the_view_and_the_gauge(
    pool: asyncpg.Pool,
    bus: Bus,
    compliance_db: str,
    nats_url: str,
    funds_file: Path,
    output_dir: Path,
    tokens: dict[str, str],
) -> None:
    transport = FlakyTransport(output_dir, failures=10**6)
    async with running_compliance(
        pool=pool,
        bus=bus,
        database_url=compliance_db,
        nats_url=nats_url,
        funds_file=funds_file,
        tokens=tokens,
        config=fast_config(output_dir, retry_delay=60.0, retry_max_delay=60.0),
        transport=transport,
    ) as app:
        await _reports_stored(bus, pool, order_event("new"))
        (file,) = (await app.post("/v1/compliance/files/flush", {})).json()["items"]
        assert file["status"] == "failed"
        assert file["overdue"] is True
        assert (await app.get("/v1/compliance/files", status="failed")).json()["items"][0]["overdue"] is True

        def gauge() -> float | None:
            return REGISTRY.get_sample_value("mts_compliance_overdue_files", {"regime": "firmx"})

        await eventually(lambda: gauge() == 1.0, what="the overdue gauge to count the file")
        metrics = await app.http.get("/metrics")
        assert 'mts_compliance_overdue_files{regime="firmx"} 1.0' in metrics.text
