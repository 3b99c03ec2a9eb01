"""The five services run end to end, each with its own NATS user and its own Postgres role.

NATS is a nats-server started with deploy/nats/nats.conf; Postgres was prepared with
deploy/postgres/init-roles.sql and migrated by mts_migrate. Each service reaches ready, beats
its heartbeat under its own user, and a halt requested over HTTP is in Postgres, in the
mts_halts bucket and in the audit chain. No service hits a permission it lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest
from nats.js.errors import NotFoundError

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.testing import eventually

from ._nats_helpers import ConfiguredNats, random_passwords, render_single, server_environment, user_url
from ._pg_helpers import prepare_database, role_url
from ._services_helpers import (
    SERVICE_MODULES,
    audit_trail,
    register_operator,
    request_halt,
    service_env,
    start_services,
    stop_services,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def configured_nats(tmp_path: Path) -> Iterator[tuple[ConfiguredNats, dict[str, str]]]:
    passwords = random_passwords()
    server = ConfiguredNats(render_single(tmp_path / "nats"), server_environment(passwords)).start()
    try:
        yield server, passwords
    finally:
        server.stop()


async def test_five_services_with_their_own_users_and_roles(
    tmp_path: Path, database_url: str, configured_nats: tuple[ConfiguredNats, dict[str, str]]
) -> None:
    server, passwords = configured_nats
    await prepare_database(database_url)
    token = await register_operator(database_url, "ada")
    envs = {
        name: service_env(
            name,
            database_url=database_url,
            nats_passwords=passwords,
            nats_ports=server.port,
            work_dir=tmp_path,
        )
        for name in SERVICE_MODULES
    }
    services = start_services(envs, tmp_path / "logs")
    try:
        for name, process in services.items():
            ready = process.get("/v1/readyz")
            assert ready.status == 200, (name, ready)
            assert process.get("/v1/healthz").json()["service"] == name

        async with httpx.AsyncClient(timeout=30) as client:
            answer = await request_halt(client, services["halt"], token, severity="FIRM_HALT", reason="drill")
            assert answer.status_code == 201, answer.text
            halt_id = answer.json()["halt"]["halt_id"]

            async def audited() -> list[str] | None:
                actions = [e["action"] for e in await audit_trail(client, services["audit"], token, halt_id)]
                return actions or None

            actions = await eventually(audited, within=30, what="the halt in the audit chain")
            assert any("halt" in action for action in actions), actions

        conn = await asyncpg.connect(role_url(database_url, "mts_migrate"))
        try:
            assert await conn.fetchval("SELECT active FROM halts WHERE halt_id = $1", halt_id) is True
        finally:
            await conn.close()

        # What the SDK's HaltGate and `mts` see, with the read-only user.
        cli = await nats.connect(user_url("cli", passwords["cli"], server.port))
        try:
            js = cli.jetstream()

            async def halt_in_bucket() -> bytes | None:
                try:
                    entry = await (await js.key_value("mts_halts")).get("firm")
                except NotFoundError:
                    return None
                return entry.value

            value = await eventually(halt_in_bucket, within=15, what="the firm halt in mts_halts")
            assert schemas.decode(value or b"", schemas.HaltRequested).halt_id == halt_id

            async def heartbeat(name: str) -> bool:
                try:
                    await js.get_last_msg("HEARTBEATS", subjects.service_heartbeat(name))
                except NotFoundError:
                    return False
                return True

            for name in SERVICE_MODULES:
                await eventually(lambda n=name: heartbeat(n), within=30, what=f"a heartbeat of {name}")
        finally:
            await cli.close()
    finally:
        codes = stop_services(services.values())
    for name, process in services.items():
        log = process.stderr()
        assert "permissions violation" not in log.lower(), (name, log[-3000:])
        assert "permission denied" not in log.lower(), (name, log[-3000:])
    assert set(codes.values()) == {0}, codes
