"""The body of every alembic env.py: each environment calls :func:`run_migrations` with its version table."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ._errors import MigrationError
from ._pool import redact_dsn

__all__ = ["MIGRATION_LOCK_KEY", "async_url", "run_migrations"]

# pg_advisory_xact_lock key ("mts1migr") held by every migration transaction, so concurrent
# upgrades (two pods starting, two `mts db upgrade`) run one after the other.
MIGRATION_LOCK_KEY = 0x6D74_7331_6D69_6772


def async_url(dsn: str) -> str:
    """``postgresql://...`` as SQLAlchemy's asyncpg URL ``postgresql+asyncpg://...``."""
    parts = urlsplit(dsn)
    if parts.scheme in ("postgresql", "postgres"):
        return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))
    if parts.scheme == "postgresql+asyncpg":
        return dsn
    raise MigrationError(f"database URL must start with postgresql:// (got {redact_dsn(dsn)!r})")


def _dsn() -> str:
    config = context.config
    dsn = config.attributes.get("dsn") or config.get_main_option("sqlalchemy.url")
    dsn = dsn or os.environ.get("MTS_DATABASE_URL", "").strip()
    if not dsn:
        raise MigrationError("no database URL: pass dsn to upgrade() or set MTS_DATABASE_URL")
    return str(dsn)


def _migrate(connection: Connection, version_table: str) -> None:
    context.configure(connection=connection, version_table=version_table, transaction_per_migration=False)
    with context.begin_transaction():
        # Taken before alembic reads the version table, so the loser of a race sees the winner's work.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _run_online(url: str, version_table: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate, version_table)
    finally:
        await engine.dispose()


def _run_to_completion(coro: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    # Called synchronously from inside an event loop: asyncio.run would refuse, so use a thread.
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target, name="alembic-migrations")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def run_migrations(version_table: str) -> None:
    """Run the alembic command in progress against Postgres (asyncpg), under the migration lock."""
    expected = context.config.attributes.get("version_table")
    if expected is not None and expected != version_table:
        location = context.config.get_main_option("script_location")
        raise MigrationError(
            f"{location}/env.py uses version table {version_table!r} but its migration set "
            f"expects {expected!r}"
        )
    if context.is_offline_mode():
        context.configure(url=async_url(_dsn()), version_table=version_table, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    _run_to_completion(_run_online(async_url(_dsn()), version_table))
