"""The operations services run as processes with their own NATS user and Postgres role."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx

from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.testing import ServiceProcess, ServiceProcessError

from ._nats_helpers import user_url
from ._pg_helpers import SERVICE_ROLES, role_url

__all__ = [
    "SERVICE_MODULES",
    "audit_trail",
    "register_operator",
    "request_halt",
    "service_env",
    "start_services",
    "stop_services",
]

SERVICE_MODULES: Final[Mapping[str, str]] = {
    "halt": "mts1b_operations.halt",
    "audit": "mts1b_operations.audit",
    "watchdogs": "mts1b_operations.watchdogs",
    "compliance": "mts1b_operations.compliance",
    "marketdata-api": "mts1b_operations.marketdata",
}
READY_TIMEOUT: Final = 90.0


def service_env(
    service: str,
    *,
    database_url: str,
    nats_passwords: Mapping[str, str],
    nats_ports: int | list[int],
    work_dir: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """The environment of ``service``: its own Postgres role and NATS user, nothing shared."""
    env: dict[str, str | None] = {
        "MTS_DATABASE_URL": role_url(database_url, SERVICE_ROLES[service]),
        "MTS_NATS_URL": user_url(service, nats_passwords[service], nats_ports),
        "MTS_TEST_DATABASE_URL": None,
        "MTS_TEST_NATS_URL": None,
    }
    if service == "audit":
        key = work_dir / "audit-signing-key.seed"
        if not key.exists():
            key.write_bytes(os.urandom(32))
            key.chmod(0o600)
        env["MTS_AUDIT_SIGNING_KEY"] = str(key)
    if service == "compliance":
        env["MTS_COMPLIANCE_OUTPUT_DIR"] = str(work_dir / "compliance-files")
    env.update(extra or {})
    return env


def start_services(envs: Mapping[str, Mapping[str, str | None]], log_dir: Path) -> dict[str, ServiceProcess]:
    """Start every service at once (they start in parallel), then wait until each is ready."""
    processes = {
        name: ServiceProcess(SERVICE_MODULES[name], env=env, log_dir=log_dir) for name, env in envs.items()
    }
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(timeout=READY_TIMEOUT)
    except (ServiceProcessError, OSError):
        stop_services(processes.values())
        raise
    return processes


def stop_services(processes: Iterable[ServiceProcess]) -> dict[str, int | None]:
    """SIGTERM to every service first (they drain in parallel), then collect each exit status."""
    running = list(processes)
    for process in running:
        process.send_signal(signal.SIGTERM)
    # wait_exit, not stop(): a second SIGTERM after the drain removed its handler would kill it.
    return {process.module: process.wait_exit(timeout=30) for process in running if process.pid is not None}


async def register_operator(database_url: str, name: str, role: str = "operator") -> str:
    """Register an operator as the schema owner does (`mts operators add`); returns its token."""
    conn = await asyncpg.connect(role_url(database_url, "mts_migrate"))
    try:
        _, token = await add_operator(conn, name, role, created_by="deploy-test")  # type: ignore[arg-type]
    finally:
        await conn.close()
    return token


async def request_halt(
    client: httpx.AsyncClient, halt: ServiceProcess, token: str, **body: Any
) -> httpx.Response:
    body.setdefault("mode", "block_new")
    return await client.post(
        f"{halt.base_url}/v1/halts", json=body, headers={"Authorization": f"Bearer {token}"}
    )


async def audit_trail(
    client: httpx.AsyncClient, audit: ServiceProcess, token: str, subject_id: str
) -> list[dict[str, Any]]:
    answer = await client.get(
        f"{audit.base_url}/v1/audit/trail",
        params={"subject_id": subject_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    answer.raise_for_status()
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries
