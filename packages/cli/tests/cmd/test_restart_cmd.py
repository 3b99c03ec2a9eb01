"""`mts cmd restart-all` against real service processes kept alive by the dev stack's supervisor.

Two of the five services run here (halt and compliance), so the command must bring those two
back with new instance ids and name the three that never come back.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats.js.errors
import pytest
import pytest_asyncio

from mts1b_operations.cli import ExitCode
from mts1b_operations.client import MtsError, ServiceClient
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import free_port
from mts1b_operations.core.schemas import OperationsCommand, decode
from mts1b_operations.core.testing import ServiceProcess, eventually
from mts1b_operations.devstack import Backoff, ChildSpec, Supervisor

from .conftest import URL_VARIABLES, mts, run_on_terminal

RUNNING = {"halt": "mts1b_operations.halt", "compliance": "mts1b_operations.compliance"}
ABSENT = ["audit", "watchdogs", "marketdata-api"]


async def instance_of(url: str) -> str | None:
    try:
        async with ServiceClient(url, get_attempts=1, connect_timeout=1, read_timeout=2) as client:
            return (await client.healthz()).instance_id
    except MtsError:
        return None


async def last_restart_command(bus: Bus) -> OperationsCommand | None:
    try:
        raw = await bus.js.get_last_msg("OPERATIONS", subjects.operations_command("restart"))
    except nats.js.errors.NotFoundError:
        return None
    assert raw.data is not None
    return decode(raw.data, OperationsCommand)


@pytest_asyncio.fixture
async def migrated(database_url: str) -> str:
    await asyncio.to_thread(upgrade_all, database_url)
    return database_url


@pytest_asyncio.fixture
async def supervised(
    migrated: str, nats_url: str, funds_file: Path, tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """halt and compliance under a supervisor that restarts them when they exit; their URLs."""
    urls: dict[str, str] = {}
    specs = []
    for name, module in RUNNING.items():
        port = free_port()
        urls[name] = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MTS_DATABASE_URL": migrated,
            "MTS_NATS_URL": nats_url,
            "MTS_HTTP_HOST": "127.0.0.1",
            "MTS_HTTP_PORT": str(port),
            "MTS_SERVICE_NAME": name,
            "MTS_FUNDS_FILE": str(funds_file),
        }
        specs.append(ChildSpec(name, [sys.executable, "-m", module], tmp_path / f"{name}.log", env))
    supervisor = Supervisor(specs, backoff=Backoff(initial=0.2))
    await supervisor.start()
    try:
        for name, url in urls.items():
            await eventually(lambda url=url: instance_of(url), what=f"{name} healthy", within=45)  # type: ignore[misc]
        yield urls
    finally:
        await supervisor.stop(grace=15)


@pytest.fixture
def restart_env(supervised: dict[str, str], nats_url: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {"MTS_NATS_URL": nats_url}
    for name, variable in URL_VARIABLES.items():
        env[variable] = supervised.get(name, f"http://127.0.0.1:{free_port()}")  # nobody there
    return env


async def test_restart_all_brings_each_service_back_and_names_the_ones_that_do_not(
    supervised: dict[str, str], restart_env: dict[str, str | None], bus: Bus
) -> None:
    before = {name: await instance_of(url) for name, url in supervised.items()}

    async def beating() -> bool | None:  # the command reads "before" from the HEARTBEATS stream
        for name in RUNNING:
            try:
                await bus.js.get_last_msg("HEARTBEATS", subjects.service_heartbeat(name))
            except nats.js.errors.NotFoundError:
                return None
        return True

    await eventually(beating, what="a heartbeat of each running service")

    # Two services restarting at once on a loaded 2-core machine: give them the bound the fixture
    # gives a first start, less its margin (the absent ones make the command wait all of it).
    result = await mts("restart-all", "--confirm", "RESTART", "--timeout", "30", "--json", env=restart_env)
    assert result.exit_code == ExitCode.FAILURE, result.output
    data = json.loads(result.stdout)
    rows = {row["service"]: row for row in data["services"]}
    assert sorted(rows) == sorted([*RUNNING, *ABSENT])
    for name in RUNNING:
        row = rows[name]
        assert row["back"] is True, row
        assert row["before_instance"] == before[name]
        assert row["after_instance"] not in (None, before[name])
        assert row["healthz_instance"] == row["after_instance"]
        assert [(a["instance_id"], a["accepted"]) for a in row["acks"]] == [(before[name], True)]
        assert await instance_of(supervised[name]) == row["after_instance"]  # still the new one
    assert data["not_back"] == ABSENT
    for name in ABSENT:
        assert rows[name]["before_instance"] is None
        assert rows[name]["after_instance"] is None
    assert data["ignored_replies"] >= 1  # the OPERATIONS stream's PubAck on the same inbox
    assert f"not back within 30 s: {', '.join(ABSENT)}" in result.stderr

    recorded = await last_restart_command(bus)  # captured for the audit trail
    assert recorded is not None
    assert recorded.command_id == data["command_id"]
    assert recorded.targets == []


async def test_restart_all_refusals_send_nothing(
    nats_url: str, halt_service: ServiceProcess, bus: Bus
) -> None:
    instance = await instance_of(halt_service.base_url)
    env: dict[str, str | None] = {"MTS_NATS_URL": nats_url, "MTS_HALT_URL": halt_service.base_url}
    for word in ("restart", "", "HALT"):
        wrong = await mts("restart-all", "--confirm", word, env=env)
        assert wrong.exit_code == ExitCode.FAILURE, (word, wrong.output)
        assert "nothing was sent" in wrong.stderr
    no_terminal = await mts("restart-all", env=env)
    assert no_terminal.exit_code == ExitCode.USAGE
    assert "--confirm RESTART" in no_terminal.stderr

    on_terminal = await asyncio.to_thread(
        run_on_terminal, ["cmd", "restart-all"], env, [("Type RESTART to confirm", "restart")]
    )
    assert on_terminal.exit_code == ExitCode.FAILURE, on_terminal.output
    halt_row = next(line for line in on_terminal.output.splitlines() if line.startswith("│ halt"))
    assert str(instance) in halt_row  # the instance before was shown, then nothing was sent

    assert await last_restart_command(bus) is None
    assert halt_service.running
    assert await instance_of(halt_service.base_url) == instance


async def test_restart_all_without_nats_exits_3() -> None:
    env: dict[str, str | None] = {"MTS_NATS_URL": f"nats://127.0.0.1:{free_port()}"}
    result = await mts("restart-all", "--confirm", "RESTART", "--connect-timeout", "0.5", env=env)
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
