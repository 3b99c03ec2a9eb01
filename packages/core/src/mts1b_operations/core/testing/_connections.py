"""A test's own connections: a migrated database, a pool on it, a bus; each closed when the test ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all

__all__ = ["CONNECT_DEADLINE", "migrated", "open_bus", "open_pool"]

CONNECT_DEADLINE = 10.0
"""Seconds a test waits for its Postgres or NATS before failing (the servers are local)."""


async def migrated(database_url: str, *sets: str) -> str:
    """Apply core's migrations and those of ``sets`` (every installed set when none is named).

    Returns ``database_url``, so a fixture can ``return await migrated(database_url, "halt")``.
    """
    await asyncio.to_thread(upgrade_all, database_url, list(sets) if sets else None)
    return database_url


@asynccontextmanager
async def open_pool(
    database_url: str, *, min_size: int = 1, max_size: int = 10, connect_deadline: float = CONNECT_DEADLINE
) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on ``database_url``, closed on exit."""
    pool = await create_pool(
        database_url, min_size=min_size, max_size=max_size, connect_deadline=connect_deadline
    )
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def open_bus(
    nats_url: str, *, name: str, ensure_streams: bool = True, connect_deadline: float = CONNECT_DEADLINE
) -> AsyncIterator[Bus]:
    """A bus connected to ``nats_url`` as ``name`` (with the JetStream streams in place), closed on exit."""
    bus = await connect_bus(nats_url, name=name, connect_deadline=connect_deadline)
    try:
        if ensure_streams:
            await bus.ensure_streams()
        yield bus
    finally:
        await bus.close()
