"""The suite's own servers: real Postgres and NATS from wheels, on free ports."""

from __future__ import annotations

import asyncpg
import nats

from mts1b_operations.core.testing import EmbeddedNats, EmbeddedPostgres


async def test_fresh_database_is_empty_and_writable(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (41)")
        assert await conn.fetchval("SELECT x + 1 FROM t") == 42
    finally:
        await conn.close()


async def test_nats_has_jetstream_and_starts_clean(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        assert await js.streams_info() == []
        await js.add_stream(name="SMOKE", subjects=["smoke.>"])
        ack = await js.publish("smoke.one", b"x")
        assert ack.stream == "SMOKE"
        assert ack.seq == 1
    finally:
        await nc.close()


async def test_restartable_postgres_keeps_committed_data_across_kill(
    restartable_postgres: EmbeddedPostgres,
) -> None:
    conn = await asyncpg.connect(restartable_postgres.dsn())
    await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
    await conn.close()
    restartable_postgres.kill()
    restartable_postgres.start()
    conn = await asyncpg.connect(restartable_postgres.dsn())
    try:
        assert await conn.fetchval("SELECT x FROM kept") == 7
    finally:
        await conn.close()


async def test_restartable_nats_keeps_stream_across_restart(restartable_nats: EmbeddedNats) -> None:
    nc = await nats.connect(restartable_nats.url)
    js = nc.jetstream()
    await js.add_stream(name="KEEP", subjects=["keep.>"])
    await js.publish("keep.a", b"1")
    await nc.close()
    restartable_nats.restart()
    nc = await nats.connect(restartable_nats.url)
    try:
        info = await nc.jetstream().stream_info("KEEP")
        assert info.state.messages == 1
    finally:
        await nc.close()
