"""`mts mts1b-operations watchdog status|config|pause|resume` against a real mts1b-watchdogs process.

The service runs as its own process (``python -m mts1b_operations.watchdogs``) on a fresh
Postgres database and the suite's NATS; the commands reach it over HTTP through the SDK, as an
operator would. A restart of the process in the middle shows that what the commands changed is
kept in Postgres.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from mts1b_operations.cli import ExitCode
from mts1b_operations.cli.main import cli
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.testing import ServiceProcess, start_service


@pytest.fixture(autouse=True)
def _no_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for variable in ("MTS_TOKEN", "MTS_CREDENTIALS_FILE", "MTS_WATCHDOGS_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest_asyncio.fixture
async def wd_db(database_url: str) -> str:
    await asyncio.to_thread(upgrade_all, database_url, ["watchdogs"])
    return database_url


@pytest_asyncio.fixture
async def tokens(wd_db: str) -> dict[str, str]:
    pool = await create_pool(wd_db, min_size=1, max_size=1, connect_deadline=10)
    try:
        out = {}
        for name, role in (("olga", "operator"), ("vera", "viewer")):
            _, out[name] = await add_operator(pool, name, role, created_by="test")  # type: ignore[arg-type]
    finally:
        await pool.close()
    return out


def _start(wd_db: str, nats_url: str, log_dir: Path, port: int | None = None) -> ServiceProcess:
    return start_service(
        "mts1b_operations.watchdogs",
        database_url=wd_db,
        nats_url=nats_url,
        log_dir=log_dir,
        port=port,
        env={"MTS_WATCHDOGS": "vpin,news_spike", "MTS_WATCHDOG_UPSTREAMS": None, "MTS_FUNDS_FILE": None},
    )


@pytest_asyncio.fixture
async def service(wd_db: str, nats_url: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    process = await asyncio.to_thread(_start, wd_db, nats_url, tmp_path / "logs")
    yield process
    await asyncio.to_thread(process.stop)


async def mts(service: ServiceProcess, token: str, *args: str) -> Result:
    env = {"MTS_WATCHDOGS_URL": service.base_url, "MTS_TOKEN": token}
    # In a worker thread: the commands run their own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, cli, ["mts1b-operations", "watchdog", *args], env=env)


async def test_status_config_pause_and_resume_survive_a_restart(
    service: ServiceProcess, tokens: dict[str, str], wd_db: str, nats_url: str, tmp_path: Path
) -> None:
    operator, viewer = tokens["olga"], tokens["vera"]
    table = await mts(service, viewer, "status")
    assert table.exit_code == 0, table.output
    for name in ("vpin", "news_spike", "portfolio_vol_dd", "dependency_watchdog"):
        assert name in table.stdout
    assert "threshold=0.4" in table.stdout

    changed = await mts(
        service, operator, "config", "--watchdog", "vpin", "--threshold", "0.45", "--param", "window=30"
    )
    assert changed.exit_code == 0, changed.output
    assert "vpin: threshold=0.45, window=30 (changed by operator:olga); applied now." in changed.stdout

    paused = await mts(
        service, operator, "pause", "--watchdog", "news_spike", "--for", "30m", "--reason", "earnings"
    )
    assert paused.exit_code == 0, paused.output
    assert "news_spike: paused until" in paused.stdout
    assert "operator:olga" in paused.stdout

    port = service.port
    await asyncio.to_thread(service.stop)
    restarted = await asyncio.to_thread(_start, wd_db, nats_url, tmp_path / "logs2", port)
    try:
        shown = await mts(restarted, viewer, "status", "--watchdog", "vpin", "--json")
        assert shown.exit_code == 0, shown.output
        vpin = json.loads(shown.stdout)
        assert vpin["params"]["threshold"] == 0.45
        assert vpin["params"]["window"] == 30
        assert vpin["overrides"] == {"threshold": 0.45, "window": 30}
        assert vpin["active"] is True
        news = json.loads(
            (await mts(restarted, viewer, "status", "--watchdog", "news_spike", "--json")).stdout
        )
        assert news["status"] == "paused"
        assert news["pause_reason"] == "earnings"
        human = await mts(restarted, viewer, "status", "--watchdog", "news_spike")
        assert "paused until" in human.stdout
        assert "* threshold" not in human.stdout

        resumed = await mts(restarted, operator, "resume", "--watchdog", "news_spike")
        assert resumed.exit_code == 0, resumed.output
        assert "news_spike: running" in resumed.stdout
        listed = json.loads((await mts(restarted, viewer, "status", "--json")).stdout)
        assert {w["name"]: w["status"] for w in listed}["news_spike"] == "running"

        reset = await mts(restarted, operator, "config", "--watchdog", "vpin", "--reset", "window", "--json")
        assert reset.exit_code == 0, reset.output
        assert json.loads(reset.stdout)["overrides"] == {"threshold": 0.45}
    finally:
        await asyncio.to_thread(restarted.stop)


async def test_bad_names_values_and_roles_are_refused_naming_them(
    service: ServiceProcess, tokens: dict[str, str]
) -> None:
    operator, viewer = tokens["olga"], tokens["vera"]
    bad_name = await mts(service, operator, "config", "--watchdog", "vpn", "--threshold", "0.4")
    assert bad_name.exit_code == ExitCode.USAGE, bad_name.output
    assert "unknown watchdog 'vpn'" in bad_name.stderr
    assert "news_spike" in bad_name.stderr

    out_of_range = await mts(service, operator, "config", "--watchdog", "vpin", "--threshold", "1.5")
    assert out_of_range.exit_code == ExitCode.USAGE, out_of_range.output
    assert "threshold" in out_of_range.stderr
    assert "<= 1.0" in out_of_range.stderr

    unknown = await mts(service, operator, "config", "--watchdog", "vpin", "--param", "treshold=0.5")
    assert unknown.exit_code == ExitCode.USAGE
    assert "treshold" in unknown.stderr
    assert "is not a parameter of vpin" in unknown.stderr

    for args in (("--param", "window"), ()):
        usage = await mts(service, operator, "config", "--watchdog", "vpin", *args)
        assert usage.exit_code == ExitCode.USAGE, usage.output

    bad_duration = await mts(service, operator, "pause", "--watchdog", "vpin", "--for", "soon")
    assert bad_duration.exit_code == ExitCode.USAGE
    assert "for" in bad_duration.stderr

    unknown_pause = await mts(service, operator, "pause", "--watchdog", "ghost")
    assert unknown_pause.exit_code == ExitCode.USAGE
    assert "unknown watchdog 'ghost'" in unknown_pause.stderr

    as_viewer = await mts(service, viewer, "resume", "--watchdog", "vpin")
    assert as_viewer.exit_code == ExitCode.FAILURE
    assert "operator" in as_viewer.stderr

    shown = json.loads((await mts(service, viewer, "status", "--watchdog", "vpin", "--json")).stdout)
    assert (shown["overrides"], shown["status"]) == ({}, "running"), "nothing refused was applied"
