"""NATS and Postgres going away and coming back: the feeds resume, bars stored late are stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres

from .conftest import DAY0, Feed, MdApp, bar, halt, quote, wait_for

pytestmark = pytest.mark.timeout(180)

Builder = Callable[..., Awaitable[MdApp]]


async def test_feeds_resume_after_nats_restarts(
    md_db: str, restartable_nats: EmbeddedNats, app_builder: Builder
) -> None:
    publisher = await connect_bus(restartable_nats.url, name="publisher", connect_deadline=10)
    try:
        await publisher.ensure_streams()
        feed = Feed(publisher)
        app = await app_builder(md_db, restartable_nats.url)
        client = app.client()
        await feed.quote(quote("AAPL", bid=1.0, ask=1.1))

        async def first_quote() -> bool:
            return (await client.get("/v1/quotes/AAPL")).status_code == 200

        await wait_for(first_quote, what="the first quote")

        await asyncio.to_thread(restartable_nats.restart)
        await publisher.wait_connected(timeout=30)
        # Published after the restart: the feeds must find their way back to the stream.
        await feed.quote(quote("AAPL", bid=2.0, ask=2.1, ts=datetime.now(UTC) + timedelta(seconds=1)))
        await feed.put_halt("firm", halt("FIRM_HALT"))
        await feed.bar(bar("AAPL", "1d", DAY0))

        async def caught_up() -> bool:
            q = (await client.get("/v1/quotes/AAPL")).json()
            halts = (await client.get("/v1/halts")).json()
            bars = (await client.get("/v1/bars/AAPL", params={"start": "2024-01-01T00:00:00Z"})).json()
            return q["bid"] == 2.0 and len(halts) == 1 and len(bars) == 1

        await wait_for(caught_up, within=60, what="quote, halt and bar published after the NATS restart")
    finally:
        await publisher.close()


async def test_a_bar_received_while_postgres_is_down_is_stored_once_it_is_back(
    nats_url: str, restartable_postgres: EmbeddedPostgres, app_builder: Builder, feed: Feed
) -> None:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade_all, dsn, ["marketdata-api"])
    app = await app_builder(dsn, nats_url)
    client = app.client()
    await asyncio.to_thread(restartable_postgres.stop)
    await feed.bar(bar("MSFT", "1h", DAY0))
    down = await client.get("/v1/bars/MSFT", params={"interval": "1h", "start": DAY0.isoformat()})
    assert down.status_code == 503
    await asyncio.to_thread(restartable_postgres.start)

    async def stored() -> bool:
        answer = await client.get("/v1/bars/MSFT", params={"interval": "1h", "start": DAY0.isoformat()})
        return answer.status_code == 200 and len(answer.json()) == 1

    await wait_for(stored, within=60, what="the bar stored after Postgres came back")
