from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from mts1b_operations.core.db import create_pool, upgrade_all


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with core's migrations (the operators table) applied."""
    await asyncio.to_thread(upgrade_all, database_url, [])
    opened = await create_pool(database_url, connect_deadline=10)
    yield opened
    await opened.close()
