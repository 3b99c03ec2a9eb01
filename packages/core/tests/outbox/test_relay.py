"""OutboxRelay against real Postgres and real NATS JetStream: order, exactly-once, outages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from prometheus_client import REGISTRY

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import MSG_ID_HEADER, Bus, connect_bus
from mts1b_operations.core.db import create_pool, discover_migrations, upgrade
from mts1b_operations.core.outbox import OutboxRelay, enqueue
from mts1b_operations.core.testing import EmbeddedNats, EmbeddedPostgres, eventually, stream_messages

STREAM = "OPERATIONS"
SUBJECT = subjects.halt_requested()


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    bus = await connect_bus(nats_url, name="outbox-tests", connect_deadline=10)
    await bus.ensure_streams()
    try:
        yield bus
    finally:
        await bus.close()


async def stream_ids(bus: Bus) -> list[str]:
    """Nats-Msg-Id of every message in the stream, in stream-sequence order."""
    return [(msg.headers or {})[MSG_ID_HEADER] for msg in await stream_messages(bus, STREAM)]


async def stream_count(bus: Bus) -> int:
    return int((await bus.js.stream_info(STREAM)).state.messages)


async def enqueue_each(pool: asyncpg.Pool, n: int, *, source: str = "halt") -> list[str]:
    """``n`` events, each committed in its own transaction; returns their ids in commit order."""
    ids = [f"{source}-{i:05d}-{uuid.uuid4().hex[:8]}" for i in range(n)]
    for i, event_id in enumerate(ids):
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(
                conn, source=source, subject=SUBJECT, payload=f'{{"n":{i}}}'.encode(), event_id=event_id
            )
    return ids


async def relay_in_a_batch(observer: asyncpg.pool.PoolConnectionProxy) -> int | None:
    """pid of a backend that claimed outbox rows and has not committed (a relay mid-batch)."""
    pid = await observer.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' "
        "AND query LIKE '%FOR UPDATE SKIP LOCKED%' AND datname = current_database()"
    )
    return int(pid) if pid is not None else None


async def test_relay_once_publishes_in_id_order_and_deletes(pool: asyncpg.Pool, bus: Bus) -> None:
    ids = await enqueue_each(pool, 25)
    await enqueue_each(pool, 3, source="audit")
    relay = OutboxRelay(pool, bus, source="halt", batch_size=10)
    assert [await relay.relay_once() for _ in range(4)] == [10, 10, 5, 0]
    assert await stream_ids(bus) == ids
    first = await bus.js.get_msg(STREAM, 1)
    assert (first.subject, first.data) == (SUBJECT, b'{"n":0}')
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE source = 'halt'") == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE source = 'audit'") == 3, "not its rows"


async def test_backlog_and_gauges(pool: asyncpg.Pool, bus: Bus) -> None:
    relay = OutboxRelay(pool, bus, source="watchdogs")
    assert await relay.backlog() == (0, None)
    await enqueue_each(pool, 4, source="watchdogs")
    await pool.execute("UPDATE outbox SET created_at = now() - interval '90 seconds'")
    count, age = await relay.backlog()
    assert count == 4
    assert age is not None
    assert 90 <= age < 120
    assert REGISTRY.get_sample_value("mts_outbox_backlog_events", {"source": "watchdogs"}) == 4
    oldest = REGISTRY.get_sample_value("mts_outbox_oldest_event_age_seconds", {"source": "watchdogs"})
    assert oldest is not None
    assert oldest >= 90
    assert await relay.relay_once() == 4
    assert await relay.backlog() == (0, None)
    assert REGISTRY.get_sample_value("mts_outbox_backlog_events", {"source": "watchdogs"}) == 0


async def test_outbox_survives_a_nats_outage(pool: asyncpg.Pool, restartable_nats: EmbeddedNats) -> None:
    """THE acceptance test: 1,000 events committed while NATS is down land once each, in order."""
    bus = await connect_bus(restartable_nats.url, name="outbox-outage", connect_deadline=10)
    observer = await pool.acquire()
    try:
        await bus.ensure_streams()
        await asyncio.to_thread(restartable_nats.stop)
        ids = await enqueue_each(pool, 1000)
        relay = OutboxRelay(pool, bus, source="halt", poll_interval=0.5)
        await relay.start()
        try:
            await eventually(
                lambda: _true(relay_in_a_batch(observer)), what="the relay to be stuck publishing"
            )

            async def gauge_shows_backlog() -> bool:
                return REGISTRY.get_sample_value("mts_outbox_backlog_events", {"source": "halt"}) == 1000

            # Refreshed by the relay itself while its publish is stuck in retries.
            await eventually(gauge_shows_backlog, within=15, what="the backlog gauge to show the outage")
            assert (await relay.backlog())[0] == 1000, "nothing is deleted while NATS is down"
            await asyncio.to_thread(restartable_nats.start)

            async def drained() -> bool:
                return (await relay.backlog())[0] == 0

            await eventually(drained, within=90, what="the outbox to drain after NATS came back")
        finally:
            await relay.stop()
        assert await stream_ids(bus) == ids, "every event exactly once, in insertion order"
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.release(observer)
        await bus.close()


async def _true(value: Awaitable[object]) -> bool:
    return await value is not None


async def test_republishing_published_events_adds_no_duplicates(pool: asyncpg.Pool, bus: Bus) -> None:
    """A crash after publish but before delete leaves the rows: publishing them again is harmless."""
    ids = await enqueue_each(pool, 10)
    relay = OutboxRelay(pool, bus, source="halt")
    assert await relay.relay_once() == 10
    async with pool.acquire() as conn:
        for event_id in ids:  # the same events back in the outbox, as if their delete was lost
            async with conn.transaction():
                assert await enqueue(
                    conn, source="halt", subject=SUBJECT, payload=b"again", event_id=event_id
                )
    assert await relay.relay_once() == 10
    assert await stream_ids(bus) == ids
    assert await stream_count(bus) == 10


async def test_connection_lost_between_publish_and_delete(
    pool: asyncpg.Pool, restartable_nats: EmbeddedNats
) -> None:
    """The relay's database session dies mid-batch: rows stay, and the re-publish is dropped by NATS."""
    bus = await connect_bus(restartable_nats.url, name="outbox-crash", connect_deadline=10)
    observer = await pool.acquire()
    try:
        await bus.ensure_streams()
        ids = await enqueue_each(pool, 5)
        relay = OutboxRelay(pool, bus, source="halt")
        await asyncio.to_thread(restartable_nats.stop)
        batch = asyncio.create_task(relay.relay_once())
        await eventually(lambda: _true(relay_in_a_batch(observer)), what="the relay to claim the batch")
        pid = await relay_in_a_batch(observer)
        assert await observer.fetchval("SELECT pg_terminate_backend($1)", pid)
        await asyncio.to_thread(restartable_nats.start)
        with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
            await asyncio.wait_for(batch, timeout=60)
        assert await stream_ids(bus) == ids, "published before the session died"
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 5, "but not deleted"
        assert await relay.relay_once() == 5
        assert await stream_ids(bus) == ids, "the second publish was dropped as a duplicate"
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.release(observer)
        await bus.close()


