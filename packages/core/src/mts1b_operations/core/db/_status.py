from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from ._errors import MigrationError, SchemaBehindError
from ._migrations import MigrationSet

__all__ = ["check_schema_current", "schema_status"]


@asynccontextmanager
async def _connection(
    pool_or_dsn: asyncpg.Pool | str,
) -> AsyncIterator[asyncpg.Connection | asyncpg.pool.PoolConnectionProxy]:
    if isinstance(pool_or_dsn, str):
        conn = await asyncpg.connect(pool_or_dsn)
        try:
            yield conn
        finally:
            await conn.close()
    else:
        async with pool_or_dsn.acquire() as proxy:
            yield proxy


def _head(mset: MigrationSet) -> str:
    heads = mset.script().get_heads()
    if len(heads) != 1:
        raise MigrationError(f"migration set {mset.name!r} must have exactly one head revision, has {heads}")
    return heads[0]


async def schema_status(pool_or_dsn: asyncpg.Pool | str, mset: MigrationSet) -> tuple[str | None, str]:
    """(revision the database is at, or None when never migrated; head revision of the code)."""
    head = _head(mset)
    async with _connection(pool_or_dsn) as conn:
        # Resolved through search_path, as alembic does when it creates the table.
        if await conn.fetchval("SELECT to_regclass($1)::text", mset.version_table) is None:
            return None, head
        rows = await conn.fetch(f'SELECT version_num FROM "{mset.version_table}"')  # noqa: S608 - validated name
    if len(rows) > 1:
        raise MigrationError(
            f"{mset.version_table} holds {len(rows)} revisions; branched migrations are not supported"
        )
    return (rows[0]["version_num"] if rows else None), head


async def check_schema_current(pool: asyncpg.Pool | str, mset: MigrationSet) -> None:
    """Return when the database is at ``mset``'s head; else raise :class:`SchemaBehindError` (one line)."""
    current, head = await schema_status(pool, mset)
    if current == head:
        return
    where = f"database schema for {mset.name!r}"
    fix = f"run `mts db upgrade {mset.name}`"
    if current is None:
        message = f"{where} has never been migrated but the code needs {head}: {fix}"
    elif any(rev.revision == current for rev in mset.script().walk_revisions()):
        message = f"{where} is at {current} but the code needs {head}: {fix}"
    else:
        message = (
            f"{where} is at {current}, newer than this code knows (its newest is {head}): "
            f"deploy the code that wrote {current}, or downgrade the schema with that code"
        )
    raise SchemaBehindError(mset.name, current, head, message)
