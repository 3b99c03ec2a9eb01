"""The calm scenario stays quiet: `mts dev up --scenario calm` for DURATION, counting watchdog alerts.

    uv run python bench/scenario_calm.py [--duration 600] [--seed 0] [--state-dir DIR]

Starts the dev stack (every service, the market replay playing the calm scenario and the paper
OMS) on free ports in a temporary state dir, subscribes to mts.v1.operations.watchdog.> once the
stack is running, and counts the firing alerts per watchdog for DURATION seconds. Prints the
counts (and the message of every firing alert), stops the stack, and exits 1 if vpin, news or
vol_dd fired (a quiet market must not page anyone about toxicity, news or fund risk), 2 if the
stack did not come up. Not part of `make test`: it runs for ten minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Final

from nats.aio.msg import Msg

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.embedded import free_port, free_port_block
from mts1b_operations.core.schemas import WatchdogAlert, decode
from mts1b_operations.devstack import PORT_OFFSETS, read_state

MUST_STAY_QUIET: Final = ("vpin", "news", "vol_dd")
START_TIMEOUT: Final = 150.0
MTS: Final = str(Path(sys.executable).parent / "mts")


def free_base_port() -> int:
    """A base port whose service block (base + each of PORT_OFFSETS) is free."""
    return free_port_block(PORT_OFFSETS.values())


async def wait_running(state_dir: Path, up: asyncio.subprocess.Process) -> str:
    """The stack's NATS URL once `mts dev up` reports it running."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if up.returncode is not None:
            raise RuntimeError(f"mts dev up exited with {up.returncode}")
        state = read_state(state_dir)
        runtime = None if state is None else state.runtime
        if runtime is not None and runtime.phase == "running" and runtime.supervisor_pid == up.pid:
            return runtime.nats_url
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(up.wait(), 0.25)
    raise RuntimeError(f"the stack was not running within {START_TIMEOUT:.0f}s")


async def watch(nats_url: str, duration: float) -> tuple[Counter[str], list[WatchdogAlert]]:
    firing: Counter[str] = Counter()
    alerts: list[WatchdogAlert] = []

    async def take(msg: Msg) -> None:
        alert = decode(msg.data, WatchdogAlert)
        if alert.status == "firing":
            firing[alert.watchdog] += 1
            alerts.append(alert)

    bus = await connect_bus(nats_url, name="bench-scenario-calm", connect_deadline=10)
    try:
        await bus.nc.subscribe("mts.v1.operations.watchdog.>", cb=take)
        await bus.nc.flush()
        await asyncio.sleep(duration)  # the measurement itself: listen for this long
    finally:
        await bus.close()
    return firing, alerts


async def run(duration: float, seed: int, state_dir: Path) -> int:
    args = [
        "--state-dir", str(state_dir), "--pg-port", str(free_port()), "--nats-port", str(free_port()),
        "--base-port", str(free_base_port()), "--scenario", "calm", "--seed", str(seed),
    ]  # fmt: skip
    log = state_dir.parent / "dev-up.out"
    with log.open("wb") as sink:
        up = await asyncio.create_subprocess_exec(
            MTS, "dev", "up", *args, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    started = time.monotonic()
    try:
        try:
            nats_url = await wait_running(state_dir, up)
        except RuntimeError as exc:
            print(f"the dev stack did not come up: {exc}; see {log}", file=sys.stderr)
            return 2
        print(f"calm scenario running (seed {seed}, up in {time.monotonic() - started:.0f}s); "
              f"listening for {duration:.0f}s", flush=True)  # fmt: skip
        listen_start = time.monotonic()
        firing, alerts = await watch(nats_url, duration)
        listened = time.monotonic() - listen_start
    finally:
        if up.returncode is None:
            up.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(up.wait(), 90)
            except TimeoutError:
                up.kill()
    print(f"listened {listened:.0f}s to mts.v1.operations.watchdog.> under `mts dev up --scenario calm`")
    kinds = sorted({*MUST_STAY_QUIET, *firing})
    for kind in kinds:
        print(f"  {kind:<12} {firing[kind]:>4} firing alert(s)")
    for alert in alerts:
        print(f"  [{alert.watchdog}] {alert.subject_id}: {alert.message}")
    loud = [kind for kind in MUST_STAY_QUIET if firing[kind]]
    if loud:
        print(f"FAIL: {', '.join(loud)} fired in the calm scenario")
        return 1
    print(f"OK: {', '.join(MUST_STAY_QUIET)} stayed quiet")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to listen (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the replay and the paper OMS")
    parser.add_argument("--state-dir", type=Path, help="state dir of the stack (default: a temporary one)")
    args = parser.parse_args()
    if not args.duration > 0:
        parser.error("--duration: must be > 0")
    if args.state_dir is not None:
        return asyncio.run(run(args.duration, args.seed, args.state_dir.resolve()))
    with tempfile.TemporaryDirectory(prefix="mts-calm-") as tmp:
        return asyncio.run(run(args.duration, args.seed, Path(tmp) / "stack"))


if __name__ == "__main__":
    sys.exit(main())
