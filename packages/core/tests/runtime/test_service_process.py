"""The lifecycle of a real service process: ``python -m mts1b_operations.halt``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg

from mts1b_operations.core import subjects
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres, free_port, wait_until
from mts1b_operations.core.schemas import (
    OperationsCommand,
    OperationsCommandAck,
    SchemaError,
    ServiceHeartbeat,
    decode,
    encode,
)
from mts1b_operations.core.testing import ServiceProcess, start_service

HALT = "mts1b_operations.halt"
EXIT_BOUND = 20.0


async def _migrate(dsn: str, *names: str) -> None:
    await asyncio.to_thread(upgrade_all, dsn, list(names))


@pytest_asyncio.fixture
async def halt_db(database_url: str) -> str:
    await _migrate(database_url, "halt")
    return database_url


@pytest_asyncio.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


def _halt(tmp_path: Path, database_url: str, nats_url: str) -> ServiceProcess:
    return ServiceProcess(
        HALT, env={"MTS_DATABASE_URL": database_url, "MTS_NATS_URL": nats_url}, log_dir=tmp_path
    )


async def _started(process: ServiceProcess) -> ServiceProcess:
    process.start()
    await asyncio.to_thread(process.wait_ready)
    return process


async def test_serves_openapi_and_json_errors_over_granian(
    tmp_path: Path, halt_db: str, nats_url: str
) -> None:
    with await _started(_halt(tmp_path, halt_db, nats_url)) as halt:
        health = halt.get("/v1/healthz")
        assert health.status == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["service"] == "halt"
        uuid.UUID(body["instance_id"])

        ready = halt.get("/v1/readyz")
        assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "nats": "ok"}}

        schema = halt.get("/schema/openapi.json")
        assert schema.status == 200
        assert schema.json()["info"]["title"] == "mts1b-halt"
        assert "/v1/readyz" in schema.json()["paths"]

        missing = halt.get("/v1/nothing-here")
        assert missing.status == 404
        assert missing.content_type.startswith("application/json")
        assert missing.json()["status_code"] == 404

        metrics = halt.get("/metrics")
        assert metrics.status == 200
        assert b'mts_service_ready{service="halt"} 1.0' in metrics.body
        assert b'mts_outbox_backlog_events{source="halt"} 0.0' in metrics.body


async def test_heartbeats_then_sigterm_drains_with_a_final_not_ready_beat(
    tmp_path: Path, halt_db: str, nats_url: str, nc: Client
) -> None:
    beats: asyncio.Queue[ServiceHeartbeat] = asyncio.Queue()

    async def on_beat(msg: Msg) -> None:
        beats.put_nowait(decode(msg.data, ServiceHeartbeat))

    await nc.subscribe(subjects.service_heartbeat("halt"), cb=on_beat)
    halt = await _started(_halt(tmp_path, halt_db, nats_url))
    try:
        instance_id = halt.get("/v1/healthz").json()["instance_id"]
        first = await asyncio.wait_for(beats.get(), 10)
        assert first.service == "halt"
        assert first.instance_id == instance_id
        assert first.ready is True
        assert first.http_url == halt.base_url
        assert first.pid == halt.pid

        halt.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(halt.wait_exit, EXIT_BOUND)
        assert code == 0, halt.stderr()

        async def final_beat() -> ServiceHeartbeat:
            while True:
                beat = await beats.get()
                if not beat.ready:
                    return beat

        last = await asyncio.wait_for(final_beat(), 10)
        assert last.instance_id == instance_id
    finally:
        halt.stop()


def _command(command_id: str, targets: list[str]) -> bytes:
    return encode(
        OperationsCommand(
            command_id=command_id,
            command="restart",
            targets=targets,
            requested_by="operator:test",
            issued_at=datetime.now(UTC),
        )
    )


async def test_restart_command_is_acked_then_the_process_exits_0(
    tmp_path: Path, halt_db: str, nats_url: str, nc: Client
) -> None:
    acks: asyncio.Queue[OperationsCommandAck] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        # The OPERATIONS stream's PubAck for the command lands on the same inbox: skip it.
        with contextlib.suppress(SchemaError):
            acks.put_nowait(decode(msg.data, OperationsCommandAck))

    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=on_reply)
    halt = await _started(_halt(tmp_path, halt_db, nats_url))
    try:
        instance_id = halt.get("/v1/healthz").json()["instance_id"]
        subject = subjects.operations_command("restart")
        # Handled in order: once the second is acked, the first (for audit only) was passed over.
        await nc.publish(subject, _command("for-audit", ["audit"]), reply=inbox)
        await nc.publish(subject, _command("for-halt", ["compliance", "halt"]), reply=inbox)
        ack = await asyncio.wait_for(acks.get(), 10)
        assert ack.command_id == "for-halt"
        assert ack.service == "halt"
        assert ack.instance_id == instance_id
        assert ack.accepted is True

        code = await asyncio.to_thread(halt.wait_exit, EXIT_BOUND)
        assert code == 0, halt.stderr()
        assert acks.empty()
    finally:
        halt.stop()


async def test_readyz_follows_postgres_down_and_back(
    tmp_path: Path, restartable_postgres: EmbeddedPostgres, nats_url: str
) -> None:
    dsn = restartable_postgres.dsn()
    await _migrate(dsn, "halt")
    with start_service(HALT, database_url=dsn, nats_url=nats_url, log_dir=tmp_path) as halt:
        restartable_postgres.stop()
        down = await asyncio.to_thread(halt.wait_for, "/v1/readyz", 503)
        assert down.json()["status"] == "unavailable"
        assert down.json()["checks"]["postgres"].startswith("down: ")
        assert down.json()["checks"]["nats"] == "ok"
        assert halt.get("/v1/healthz").status == 200

        restartable_postgres.start()
        up = await asyncio.to_thread(halt.wait_for, "/v1/readyz", 200)
        assert up.json()["checks"] == {"postgres": "ok", "nats": "ok"}
        assert halt.stop() == 0


async def test_readyz_follows_nats_down_and_back(
    tmp_path: Path, halt_db: str, restartable_nats: EmbeddedNats
) -> None:
    with start_service(HALT, database_url=halt_db, nats_url=restartable_nats.url, log_dir=tmp_path) as halt:
        restartable_nats.stop()
        down = await asyncio.to_thread(halt.wait_for, "/v1/readyz", 503)
        assert down.json()["checks"]["nats"].startswith("down: ")
        assert down.json()["checks"]["postgres"] == "ok"
        assert halt.get("/v1/healthz").status == 200

        restartable_nats.start()
        up = await asyncio.to_thread(halt.wait_for, "/v1/readyz", 200)
        assert up.json()["checks"] == {"postgres": "ok", "nats": "ok"}
        assert halt.stop() == 0


async def test_sigterm_while_waiting_for_postgres_exits_0_promptly(tmp_path: Path, nats_url: str) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    halt = _halt(tmp_path, nowhere, nats_url).start()
    try:
        await asyncio.to_thread(
            wait_until, lambda: "connecting to Postgres" in halt.stderr(), timeout=EXIT_BOUND, what="start-up"
        )
        halt.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(halt.wait_exit, 10)
        assert code == 0, halt.stderr()
    finally:
        halt.stop()


async def test_a_taken_http_port_fails_start_up_with_exit_1_naming_it(
    tmp_path: Path, halt_db: str, nats_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        halt = ServiceProcess(
            HALT,
            env={"MTS_DATABASE_URL": halt_db, "MTS_NATS_URL": nats_url},
            log_dir=tmp_path,
            port=port,
        ).start()
        code = await asyncio.to_thread(halt.wait_exit, EXIT_BOUND)
    assert code == 1
    last = halt.stderr().strip().splitlines()[-1]
    assert last.startswith(f"mts1b-halt: cannot serve HTTP on 127.0.0.1:{port}: "), last


@pytest.mark.parametrize(
    ("applied", "behind"),
    [pytest.param(None, "core", id="nothing-migrated"), pytest.param([], "halt", id="only-core-migrated")],
)
async def test_schema_behind_refuses_to_start_with_exit_3(
    tmp_path: Path, database_url: str, nats_url: str, applied: list[str] | None, behind: str
) -> None:
    if applied is not None:
        await _migrate(database_url, *applied)
    halt = _halt(tmp_path, database_url, nats_url).start()
    code = await asyncio.to_thread(halt.wait_exit, EXIT_BOUND)
    assert code == 3, halt.stderr()
    lines = halt.stderr().strip().splitlines()
    assert lines[-1].startswith("mts1b-halt: database schema for ")
    assert f"'{behind}'" in lines[-1]
    assert f"mts db upgrade {behind}" in lines[-1]
    assert sum("database schema" in line for line in lines) == 1


async def test_missing_database_url_exits_2_with_one_line_naming_it(tmp_path: Path, nats_url: str) -> None:
    halt = ServiceProcess(
        HALT, env={"MTS_DATABASE_URL": None, "MTS_NATS_URL": nats_url}, log_dir=tmp_path
    ).start()
    code = await asyncio.to_thread(halt.wait_exit, EXIT_BOUND)
    assert code == 2
    lines = halt.stderr().strip().splitlines()
    assert len(lines) == 1, lines
    assert "MTS_DATABASE_URL" in lines[0]
    assert lines[0].startswith("mts1b-halt: ")
