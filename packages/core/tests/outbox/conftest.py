"""Fixtures for the outbox tests: a database with core's migrations applied and a pool on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from mts1b_operations.core.db import create_pool, discover_migrations, upgrade


@pytest_asyncio.fixture
async def outbox_url(database_url: str) -> str:
    await asyncio.to_thread(upgrade, database_url, discover_migrations()["core"])
    return database_url


@pytest_asyncio.fixture
async def pool(outbox_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(outbox_url, min_size=1, max_size=6, connect_deadline=10)
    try:
        yield pool
    finally:
        await pool.close()
