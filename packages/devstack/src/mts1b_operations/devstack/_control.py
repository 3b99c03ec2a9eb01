"""Stopping a recorded stack from outside: `mts dev down`, and leftovers of a crashed one."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from ._procs import alive, cmdline, kill_group, signal_pid, wait_gone
from ._state import RuntimeState

__all__ = ["RecordedProcess", "live_processes", "stop_leftovers", "supervisor_alive"]


@dataclass(frozen=True)
class RecordedProcess:
    label: str
    pid: int
    marker: str  # found in the command line of the process we started; guards against pid reuse


def _recorded(runtime: RuntimeState) -> list[RecordedProcess]:
    found = [RecordedProcess("supervisor", runtime.supervisor_pid, "dev up")]
    found += [RecordedProcess(s.name, s.pid, " serve ") for s in runtime.services if s.pid is not None]
    if runtime.nats_pid is not None:
        found.append(RecordedProcess("nats", runtime.nats_pid, "nats-server"))
    if runtime.postgres_pid is not None:
        found.append(RecordedProcess("postgres", runtime.postgres_pid, "postgres"))
    return found


def _ours(proc: RecordedProcess) -> bool:
    return alive(proc.pid) and proc.marker in f" {cmdline(proc.pid)} "


def live_processes(runtime: RuntimeState) -> list[RecordedProcess]:
    """The recorded processes still alive (and still the programs we started)."""
    return [proc for proc in _recorded(runtime) if _ours(proc)]


def supervisor_alive(runtime: RuntimeState) -> bool:
    return any(proc.label == "supervisor" for proc in live_processes(runtime))


def stop_leftovers(runtime: RuntimeState, timeout: float = 15.0) -> list[RecordedProcess]:
    """Stop what a supervisor that died without cleaning up left running; return survivors.

    Services and NATS get SIGTERM, Postgres SIGINT (its fast shutdown); whatever is still
    there after ``timeout`` is killed with its whole process group.
    """
    leftovers = [proc for proc in live_processes(runtime) if proc.label != "supervisor"]
    for proc in leftovers:
        signal_pid(proc.pid, signal.SIGINT if proc.label == "postgres" else signal.SIGTERM)
    late = set(wait_gone([proc.pid for proc in leftovers], timeout))
    for proc in leftovers:
        kill_group(proc.pid)  # each was started as a session leader: its group is its workers
    survivors = set(wait_gone(late, 5.0))
    return [proc for proc in leftovers if proc.pid in survivors]
