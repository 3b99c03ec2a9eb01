"""devstack.json: what `mts dev up` started, for `mts dev status` and `mts dev down`.

The file has a lasting part (ports, scenario, files) and a ``runtime`` part (pids and URLs)
that exists only while a stack runs; a clean shutdown removes the runtime part.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal

import msgspec

__all__ = [
    "STATE_FILE",
    "DevstackState",
    "RuntimeState",
    "ServiceState",
    "StateError",
    "clear_runtime",
    "read_state",
    "state_path",
    "write_state",
]

STATE_FILE = "devstack.json"


class StateError(RuntimeError):
    """devstack.json exists but cannot be read."""


class ServiceState(msgspec.Struct, kw_only=True):
    name: str
    port: int
    url: str
    log_file: str
    pid: int | None = None
    restarts: int = 0


class RuntimeState(msgspec.Struct, kw_only=True):
    supervisor_pid: int
    started_at: datetime
    phase: Literal["starting", "running", "stopping"]
    database_url: str
    nats_url: str
    postgres_pid: int | None = None
    postgres_port: int
    nats_pid: int | None = None
    nats_port: int
    services: list[ServiceState] = []

    def pids(self) -> list[int]:
        """Every recorded pid: supervisor, services, NATS, Postgres."""
        found = [self.supervisor_pid, self.postgres_pid, self.nats_pid, *(s.pid for s in self.services)]
        return [pid for pid in found if pid is not None]


class DevstackState(msgspec.Struct, kw_only=True):
    state_dir: str
    pg_port: int
    nats_port: int
    base_port: int
    funds_file: str
    signing_key_file: str
    scenario: str | None = None
    only: list[str] = []
    runtime: RuntimeState | None = None


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def read_state(state_dir: Path) -> DevstackState | None:
    """The recorded state, or None when no stack was ever started from ``state_dir``."""
    path = state_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(raw, type=DevstackState)
    except msgspec.ValidationError as exc:
        raise StateError(f"{path} is not a valid devstack state file: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise StateError(f"{path} is not valid JSON: {exc}") from exc


def write_state(state_dir: Path, state: DevstackState) -> None:
    """Replace the file atomically, so a reader never sees half of it."""
    path = state_path(state_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(state), indent=2) + b"\n")
    os.replace(tmp, path)


def clear_runtime(state_dir: Path) -> None:
    """Drop the runtime part (after a shutdown); the lasting part stays."""
    state = read_state(state_dir)
    if state is not None and state.runtime is not None:
        write_state(state_dir, msgspec.structs.replace(state, runtime=None))
