"""Nothing acknowledged is lost, nothing appended twice: killed clients, Postgres restarts, cut replies."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from mts1b_operations.audit import AuditChain, AuditEntry
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import EmbeddedPostgres
from mts1b_operations.core.testing import eventually


async def _assert_chain_holds(conn: asyncpg.Connection, acknowledged: dict[int, str]) -> int:
    """Every acknowledged entry is stored with its hash; the chain is contiguous; returns its length."""
    rows = await conn.fetch("SELECT sequence, hash FROM audit_entries ORDER BY sequence")
    stored = {r["sequence"]: r["hash"] for r in rows}
    missing = {s: h for s, h in acknowledged.items() if stored.get(s) != h}
    assert not missing, f"{len(missing)} acknowledged entries are not stored: {sorted(missing)[:10]}"
    assert sorted(stored) == list(range(len(rows)))
    head = await conn.fetchrow("SELECT next_sequence, head_hash FROM audit_head")
    assert tuple(head) == (len(rows), rows[-1]["hash"])
    return len(rows)


async def test_kill_9_of_the_appending_process_loses_no_acknowledged_entry(
    chain_url: str, admin: asyncpg.Connection, spawn_appender: Any
) -> None:
    child = await spawn_appender(chain_url, "victim", callers=4, per_caller=0)
    child.go()
    await child.read_until(300)
    child.process.kill()
    await child.read_to_end()
    assert child.process.returncode == -9
    assert not child.done
    assert len(child.acks) >= 300
    length = await _assert_chain_holds(admin, dict(child.acks))
    async with AuditChain(chain_url) as chain:
        assert await chain.verify()
        after = await chain.append(actor="svc", action="after.crash", subject_id="", data={})
    assert after.sequence == length


@pytest.mark.parametrize("how", ["restart", "kill -9"])
async def test_appends_resume_across_a_postgres_restart(
    restartable_postgres: EmbeddedPostgres, how: str
) -> None:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade_all, dsn, ["audit"])
    acknowledged: list[AuditEntry] = []
    stop = asyncio.Event()
    async with AuditChain(dsn, retry_deadline=60) as chain:

        async def caller(k: int) -> None:
            i = 0
            while not stop.is_set():
                acknowledged.append(
                    await chain.append(actor="svc", action="tick", subject_id=f"c{k}", data={"k": k, "i": i})
                )
                i += 1

        callers = [asyncio.create_task(caller(k)) for k in range(8)]
        try:
            await eventually(lambda: len(acknowledged) >= 200, what="appends before the restart")
            server_pid = restartable_postgres.pid
            if how == "restart":
                await asyncio.to_thread(restartable_postgres.restart)
            else:
                restartable_postgres.kill()
                await asyncio.to_thread(restartable_postgres.start)
            assert restartable_postgres.pid != server_pid
            before = len(acknowledged)
            await eventually(lambda: len(acknowledged) >= before + 200, what="appends after the restart")
        finally:
            stop.set()
            await asyncio.gather(*callers)  # an append that gave up would raise here
        assert await chain.verify()
    conn = await asyncpg.connect(dsn)
    try:
        length = await _assert_chain_holds(conn, {e.sequence: e.hash for e in acknowledged})
    finally:
        await conn.close()
    assert length == len(acknowledged), "every stored entry was acknowledged once: none appended twice"


class CommitReplyCutter:
    """A TCP proxy to Postgres that, once armed, cuts the connection at the server's reply to COMMIT.

    ``where="before"``: the reply never passes; the transaction is committed, the client never
    hears so. ``where="after"``: the reply passes, then the connection is cut, so the commit is
    reported and the connection breaks as it goes back to the pool.
    """

    def __init__(self, host: str, port: int, *, where: str) -> None:
        self.upstream = (host, port)
        self.where = where
        self.armed = False
        self._reply_passed = False
        self.cut = asyncio.Event()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer),
                self._server_to_client(server_reader, client_writer),
            )
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _server_to_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Every server message: a type byte and a big-endian length that counts itself.
        while True:
            header = await reader.readexactly(5)
            body = await reader.readexactly(int.from_bytes(header[1:], "big") - 4)
            if self.armed and header[:1] == b"C" and body == b"COMMIT\x00":
                if self.where == "before":
                    self.armed = False
                    self.cut.set()
                    raise ConnectionResetError("cut before the COMMIT reply")
                self._reply_passed = True
            writer.write(header + body)
            await writer.drain()
            if self._reply_passed and header[:1] == b"Z":  # ReadyForQuery: the COMMIT is reported
                self._reply_passed = self.armed = False
                self.cut.set()
                raise ConnectionResetError("cut after the COMMIT reply")


@pytest.mark.parametrize("where", ["before", "after"])
async def test_a_connection_cut_at_the_commit_reply_never_appends_twice(
    chain_url: str, admin: asyncpg.Connection, where: str
) -> None:
    parts = urlsplit(chain_url)
    assert parts.hostname
    assert parts.port
    cutter = CommitReplyCutter(parts.hostname, parts.port, where=where)
    port = await cutter.start()
    proxied = parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}", query="sslmode=disable").geturl()
    try:
        async with AuditChain(proxied) as chain:
            await chain.open()
            cutter.armed = True
            entries = await asyncio.gather(
                *(
                    chain.append(actor="svc", action="pay", subject_id=f"p{i}", data={"i": i})
                    for i in range(3)
                )
            )
            assert cutter.cut.is_set(), "the COMMIT reply was cut"
            assert chain.batches == 1, "one batch, resolved inside its retry"
    finally:
        await cutter.close()
    rows = await admin.fetch("SELECT sequence, hash FROM audit_entries ORDER BY sequence")
    assert [(r["sequence"], r["hash"]) for r in rows] == [(e.sequence, e.hash) for e in entries]
    assert await admin.fetchval("SELECT count(*) FROM outbox") == 3


async def test_a_connection_lost_during_commit_before_it_committed_is_appended_once(
    chain: AuditChain, admin: asyncpg.Connection
) -> None:
    """COMMIT waits (a deferred trigger wants a lock the test holds); the backend is terminated
    there, so nothing committed; the retry finds that out and appends the batch afresh."""
    await admin.execute(
        "CREATE FUNCTION test_hold_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$"
    )
    await admin.execute(
        "CREATE CONSTRAINT TRIGGER test_hold_commit AFTER INSERT ON audit_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_hold_commit()"
    )
    await chain.open()
    await admin.execute("SELECT pg_advisory_lock(4242)")
    unlocked = False
    try:
        append = asyncio.create_task(chain.append(actor="svc", action="pay", subject_id="p", data={}))

        async def commit_waiting() -> bool:
            pid = await admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND query ILIKE 'COMMIT%'"
            )
            if pid is None:
                return False
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            return True

        await eventually(commit_waiting, within=20, what="the append's COMMIT to wait")
        await admin.execute("SELECT pg_advisory_unlock(4242)")
        unlocked = True
        entry = await asyncio.wait_for(append, timeout=30)
    finally:
        if not unlocked:
            with contextlib.suppress(Exception):
                await admin.execute("SELECT pg_advisory_unlock(4242)")
    rows = await admin.fetch("SELECT sequence, hash FROM audit_entries")
    assert [(r["sequence"], r["hash"]) for r in rows] == [(0, entry.hash)]
    assert await chain.verify()
