"""End to end: `mts dev up` as an operator runs it, on ports of its own, then Ctrl-C / `mts dev down`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import psutil  # type: ignore[import-untyped]
import pytest

from mts1b_operations.cli import ExitCode
from mts1b_operations.core.embedded import free_port, free_port_block, wait_until
from mts1b_operations.devstack import PORT_OFFSETS, DevstackState, RuntimeState, port_in_use, read_state

T = TypeVar("T")
MTS = str(Path(sys.executable).parent / "mts")
SERVICES = sorted(PORT_OFFSETS)
START_TIMEOUT = 150.0  # initdb + Postgres + NATS + migrations + the 30 s health bound, on a busy 2-core box


def free_base_port() -> int:
    """A base port whose service block (base + each of PORT_OFFSETS) is free."""
    return free_port_block(PORT_OFFSETS.values())


def stack_args(state_dir: Path) -> list[str]:
    return [
        "--state-dir",
        str(state_dir),
        "--pg-port",
        str(free_port()),
        "--nats-port",
        str(free_port()),
        "--base-port",
        str(free_base_port()),
    ]


def mts(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MTS, *args], capture_output=True, text=True, timeout=timeout, check=False)


def running_state(state_dir: Path, supervisor: int | None = None) -> RuntimeState | None:
    state = read_state(state_dir)
    runtime = None if state is None else state.runtime
    if runtime is None or runtime.phase != "running":
        return None
    if supervisor is not None and runtime.supervisor_pid != supervisor:
        return None
    return runtime


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def healthz(url: str) -> int:
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        return client.get(f"{url}/v1/healthz").status_code


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to kill if a test fails halfway, so a failure leaves nothing running either."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.mark.timeout(300)
def test_dev_up_serves_every_service_restarts_a_crash_and_sigint_leaves_nothing(
    tmp_path: Path, reaper: list[int]
) -> None:
    state_dir = tmp_path / "stack"
    out = tmp_path / "dev-up.out"
    with out.open("wb") as sink:
        up = subprocess.Popen(
            [MTS, "dev", "up", *stack_args(state_dir), "--scenario", "vol-regime"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    reaper.append(up.pid)

    def started() -> RuntimeState | None:
        assert up.poll() is None, f"mts dev up exited with {up.returncode}:\n{out.read_text()}"
        return running_state(state_dir, up.pid)

    runtime = wait_until(started, timeout=START_TIMEOUT, what="mts dev up running")
    state = read_state(state_dir)
    assert isinstance(state, DevstackState)
    assert state.scenario == "vol-regime"
    assert sorted(svc.name for svc in runtime.services) == SERVICES
    for svc in runtime.services:
        assert svc.port == state.base_port + PORT_OFFSETS[svc.name]
        assert healthz(svc.url) == 200, svc.name

    def table_printed() -> str | None:
        text = out.read_text()
        return text if "export MTS_HALT_URL=" in text else None

    printed = wait_until(table_printed, timeout=10, what="the table and export lines")
    for svc in runtime.services:
        assert svc.name in printed
    assert f"export MTS_DATABASE_URL={runtime.database_url}" in printed
    assert f"export MTS_NATS_URL={runtime.nats_url}" in printed
    assert "│ down " not in printed  # every row of the table says ok

    # The files every service was given.
    key = state_dir / "audit-signing-key.seed"
    assert len(key.read_bytes()) == 32
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert (state_dir / "funds.yaml").is_file()

    status = mts("dev", "status", "--state-dir", str(state_dir), "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["supervisor_pid"] == up.pid
    assert {row["service"]: (row["health"], row["ready"]) for row in report["services"]} == dict.fromkeys(
        SERVICES, ("ok", "ok")
    )
    assert {row["service"]: row["health"] for row in report["servers"]} == {"postgres": "ok", "nats": "ok"}

    # A service that dies is restarted by the supervisor, and the state file follows.
    halt = next(svc for svc in runtime.services if svc.name == "halt")
    assert halt.pid is not None
    os.kill(halt.pid, signal.SIGKILL)

    def restarted() -> RuntimeState | None:
        current = running_state(state_dir, up.pid)
        if current is None:
            return None
        new = next(svc for svc in current.services if svc.name == "halt")
        if new.restarts == 1 and new.pid not in (None, halt.pid) and healthz_ok(new.url):
            return current
        return None

    runtime = wait_until(restarted, timeout=45, what="halt restarted and healthy")
    assert "halt (pid" in out.read_text()  # the restart was reported

    recorded = runtime.pids()
    everything = sorted({*recorded, *descendants(up.pid)})
    assert runtime.postgres_pid in everything
    assert runtime.nats_pid in everything
    reaper.extend(everything)

    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=90) == 0, out.read_text()
    left = [pid for pid in everything if alive(pid)]
    assert left == [], f"still running after Ctrl-C: {left}"
    final = read_state(state_dir)
    assert final is not None
    assert final.runtime is None
    assert not port_in_use(state.pg_port)
    assert not port_in_use(state.nats_port)
    assert (state_dir / "postgres" / "PG_VERSION").is_file()  # data kept for the next run

    gone = mts("dev", "status", "--state-dir", str(state_dir))
    assert gone.returncode == ExitCode.FAILURE
    assert "no dev stack is running" in gone.stderr


def healthz_ok(url: str) -> bool:
    try:
        return healthz(url) == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(300)
def test_detached_stack_refuses_a_second_start_and_dev_down_stops_it(
    tmp_path: Path, reaper: list[int]
) -> None:
    state_dir = tmp_path / "stack"
    args = stack_args(state_dir)
    started = mts("dev", "up", *args, "--only", "halt,audit", "--detach", timeout=START_TIMEOUT + 30)
    runtime = read_state(state_dir)
    if runtime is not None and runtime.runtime is not None:
        reaper.extend(runtime.runtime.pids())
    assert started.returncode == 0, started.stdout + started.stderr
    assert "export MTS_AUDIT_URL=" in started.stdout
    current = running_state(state_dir)
    assert current is not None
    assert [svc.name for svc in current.services] == ["halt", "audit"]
    assert all(healthz_ok(svc.url) for svc in current.services)
    assert os.getsid(current.supervisor_pid) == current.supervisor_pid  # detached from our session

    again = mts("dev", "up", *args)
    assert again.returncode == ExitCode.USAGE
    assert "already running" in again.stderr
    assert running_state(state_dir) == current  # the running stack's record is untouched

    pids = current.pids()
    down = mts("dev", "down", "--state-dir", str(state_dir), timeout=120)
    assert down.returncode == 0, down.stderr
    assert [pid for pid in pids if alive(pid)] == []
    final = read_state(state_dir)
    assert final is not None
    assert final.runtime is None
    assert mts("dev", "down", "--state-dir", str(state_dir)).returncode == 0  # nothing left: still fine


@pytest.mark.timeout(300)
def test_dev_down_cleans_up_after_a_supervisor_that_was_killed(tmp_path: Path, reaper: list[int]) -> None:
    state_dir = tmp_path / "stack"
    started = mts(
        "dev", "up", *stack_args(state_dir), "--only", "halt", "--detach", timeout=START_TIMEOUT + 30
    )
    current = running_state(state_dir)
    if current is not None:
        reaper.extend(current.pids())
    assert started.returncode == 0, started.stdout + started.stderr
    assert current is not None
    pids = current.pids()
    os.kill(current.supervisor_pid, signal.SIGKILL)  # no chance to clean up
    wait_until(lambda: not alive(current.supervisor_pid), timeout=10, what="supervisor gone")
    assert all(alive(pid) for pid in pids if pid != current.supervisor_pid)

    status = mts("dev", "status", "--state-dir", str(state_dir))
    assert status.returncode == ExitCode.FAILURE
    assert "is not running" in status.stderr
    assert "mts dev down" in status.stderr

    down = mts("dev", "down", "--state-dir", str(state_dir), timeout=120)
    assert down.returncode == 0, down.stderr
    assert "stopping what it left" in down.stdout
    assert [pid for pid in pids if alive(pid)] == []
    final = read_state(state_dir)
    assert final is not None
    assert final.runtime is None


def test_a_port_taken_by_something_else_is_refused_before_anything_starts(tmp_path: Path) -> None:
    state_dir = tmp_path / "stack"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = mts(
            "dev", "up", "--state-dir", str(state_dir), "--pg-port", str(port), "--base-port", "21000"
        )
    assert result.returncode == ExitCode.USAGE
    assert f"port {port} for Postgres is already in use" in result.stderr
    assert "--pg-port" in result.stderr
    assert not (state_dir / "postgres").exists()
    assert read_state(state_dir) is None


def test_only_with_an_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    result = mts("dev", "up", "--state-dir", str(tmp_path), "--only", "nope")
    assert result.returncode == ExitCode.USAGE
    assert "unknown service(s) nope" in result.stderr
    assert "valid services: audit, compliance, halt, marketdata-api, watchdogs" in result.stderr


def test_help_documents_the_options_with_an_example() -> None:
    result = mts("dev", "up", "--help")
    assert result.returncode == 0
    for option in (
        "--state-dir",
        "--pg-port",
        "--nats-port",
        "--base-port",
        "--scenario",
        "--only",
        "--detach",
    ):
        assert option in result.stdout
    assert "flash-crash" in result.stdout  # --scenario lists the replay's scenarios
    assert "mts dev up --state-dir" in result.stdout
