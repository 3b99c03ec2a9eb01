"""The table and the export lines that `mts dev up` and `mts dev status` print."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from rich.table import Table

from mts1b_operations.cli import make_table

from ._ports import port_in_use
from ._procs import alive
from ._services import url_variable
from ._state import RuntimeState

__all__ = ["StatusRow", "env_lines", "status_rows", "status_table"]


@dataclass(frozen=True)
class StatusRow:
    service: str
    pid: int | None
    port: int
    url: str
    health: str  # ok / down
    ready: str | None  # ok / down, or None when not probed
    restarts: int | None  # None for Postgres and NATS, which are not restarted

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _ok(flag: bool) -> str:
    return "ok" if flag else "down"


def _server_up(pid: int | None, port: int) -> bool:
    return pid is not None and alive(pid) and port_in_use(port)


def status_rows(
    runtime: RuntimeState, health: Mapping[str, bool], ready: Mapping[str, bool] | None = None
) -> list[StatusRow]:
    """One row per service (health from the probes), then Postgres and NATS (up = pid and port)."""
    rows = [
        StatusRow(
            service=svc.name,
            pid=svc.pid,
            port=svc.port,
            url=svc.url,
            health=_ok(health.get(svc.name, False)),
            ready=None if ready is None else _ok(ready.get(svc.name, False)),
            restarts=svc.restarts,
        )
        for svc in runtime.services
    ]
    for name, pid, port, url in (
        ("postgres", runtime.postgres_pid, runtime.postgres_port, runtime.database_url),
        ("nats", runtime.nats_pid, runtime.nats_port, runtime.nats_url),
    ):
        up = _ok(_server_up(pid, port))
        rows.append(StatusRow(name, pid, port, url, up, None if ready is None else up, None))
    return rows


def status_table(rows: list[StatusRow], *, title: str | None = None) -> Table:
    with_ready = any(row.ready is not None for row in rows)
    columns = ["service", "pid", "port", "url", "health", *(["ready"] if with_ready else []), "restarts"]
    cells = [
        [
            row.service,
            "-" if row.pid is None else row.pid,
            row.port,
            row.url,
            row.health,
            *([row.ready or "-"] if with_ready else []),
            "-" if row.restarts is None else row.restarts,
        ]
        for row in rows
    ]
    return make_table(title, columns, cells)


def env_lines(runtime: RuntimeState) -> list[str]:
    """``export`` lines pointing the CLI, the SDK and scripts at this stack."""
    lines = [f"export MTS_DATABASE_URL={runtime.database_url}", f"export MTS_NATS_URL={runtime.nats_url}"]
    lines += [f"export {url_variable(svc.name)}={svc.url}" for svc in runtime.services]
    return lines
