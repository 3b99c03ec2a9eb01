"""An asyncio supervisor for local child processes: restart on unexpected exit, stop cleanly.

Each child runs in a session (and process group) of its own, so a terminal's Ctrl-C reaches
only the supervisor, which then stops the children in order; and so that anything a child
spawned (server workers) can be killed with it as a group.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._procs import kill_group

__all__ = ["Backoff", "ChildSpec", "ChildStatus", "RestartRecord", "Supervisor", "SupervisorEvent"]

_SPAWN_FAILED = 127  # the shell's "command not found"; recorded when exec itself fails


@dataclass(frozen=True)
class Backoff:
    """Delay before restart n (0-based) is ``initial * factor**n``, at most ``maximum``.

    A child that stayed up at least ``reset_after`` seconds counts as healthy again: its
    next restart starts from ``initial``.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    reset_after: float = 10.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * self.factor**attempt))


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    log_file: Path
    env: Mapping[str, str] | None = None


@dataclass(frozen=True)
class RestartRecord:
    exit_code: int
    uptime: float
    delay: float
    exited_at: float  # loop time


@dataclass
class ChildStatus:
    name: str
    pid: int | None = None
    running: bool = False
    restarts: int = 0
    last_exit: int | None = None
    spawned_at: list[float] = field(default_factory=list)  # loop time of every spawn
    history: list[RestartRecord] = field(default_factory=list)


@dataclass(frozen=True)
class SupervisorEvent:
    kind: Literal["spawned", "exited", "stopped"]
    child: str
    pid: int | None
    exit_code: int | None = None
    restart_in: float | None = None  # set on "exited" when a restart is scheduled


class Supervisor:
    """Runs every ``ChildSpec``; restarts one that exits while not stopping."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        backoff: Backoff | None = None,
        on_event: Callable[[SupervisorEvent], None] | None = None,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self._specs = list(specs)
        self._backoff = backoff or Backoff()
        self._on_event = on_event
        self._status = {spec.name: ChildStatus(spec.name) for spec in specs}
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def status(self) -> list[ChildStatus]:
        return [self._status[spec.name] for spec in self._specs]

    def child(self, name: str) -> ChildStatus:
        return self._status[name]

    async def start(self) -> None:
        """Spawn every child (returns once each has been spawned once)."""
        if self._tasks:
            raise RuntimeError("the supervisor is already started")
        spawned = [asyncio.Event() for _ in self._specs]
        for spec, first in zip(self._specs, spawned, strict=True):
            self._tasks[spec.name] = asyncio.create_task(
                self._watch(spec, first), name=f"supervise-{spec.name}"
            )
        await asyncio.gather(*(event.wait() for event in spawned))

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every child, SIGKILL whatever is left after ``grace`` seconds, reap all."""
        self._stopping.set()
        for proc in list(self._procs.values()):
            _terminate(proc)
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            if late:
                for proc in list(self._procs.values()):
                    kill_group(proc.pid)
                await asyncio.gather(*late, return_exceptions=True)

    def _emit(self, event: SupervisorEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def _spawn(self, spec: ChildSpec) -> asyncio.subprocess.Process | None:
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_file.open("ab") as log:
            try:
                return await asyncio.create_subprocess_exec(
                    *spec.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(spec.env) if spec.env is not None else None,
                    start_new_session=True,
                )
            except OSError as exc:
                log.write(f"supervisor: cannot start {list(spec.argv)}: {exc}\n".encode())
                return None

    async def _watch(self, spec: ChildSpec, first_spawn: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        status = self._status[spec.name]
        attempt = 0
        try:
            while not self._stopping.is_set():
                if status.spawned_at:
                    status.restarts += 1
                proc = await self._spawn(spec)
                started = loop.time()
                status.spawned_at.append(started)
                if proc is not None:
                    self._procs[spec.name] = proc
                    status.pid, status.running = proc.pid, True
                    self._emit(SupervisorEvent("spawned", spec.name, proc.pid))
                    first_spawn.set()
                    if self._stopping.is_set():  # stop() ran while we were spawning
                        _terminate(proc)
                    code = await proc.wait()
                    # Whatever the child left in its group (workers) goes with it.
                    kill_group(proc.pid)
                    del self._procs[spec.name]
                else:
                    first_spawn.set()
                    code = _SPAWN_FAILED
                status.running, status.last_exit = False, code
                if self._stopping.is_set():
                    self._emit(SupervisorEvent("stopped", spec.name, status.pid, code))
                    return
                uptime = loop.time() - started
                if uptime >= self._backoff.reset_after:
                    attempt = 0
                delay = self._backoff.delay(attempt)
                attempt += 1
                status.history.append(RestartRecord(code, uptime, delay, loop.time()))
                self._emit(SupervisorEvent("exited", spec.name, status.pid, code, restart_in=delay))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        finally:
            first_spawn.set()


def _terminate(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
