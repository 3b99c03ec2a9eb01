"""create_pool against a real Postgres: retries the first connect, survives restarts."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from mts1b_operations.core.db import DatabaseUnavailableError, create_pool
from mts1b_operations.core.testing import EmbeddedPostgres, free_port


async def _backend_pids(pool: asyncpg.Pool, n: int) -> set[int]:
    """Run a query on ``n`` connections at once, so every pooled connection is exercised."""
    conns = [await pool.acquire() for _ in range(n)]
    try:
        return {await c.fetchval("SELECT pg_backend_pid()") for c in conns}
    finally:
        for c in conns:
            await pool.release(c)


async def test_pool_survives_a_postgres_restart(restartable_postgres: EmbeddedPostgres) -> None:
    pool = await create_pool(restartable_postgres.dsn(), min_size=3, max_size=3, connect_deadline=10)
    try:
        before = await _backend_pids(pool, 3)
        await asyncio.to_thread(restartable_postgres.restart)
        after = await _backend_pids(pool, 3)
        assert len(after) == 3
        assert not before & after, "every connection was replaced by a new backend"
        assert await pool.fetchval("SELECT 40 + 2") == 42
    finally:
        await pool.close()


async def test_pool_survives_a_postgres_crash(restartable_postgres: EmbeddedPostgres) -> None:
    pool = await create_pool(restartable_postgres.dsn(), min_size=2, max_size=2, connect_deadline=10)
    try:
        await pool.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        restartable_postgres.kill()
        await asyncio.to_thread(restartable_postgres.start)
        assert await pool.fetchval("SELECT x FROM kept") == 7
        assert len(await _backend_pids(pool, 2)) == 2
    finally:
        await pool.close()


async def test_first_connect_waits_for_postgres_to_come_up(restartable_postgres: EmbeddedPostgres) -> None:
    restartable_postgres.stop()
    opening = asyncio.create_task(create_pool(restartable_postgres.dsn(), connect_deadline=30))
    await asyncio.to_thread(restartable_postgres.start)
    pool = await asyncio.wait_for(opening, timeout=30)
    try:
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_connect_deadline_gives_a_clear_error() -> None:
    dsn = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/postgres"
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as info:
        await create_pool(dsn, connect_deadline=0.5)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "not reachable within 0.5s" in message
    assert "secret" not in message, "the password is redacted"
    assert "\n" not in message


async def test_a_missing_database_fails_at_once(database_url: str) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/no_such_database"
    started = time.monotonic()
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await create_pool(missing, connect_deadline=30)
    assert time.monotonic() - started < 10, "not retried until the deadline"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dsn": "mysql://x/y"}, "dsn"),
        ({"min_size": -1}, "min_size"),
        ({"max_size": 0}, "max_size"),
        ({"min_size": 5, "max_size": 2}, "max_size"),
        ({"connect_deadline": 0}, "connect_deadline"),
    ],
)
async def test_bad_arguments_name_the_argument(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"dsn": "postgresql://127.0.0.1/postgres", **kwargs}
    dsn = arguments.pop("dsn")
    assert isinstance(dsn, str)
    with pytest.raises(ValueError, match=f"^{field}"):
        await create_pool(dsn, **arguments)  # type: ignore[arg-type]
