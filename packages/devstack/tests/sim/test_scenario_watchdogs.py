"""Issue 6's acceptance: under `mts dev up --scenario flash-crash` vpin, news_spike and vol_dd fire.

The stack runs the watchdogs service, the market replay (at twice the speed, so the first crash
comes 30 s after the start) and the paper OMS; the test listens on the three alert subjects and
waits, bounded, for a firing alert on each. The calm side (ten quiet minutes) is
bench/scenario_calm.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.embedded import free_port
from mts1b_operations.core.schemas import WatchdogAlert, decode
from mts1b_operations.devstack import RuntimeState
from mts1b_operations.devstack._watchdog_params import DEV_WATCHDOG_PARAMS

from .conftest import Recorder, until
from .test_dev_up_sim import MTS, START_TIMEOUT, descendants, free_base_port, running

SUBJECTS = {
    "vpin": "mts.v1.operations.watchdog.vpin",
    "news": "mts.v1.operations.watchdog.news",
    "vol_dd": "mts.v1.operations.watchdog.vol_dd",
}
FIRE_TIMEOUT = 75.0  # the first crash is at 30 s of wall time; its alerts follow within seconds


@pytest.fixture
def reaper() -> Iterator[list[psutil.Process]]:
    procs: list[psutil.Process] = []
    yield procs
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def firing(recorder: Recorder, subject: str) -> list[WatchdogAlert]:
    alerts = [decode(m.data, WatchdogAlert) for m in recorder.on(subject)]
    return [a for a in alerts if a.status == "firing"]


def test_the_dev_parameters_are_valid_watchdog_overrides() -> None:
    from mts1b_operations.watchdogs.config import VolDdParams, VpinParams, effective_params

    vpin = effective_params("vpin", DEV_WATCHDOG_PARAMS["vpin"])
    vol_dd = effective_params("portfolio_vol_dd", DEV_WATCHDOG_PARAMS["portfolio_vol_dd"])
    assert isinstance(vpin, VpinParams)
    assert isinstance(vol_dd, VolDdParams)
    assert (vpin.window, vpin.threshold, vpin.bucket_volume) == (10, 0.4, 10_000)
    assert (vol_dd.bar_seconds, vol_dd.window) == (4, 8)
    assert vol_dd.periods_per_year == pytest.approx(252 * 6.5 * 3600 / 4)
    assert vol_dd.vol_multiple == 1.5  # the thresholds stay the production ones


@pytest.mark.timeout(300)
async def test_flash_crash_fires_vpin_news_and_vol_dd(tmp_path: Path, reaper: list[psutil.Process]) -> None:
    state_dir = tmp_path / "stack"
    out = tmp_path / "dev-up.out"
    args = [
        "--state-dir", str(state_dir), "--pg-port", str(free_port()), "--nats-port", str(free_port()),
        "--base-port", str(free_base_port()), "--only", "watchdogs", "--scenario", "flash-crash",
        "--seed", "3", "--replay-speed", "2",
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
    children = descendants(up.pid)
    reaper.extend(children)
    assert "watchdog parameters for the replay's scale set on: vpin, portfolio_vol_dd" in out.read_text()

    bus = await connect_bus(found[-1].nats_url, name="e2e-watchdogs", connect_deadline=10)
    recorder = Recorder()
    try:
        await bus.nc.subscribe("mts.v1.operations.watchdog.>", cb=recorder.take)
        await bus.nc.flush()
        try:
            await until(
                lambda: all(firing(recorder, subject) for subject in SUBJECTS.values()),
                within=FIRE_TIMEOUT,
                what=f"a firing alert on each of {', '.join(SUBJECTS.values())}",
            )
        except AssertionError as exc:
            seen = [(m.subject, decode(m.data, WatchdogAlert).message) for m in recorder.messages]
            raise AssertionError(f"{exc}; alerts seen: {seen}") from None
    finally:
        await bus.close()

    [vpin, *_] = firing(recorder, SUBJECTS["vpin"])
    assert vpin.watchdog == "vpin"
    assert vpin.value is not None
    assert vpin.value >= 0.4, vpin
    assert vpin.subject_id in {"AAPL", "MSFT", "NVDA", "SPY", "TSLA"}
    [news, *_] = firing(recorder, SUBJECTS["news"])
    assert news.watchdog == "news"
    assert "news item(s)" in news.message, news
    [vol_dd, *_] = firing(recorder, SUBJECTS["vol_dd"])
    assert vol_dd.watchdog == "vol_dd"
    assert vol_dd.subject_id in {"paper-momentum", "paper-meanrev"}, vol_dd

    up.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(up.wait(), 90) == 0, out.read_text()


def test_the_replay_speed_reaches_the_replay_and_is_checked(tmp_path: Path) -> None:
    from mts1b_operations.devstack._sim import sim_children

    replay, _ = sim_children(scenario="flash-crash", seed=3, speed=2.5, python="py")
    assert replay.argv[3:] == [
        "--scenario",
        "flash-crash",
        "--seed",
        "3",
        "--speed",
        "2.5",
        "--exit-with-parent",
    ]
    trades = tmp_path / "t.csv"
    trades.write_text("symbol,ts,price,size\nAAPL,2025-01-06T14:30:00Z,100,5\n")
    cases = [
        (["--replay-speed", "0"], "--replay-speed"),
        (["--replay-speed", "fast"], "--replay-speed"),
        (["--replay-file", str(trades), "--replay-speed", "2"], "--replay-speed applies to a scenario"),
    ]
    for extra, message in cases:
        result = subprocess.run(
            [MTS, "dev", "up", "--state-dir", str(tmp_path / "stack"), *extra],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr, (extra, result.stderr)
    assert not (tmp_path / "stack").exists()
