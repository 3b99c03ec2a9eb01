"""The supervisor against real child processes: restart with backoff, reset, stop, no leftovers."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from mts1b_operations.devstack import Backoff, ChildSpec, Supervisor, SupervisorEvent, alive

PY = sys.executable


async def until(check: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Bounded poll of a condition (the supervisor runs on this loop, so we yield to it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {within}s")
        await asyncio.sleep(0.02)


def child(tmp_path: Path, name: str, code: str) -> ChildSpec:
    return ChildSpec(name=name, argv=[PY, "-c", code], log_file=tmp_path / f"{name}.log")


async def test_a_child_that_exits_is_restarted_with_exponential_backoff(tmp_path: Path) -> None:
    events: list[SupervisorEvent] = []
    backoff = Backoff(initial=0.1, factor=2.0, maximum=0.4, reset_after=30.0)
    sup = Supervisor(
        [child(tmp_path, "crasher", "print('boom', flush=True); raise SystemExit(3)")],
        backoff=backoff,
        on_event=events.append,
    )
    await sup.start()
    try:
        await until(lambda: sup.child("crasher").restarts >= 4, what="4 restarts")
    finally:
        await sup.stop(grace=5)
    status = sup.child("crasher")
    delays = [record.delay for record in status.history[:4]]
    assert delays == [0.1, 0.2, 0.4, 0.4]  # doubled, then capped at maximum
    assert all(record.exit_code == 3 for record in status.history)
    # Each respawn really waited at least the delay after the exit it followed.
    for record, next_spawn in zip(status.history, status.spawned_at[1:], strict=False):
        assert next_spawn - record.exited_at >= record.delay * 0.95
    assert [e.kind for e in events[:2]] == ["spawned", "exited"]
    assert events[1].exit_code == 3
    assert events[1].restart_in == 0.1
    assert (tmp_path / "crasher.log").read_text().count("boom") >= 4


async def test_backoff_resets_after_the_child_stayed_up(tmp_path: Path) -> None:
    # Each run outlives reset_after, so every restart starts again from the initial delay.
    backoff = Backoff(initial=0.05, factor=4.0, maximum=10.0, reset_after=0.2)
    code = "import time; time.sleep(0.35)"
    sup = Supervisor([child(tmp_path, "flaky", code)], backoff=backoff)
    await sup.start()
    try:
        await until(lambda: sup.child("flaky").restarts >= 3, what="3 restarts")
    finally:
        await sup.stop(grace=5)
    history = sup.child("flaky").history
    assert all(record.uptime >= 0.2 for record in history)
    assert [record.delay for record in history[:3]] == [0.05, 0.05, 0.05]


async def test_stop_terminates_children_and_does_not_restart_them(tmp_path: Path) -> None:
    sup = Supervisor(
        [
            child(tmp_path, "a", "import time; time.sleep(60)"),
            child(tmp_path, "b", "import time; time.sleep(60)"),
        ]
    )
    await sup.start()
    pids = [status.pid for status in sup.status()]
    assert all(pid is not None and alive(pid) for pid in pids)
    await sup.stop(grace=5)
    assert not any(alive(pid) for pid in pids if pid is not None)
    for status in sup.status():
        assert status.restarts == 0
        assert not status.running
        assert status.last_exit == -15  # ended by our SIGTERM


async def test_a_child_ignoring_sigterm_is_killed_with_everything_it_spawned(tmp_path: Path) -> None:
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('ready', kid.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "stubborn.log"
    sup = Supervisor([child(tmp_path, "stubborn", code)])
    await sup.start()
    await until(lambda: log.exists() and "ready" in log.read_text(), what="child ready")
    grandchild = int(log.read_text().split()[1])
    parent = sup.child("stubborn").pid
    assert parent is not None
    assert alive(grandchild)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await sup.stop(grace=0.5)
    assert loop.time() - started < 5
    assert sup.child("stubborn").last_exit == -9  # SIGKILL after the grace period
    assert not alive(parent)
    await until(lambda: not alive(grandchild), within=5, what="grandchild gone")


async def test_a_command_that_cannot_start_is_retried_and_logged(tmp_path: Path) -> None:
    spec = ChildSpec(name="ghost", argv=[str(tmp_path / "no-such-program")], log_file=tmp_path / "ghost.log")
    sup = Supervisor([spec], backoff=Backoff(initial=0.05, maximum=0.05))
    await sup.start()
    try:
        await until(lambda: sup.child("ghost").restarts >= 2, what="2 retries")
    finally:
        await sup.stop(grace=1)
    assert sup.child("ghost").last_exit == 127
    assert "cannot start" in (tmp_path / "ghost.log").read_text()


async def test_children_run_in_their_own_session(tmp_path: Path) -> None:
    # A terminal's Ctrl-C goes to the foreground process group: the children must not be in ours.
    sup = Supervisor([child(tmp_path, "sleeper", "import time; time.sleep(60)")])
    await sup.start()
    try:
        pid = sup.child("sleeper").pid
        assert pid is not None
        assert os.getsid(pid) == pid
        assert os.getpgid(pid) != os.getpgid(0)
        assert psutil.Process(pid).ppid() == os.getpid()
    finally:
        await sup.stop(grace=5)


def test_duplicate_child_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([child(tmp_path, "x", "pass"), child(tmp_path, "x", "pass")])


def test_backoff_delays() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=3.0)
    assert [backoff.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
