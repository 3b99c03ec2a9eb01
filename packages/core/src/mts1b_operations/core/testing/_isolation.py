from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest_asyncio
from nats.js.errors import NotFoundError

from ._servers import SharedNats, SharedPostgres

__all__ = ["database_url", "nats_url"]


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest_asyncio.fixture
async def database_url(shared_postgres: SharedPostgres) -> AsyncIterator[str]:
    """A fresh, empty database for this test on the suite's Postgres; dropped afterwards."""
    name = f"mts_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(shared_postgres.url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    yield _with_database(shared_postgres.url, name)
    admin = await asyncpg.connect(shared_postgres.url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _delete_jetstream_state(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(info.config.name or "")
    finally:
        await nc.close()


@pytest_asyncio.fixture
async def nats_url(shared_nats: SharedNats) -> AsyncIterator[str]:
    """The suite's NATS with no streams or KV buckets left from earlier tests."""
    await _delete_jetstream_state(shared_nats.url)
    yield shared_nats.url