async def test_two_relays_of_one_source_keep_the_order(pool: asyncpg.Pool, bus: Bus) -> None:
    ids = await enqueue_each(pool, 400)
    relays = [OutboxRelay(pool, bus, source="halt", batch_size=25, poll_interval=0.1) for _ in range(2)]
    for relay in relays:
        await relay.start()
    try:

        async def drained() -> bool:
            return (await relays[0].backlog())[0] == 0

        await eventually(drained, what="the outbox to drain")
    finally:
        for relay in relays:
            await relay.stop()
    assert await stream_ids(bus) == ids


async def test_a_notify_wakes_the_relay_long_before_its_poll(pool: asyncpg.Pool, bus: Bus) -> None:
    relay = OutboxRelay(pool, bus, source="halt", poll_interval=3600)
    await relay.start()
    try:

        async def listening() -> bool:
            return relay.listening

        await eventually(listening, what="the relay to LISTEN")
        await eventually(_idle(relay), what="the start-up pass to finish")
        ids = await enqueue_each(pool, 3)

        async def published() -> bool:
            return await stream_count(bus) == 3

        await eventually(published, within=10, what="the notified relay to publish")
        assert await stream_ids(bus) == ids
    finally:
        await relay.stop()
    assert not relay.running


def _idle(relay: OutboxRelay) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await relay.backlog())[0] == 0

    return check


async def test_relay_keeps_working_across_a_postgres_restart(
    restartable_postgres: EmbeddedPostgres, bus: Bus
) -> None:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade, dsn, discover_migrations()["core"])
    pool = await create_pool(dsn, max_size=4, connect_deadline=10)
    relay = OutboxRelay(pool, bus, source="halt", poll_interval=3600)

    async def listener_pid() -> int | None:
        pid = await pool.fetchval("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN \"mts_outbox\"'")
        return int(pid) if pid is not None else None

    try:
        await relay.start()
        await eventually(lambda: _true(listener_pid()), what="the relay to LISTEN")
        before = await listener_pid()
        await asyncio.to_thread(restartable_postgres.restart)

        async def relistened() -> bool:
            pid = await listener_pid()
            return pid is not None and pid != before and relay.listening

        await eventually(relistened, what="the relay to LISTEN again after the restart")
        ids = await enqueue_each(pool, 5)

        async def published() -> bool:
            return await stream_count(bus) == 5

        # Only LISTEN can deliver within the timeout: the poll interval is an hour.
        await eventually(published, within=15, what="the relay to publish after the restart")
        assert await stream_ids(bus) == ids
    finally:
        await relay.stop()
        await pool.close()


async def test_publish_carries_the_trace_of_the_enqueuing_request(pool: asyncpg.Pool, bus: Bus) -> None:
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    parent = SpanContext(
        trace_id=trace_id, span_id=0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1)
    )
    with trace.use_span(NonRecordingSpan(parent)):
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, source="halt", subject=SUBJECT, payload=b"x", event_id="traced")
    assert await OutboxRelay(pool, bus, source="halt").relay_once() == 1
    headers = (await bus.js.get_msg(STREAM, 1)).headers or {}
    assert headers["traceparent"].split("-")[1] == f"{trace_id:032x}"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"source": ""}, "source"), ({"batch_size": 0}, "batch_size"), ({"poll_interval": 0}, "poll_interval")],
)
async def test_bad_arguments_name_the_field(
    pool: asyncpg.Pool, bus: Bus, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"source": "halt", **kwargs}
    with pytest.raises(ValueError, match=f"^{field}"):
        OutboxRelay(pool, bus, **arguments)  # type: ignore[arg-type]


async def test_a_pool_of_one_connection_is_refused(outbox_url: str, bus: Bus) -> None:
    small = await create_pool(outbox_url, max_size=1)
    try:
        with pytest.raises(ValueError, match=r"^pool: .*max_size must be >= 2"):
            OutboxRelay(small, bus, source="halt")
    finally:
        await small.close()
