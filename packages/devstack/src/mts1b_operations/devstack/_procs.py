"""Liveness checks and signals for processes known only by pid (recorded in devstack.json)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["alive", "cmdline", "kill_group", "signal_pid", "wait_gone"]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an exited child not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    state = stat.rpartition(")")[2].split()[0]
    return state not in {"Z", "X"}


def cmdline(pid: int) -> str:
    """The command line of ``pid`` joined by spaces, or "" when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def signal_pid(pid: int, sig: signal.Signals) -> bool:
    """Send ``sig``; False when the process is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def kill_group(pgid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal every process left in a process group; nothing happens when it is empty."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_gone(pids: Iterable[int], timeout: float, poll: float = 0.1) -> list[int]:
    """Wait until none of ``pids`` is alive; return the ones still alive at the deadline."""
    pending = [pid for pid in pids if alive(pid)]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        time.sleep(poll)
        pending = [pid for pid in pending if alive(pid)]
    return pending
