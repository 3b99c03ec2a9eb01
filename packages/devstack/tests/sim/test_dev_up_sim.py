"""End to end: `mts dev up --scenario flash-crash` supervises the market replay and the paper OMS."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.embedded import free_port, free_port_block
from mts1b_operations.core.schemas import OrderEvent, Trade, decode
from mts1b_operations.devstack import PORT_OFFSETS, RuntimeState, read_state

from .conftest import Recorder, until

MTS = str(Path(sys.executable).parent / "mts")
START_TIMEOUT = 150.0  # initdb + Postgres + NATS + migrations + health, on a busy 2-core box


def free_base_port() -> int:
    """A base port whose service block (base + each of PORT_OFFSETS) is free."""
    return free_port_block(PORT_OFFSETS.values())


def running(state_dir: Path, pid: int) -> RuntimeState | None:
    state = read_state(state_dir)
    runtime = None if state is None else state.runtime
    if runtime is None or runtime.phase != "running" or runtime.supervisor_pid != pid:
        return None
    return runtime


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


@pytest.fixture
def reaper() -> Iterator[list[psutil.Process]]:
    procs: list[psutil.Process] = []
    yield procs
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


@pytest.mark.timeout(300)
async def test_dev_up_flash_crash_streams_market_data_and_orders(
    tmp_path: Path, reaper: list[psutil.Process]
) -> None:
    state_dir = tmp_path / "stack"
    out = tmp_path / "dev-up.out"
    args = [
        "--state-dir", str(state_dir), "--pg-port", str(free_port()), "--nats-port", str(free_port()),
        "--base-port", str(free_base_port()), "--only", "halt", "--scenario", "flash-crash", "--seed", "3",
    ]  # fmt: skip
    with out.open("wb") as sink:
        up = await asyncio.create_subprocess_exec(
            MTS, "dev", "up", *args, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    reaper.append(psutil.Process(up.pid))
    found: list[RuntimeState] = []

    def started() -> bool:
        assert up.returncode is None, f"mts dev up exited with {up.returncode}:\n{out.read_text()}"
        runtime = running(state_dir, up.pid)
        if runtime is not None:
            found.append(runtime)
        return runtime is not None

    await until(started, within=START_TIMEOUT, what="mts dev up running")
    runtime = found[-1]
    children = descendants(up.pid)
    reaper.extend(children)
    commands = [" ".join(p.cmdline()) for p in children]
    assert any("devstack.replay --scenario flash-crash --seed 3" in c for c in commands), commands
    assert any("devstack.oms" in c for c in commands), commands
    state = read_state(state_dir)
    assert state is not None
    assert state.scenario == "flash-crash"

    bus = await connect_bus(runtime.nats_url, name="e2e", connect_deadline=10)
    recorder = Recorder()
    try:
        await bus.nc.subscribe("mts.v1.>", cb=recorder.take)
        await until(
            lambda: bool(recorder.on("mts.v1.marketdata.trade.")) and bool(recorder.on("mts.v1.oms.order.")),
            within=60,
            what="market data and order events on NATS",
        )
    finally:
        await bus.close()
    trade = decode(recorder.on("mts.v1.marketdata.trade.")[0].data, Trade)
    assert trade.side in (1, -1)
    events = [decode(m.data, OrderEvent) for m in recorder.on("mts.v1.oms.order.")]
    assert {e.fund_id for e in events} <= {"paper-momentum", "paper-meanrev"}  # the example's paper funds
    assert "paper OMS ready" in (state_dir / "logs" / "paper-oms.log").read_text()
    assert "replay ready: scenario flash-crash" in (state_dir / "logs" / "market-replay.log").read_text()

    up.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(up.wait(), 90) == 0, out.read_text()
    left = [p.pid for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"still running after Ctrl-C: {left}"


def mts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MTS, *args], capture_output=True, text=True, timeout=60, check=False)


def test_simulation_options_are_checked_before_anything_starts(tmp_path: Path) -> None:
    state_dir = tmp_path / "stack"
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,ts,price,size\nAAPL,2025-01-06T14:30:00Z,-1,5\n")
    cases = [
        (["--scenario", "meltdown"], "'meltdown' is not one of 'calm', 'flash-crash', 'vol-regime'"),
        (["--replay-file", str(bad)], "price: row 0: -1 is not a positive number"),
        (["--replay-file", str(tmp_path / "missing.csv")], "does not exist"),
        (["--replay-file", str(bad), "--no-sim"], "--replay-file needs the market replay; drop --no-sim"),
        (["--seed", "-1"], "--seed"),
    ]
    for args, message in cases:
        result = mts("dev", "up", "--state-dir", str(state_dir), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert not state_dir.exists()


def test_the_children_the_stack_supervises(tmp_path: Path) -> None:
    from mts1b_operations.devstack._sim import OMS_CHILD, REPLAY_CHILD, sim_children

    replay, oms = sim_children(scenario="vol-regime", seed=9, python="py")
    assert (replay.name, oms.name) == (REPLAY_CHILD, OMS_CHILD)
    assert replay.argv == [
        "py", "-m", "mts1b_operations.devstack.replay",
        "--scenario", "vol-regime", "--seed", "9", "--exit-with-parent",
    ]  # fmt: skip
    assert oms.argv == ["py", "-m", "mts1b_operations.devstack.oms", "--seed", "9", "--exit-with-parent"]
    [from_file, _] = sim_children(scenario="calm", seed=0, replay_file=tmp_path / "t.csv", python="py")
    assert from_file.argv[3:] == ["--file", str(tmp_path / "t.csv"), "--keep-running", "--exit-with-parent"]
