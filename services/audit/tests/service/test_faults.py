"""The recorder survives Postgres and NATS going away: a fact is recorded once they are back, never lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.testing import ServiceProcess, eventually, start_service

from .conftest import AUDIT, halt_fact


async def _viewer_token(dsn: str) -> str:
    pool = await create_pool(dsn, min_size=1, max_size=1, connect_deadline=10)
    try:
        _, token = await add_operator(pool, f"vera{uuid.uuid4().hex[:6]}", "viewer", created_by="test")
    finally:
        await pool.close()
    return token


async def _start(dsn: str, nats_url: str, key: Path, logs: Path) -> ServiceProcess:
    return await asyncio.to_thread(
        start_service,
        AUDIT,
        database_url=dsn,
        nats_url=nats_url,
        log_dir=logs,
        env={"MTS_AUDIT_SIGNING_KEY": str(key), "MTS_AUDIT_EXTRA_SUBJECTS": None},
    )


async def _trail_count(service: ServiceProcess, token: str, subject_id: str) -> int | None:
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=3) as client:
            response = await client.get(
                "/v1/audit/trail",
                params={"subject_id": subject_id},
                headers={"Authorization": f"Bearer {token}"},
            )
    except httpx.TransportError:
        return None
    count: int = response.json()["count"] if response.status_code == 200 else -1
    return count if count > 0 else None


@pytest_asyncio.fixture
async def own_postgres_dsn(restartable_postgres: EmbeddedPostgres) -> str:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade_all, dsn)
    return dsn


@pytest_asyncio.fixture
async def own_nats_bus(restartable_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    bus = await connect_bus(restartable_nats.url, name="audit-fault-test", connect_deadline=10)
    yield bus
    await bus.close()


async def test_a_fact_delivered_while_postgres_is_down_is_recorded_once_it_is_back(
    restartable_postgres: EmbeddedPostgres,
    own_postgres_dsn: str,
    nats_url: str,
    bus: Bus,
    signing_key_file: Path,
    tmp_path: Path,
) -> None:
    token = await _viewer_token(own_postgres_dsn)
    service = await _start(own_postgres_dsn, nats_url, signing_key_file, tmp_path / "logs")
    try:
        await asyncio.to_thread(restartable_postgres.stop)
        await bus.publish(subjects.halt_requested(), halt_fact("halt-pg-down"), msg_id="halt-pg-down")

        async def delivered_not_acked() -> bool | None:
            info = await bus.js.consumer_info("OPERATIONS", "mts1b-audit")
            return True if info.delivered.stream_seq >= 1 and info.ack_floor.stream_seq == 0 else None

        await eventually(delivered_not_acked, what="the fact handed to the recorder while Postgres is down")
        await asyncio.to_thread(restartable_postgres.start)
        count = await eventually(
            lambda: _trail_count(service, token, "halt-pg-down"), within=60, what="the fact recorded"
        )
        assert count == 1
        assert service.running
    finally:
        await asyncio.to_thread(service.stop)


async def test_facts_after_a_nats_restart_are_recorded(
    restartable_nats: EmbeddedNats,
    own_nats_bus: Bus,
    audit_db: str,
    viewer_token: str,
    signing_key_file: Path,
    tmp_path: Path,
) -> None:
    service = await _start(audit_db, restartable_nats.url, signing_key_file, tmp_path / "logs")
    try:
        await own_nats_bus.publish(subjects.halt_requested(), halt_fact("halt-before"), msg_id="halt-before")
        await eventually(lambda: _trail_count(service, viewer_token, "halt-before"), what="the first fact")
        await asyncio.to_thread(restartable_nats.restart)
        await own_nats_bus.wait_connected(timeout=20)
        await own_nats_bus.publish(subjects.halt_requested(), halt_fact("halt-after"), msg_id="halt-after")
        count = await eventually(
            lambda: _trail_count(service, viewer_token, "halt-after"),
            within=30,
            what="the fact after the restart",
        )
        assert count == 1
        assert await _trail_count(service, viewer_token, "halt-before") == 1
    finally:
        await asyncio.to_thread(service.stop)
