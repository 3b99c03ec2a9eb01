"""enqueue(): the event commits or rolls back with the caller's transaction."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.outbox import NOTIFY_CHANNEL, OutboxEvent, enqueue, enqueue_many

SUBJECT = subjects.halt_requested()


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, event_id, source, subject, payload, headers::text FROM outbox ORDER BY id"
    )


async def test_enqueue_commits_with_the_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        assert await enqueue(conn, source="halt", subject=SUBJECT, payload=b"one", event_id="e-1") is True
        await enqueue(
            conn, source="halt", subject=SUBJECT, payload=b"two", event_id="e-2", headers={"k": "v"}
        )
    rows = await _rows(pool)
    assert [(r["event_id"], r["source"], r["subject"], r["payload"]) for r in rows] == [
        ("e-1", "halt", SUBJECT, b"one"),
        ("e-2", "halt", SUBJECT, b"two"),
    ]
    assert rows[0]["id"] < rows[1]["id"]
    assert msgspec.json.decode(rows[1]["headers"]) == {"k": "v"}


async def test_rolled_back_events_are_gone(pool: asyncpg.Pool) -> None:
    async def failing_request() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, source="halt", subject=SUBJECT, payload=b"x", event_id="e-1")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing_request()
    assert await _rows(pool) == []


async def test_a_duplicate_event_id_is_ignored(pool: asyncpg.Pool) -> None:
    for payload in (b"first", b"second"):
        async with pool.acquire() as conn, conn.transaction():
            inserted = await enqueue(conn, source="halt", subject=SUBJECT, payload=payload, event_id="same")
            assert inserted is (payload == b"first")
    assert [r["payload"] for r in await _rows(pool)] == [b"first"]


async def test_a_struct_payload_is_encoded_and_checked(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    beat = schemas.ServiceHeartbeat(
        service="halt",
        instance_id="i-1",
        pid=42,
        host="h",
        http_url="http://127.0.0.1:8101",
        ready=True,
        version="0.1.0",
        started_at=now,
        sent_at=now,
    )
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(
            conn, source="halt", subject=subjects.service_heartbeat("halt"), payload=beat, event_id="b"
        )
    (row,) = await _rows(pool)
    assert schemas.decode(row["payload"], schemas.ServiceHeartbeat) == beat


async def test_enqueue_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match=r"must run inside the caller's transaction"):
            await enqueue(conn, source="halt", subject=SUBJECT, payload=b"x", event_id="e")
    assert await _rows(pool) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": ""}, "source"),
        ({"subject": "mts.v1.operations.halt.*"}, "subject"),
        ({"subject": "has space"}, "subject"),
        ({"subject": "a..b"}, "subject"),
        ({"event_id": " "}, "event_id"),
        ({"headers": {"Nats-Msg-Id": "x"}}, "headers"),
        ({"headers": {"k": 1}}, "headers"),
        ({"payload": "text"}, "payload"),
    ],
)
async def test_bad_arguments_name_the_field(
    pool: asyncpg.Pool, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {
        "source": "halt",
        "subject": SUBJECT,
        "payload": b"x",
        "event_id": "e",
        **kwargs,
    }
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises((ValueError, TypeError), match=f"^{field}"):
            await enqueue(conn, **arguments)  # type: ignore[arg-type]


async def test_insert_notifies_the_relay_channel_with_the_source(pool: asyncpg.Pool) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(*args: object) -> None:
        received.put_nowait(str(args[3]))

    listener = await pool.acquire()
    try:
        await listener.add_listener(NOTIFY_CHANNEL, on_notify)
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, source="audit", subject=SUBJECT, payload=b"x", event_id="e")
        assert await asyncio.wait_for(received.get(), timeout=5) == "audit"
        await listener.remove_listener(NOTIFY_CHANNEL, on_notify)
    finally:
        await pool.release(listener)


async def test_writers_of_one_source_commit_in_id_order(pool: asyncpg.Pool) -> None:
    """A second writer of the same source waits for the first to commit, so ids follow commit order."""
    first = await pool.acquire()
    observer = await pool.acquire()
    try:
        tx = first.transaction()
        await tx.start()
        await enqueue(first, source="halt", subject=SUBJECT, payload=b"1", event_id="first")

        async def second_writer() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, source="halt", subject=SUBJECT, payload=b"2", event_id="second")

        async def other_source_writer() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, source="audit", subject=SUBJECT, payload=b"3", event_id="other")

        await asyncio.wait_for(other_source_writer(), timeout=5)  # another source is not held up
        second = asyncio.create_task(second_writer())
        deadline = time.monotonic() + 10
        while not await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        ):
            assert time.monotonic() < deadline, "the second writer never waited"
            assert not second.done()
            await asyncio.sleep(0.02)
        assert not second.done()
        await tx.commit()
        await asyncio.wait_for(second, timeout=5)
    finally:
        await pool.release(first)
        await pool.release(observer)
    rows = [r for r in await _rows(pool) if r["source"] == "halt"]
    assert [r["event_id"] for r in rows] == ["first", "second"]


async def test_enqueue_many_writes_a_batch_in_order_and_ignores_duplicates(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, source="audit", subject=SUBJECT, payload=b"first", event_id="b-0")
        await enqueue_many(
            conn,
            source="audit",
            events=[
                OutboxEvent(
                    subject=SUBJECT, payload=f"p{i}".encode(), event_id=f"b-{i}", headers={"i": str(i)}
                )
                for i in range(4)
            ],
        )
    rows = await _rows(pool)
    assert [(r["event_id"], r["payload"]) for r in rows] == [
        ("b-0", b"first"),
        ("b-1", b"p1"),
        ("b-2", b"p2"),
        ("b-3", b"p3"),
    ], "b-0 was already waiting, so its second copy is ignored"
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert msgspec.json.decode(rows[3]["headers"]) == {"i": "3"}


async def test_enqueue_many_checks_every_event_before_writing_and_needs_a_transaction(
    pool: asyncpg.Pool,
) -> None:
    good = OutboxEvent(subject=SUBJECT, payload=b"x", event_id="ok-1")
    bad = OutboxEvent(subject="mts.v1.*", payload=b"x", event_id="bad-1")
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the caller's transaction"):
            await enqueue_many(conn, source="audit", events=[good])
        async with conn.transaction():
            with pytest.raises(ValueError, match=r"^subject: "):
                await enqueue_many(conn, source="audit", events=[good, bad])
    assert await _rows(pool) == []
