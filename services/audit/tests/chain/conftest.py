"""Fixtures for the Postgres-backed chain: a migrated database, chains on it, a tampering DBA."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit import AuditChain, AuditEntry
from mts1b_operations.audit.domain import make_entry
from mts1b_operations.core.db import upgrade_all

WRITER_ROLE = "mts_audit_writer"


@pytest.fixture(autouse=True)
def _no_environment_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test configures its chains explicitly; the environment must not add a key or a URL."""
    for variable in (
        "MTS_DATABASE_URL",
        "MTS_NATS_URL",
        "MTS_AUDIT_SIGNING_KEY",
        "MTS_AUDIT_RETIRED_PUBLIC_KEYS",
    ):
        monkeypatch.delenv(variable, raising=False)


@pytest_asyncio.fixture
async def chain_url(database_url: str) -> str:
    """A fresh database with core's and audit's migrations applied."""
    await asyncio.to_thread(upgrade_all, database_url, ["audit"])
    return database_url


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest_asyncio.fixture
async def chain(chain_url: str, signing_key: Ed25519PrivateKey) -> AsyncIterator[AuditChain]:
    """A chain that signs (and so trusts) checkpoints."""
    chain = AuditChain(chain_url, signing_key=signing_key)
    try:
        yield chain
    finally:
        await chain.close()


@pytest_asyncio.fixture
async def keyless_chain(chain_url: str) -> AsyncIterator[AuditChain]:
    """A chain on the same database that has no key, so it cannot use the checkpoints."""
    chain = AuditChain(chain_url)
    try:
        yield chain
    finally:
        await chain.close()


@pytest_asyncio.fixture
async def admin(chain_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the chain's database (the DBA)."""
    conn = await asyncpg.connect(chain_url)
    try:
        yield conn
    finally:
        await conn.close()


def with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@pytest_asyncio.fixture
async def login_role(chain_url: str) -> AsyncIterator[Any]:
    """Factory: a LOGIN role (dropped afterwards), maybe a member of mts_audit_writer; returns its URL."""
    created: list[str] = []

    async def make(*, writer: bool, grants: tuple[str, ...] = ()) -> str:
        name = f"mts_audit_test_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(chain_url)
        try:
            await conn.execute(f"CREATE ROLE {name} LOGIN" + (f" IN ROLE {WRITER_ROLE}" if writer else ""))
            for grant in grants:
                await conn.execute(grant.format(role=name))
        finally:
            await conn.close()
        created.append(name)
        return with_user(chain_url, name)

    yield make

    # The roles are cluster-wide: drop them (the database goes with the test anyway).
    conn = await asyncpg.connect(chain_url)
    try:
        for name in created:
            await conn.execute(f"DROP OWNED BY {name}")
            await conn.execute(f"DROP ROLE {name}")
    finally:
        await conn.close()


async def _append_many(
    chain: AuditChain, n: int, *, start: int = 0, subject: str = "ord"
) -> list[AuditEntry]:
    entries = []
    for i in range(start, start + n):
        entries.append(
            await chain.append(
                actor="mts1b-oms", action="order_rejected", subject_id=f"{subject}-{i}", data={"i": i}
            )
        )
    return entries


AppendMany = Callable[..., Awaitable[list[AuditEntry]]]


@pytest.fixture
def append_many() -> AppendMany:
    """``await append_many(chain, n, start=0)``: n appends one after the other, data {"i": i}."""
    return _append_many


class Dba:
    """Tampering as a superuser would: disable the append-only triggers, then edit the rows."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def unlock(self) -> None:
        for table in ("audit_entries", "audit_head", "audit_checkpoints"):
            await self.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")

    async def lock(self) -> None:
        for table in ("audit_entries", "audit_head", "audit_checkpoints"):
            await self.conn.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER ALL")

    async def rows(self) -> list[asyncpg.Record]:
        return await self.conn.fetch("SELECT * FROM audit_entries ORDER BY sequence")

    async def write_entry(self, entry: AuditEntry, *, at: int | None = None) -> None:
        """Put ``entry`` (a real, correctly hashed entry) in the row of sequence ``at`` (default: its own)."""
        await self.conn.execute(
            """
            INSERT INTO audit_entries (sequence, timestamp_us, actor, action, subject_id, data,
                                       canonical, prev_hash, hash)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
            ON CONFLICT (sequence) DO UPDATE SET timestamp_us = EXCLUDED.timestamp_us,
                actor = EXCLUDED.actor, action = EXCLUDED.action, subject_id = EXCLUDED.subject_id,
                data = EXCLUDED.data, canonical = EXCLUDED.canonical, prev_hash = EXCLUDED.prev_hash,
                hash = EXCLUDED.hash, source_event_id = NULL
            """,
            entry.sequence if at is None else at,
            entry.timestamp_us,
            entry.actor,
            entry.action,
            entry.subject_id,
            _json(entry.data),
            entry.canonical,
            entry.prev_hash,
            entry.hash,
        )

    async def set_head(self, next_sequence: int, head_hash: str) -> None:
        await self.conn.execute(
            "UPDATE audit_head SET next_sequence = $1, head_hash = $2", next_sequence, head_hash
        )

    async def rewrite_from(
        self, entries: list[AuditEntry], first: int, *, start_prev: str
    ) -> list[AuditEntry]:
        """Write ``entries`` (contents only) from sequence ``first`` on, renumbered and re-linked, and move
        the head to the last: a consistent rewrite, every hash recomputed."""
        prev = start_prev
        rewritten = []
        for offset, old in enumerate(entries):
            new = make_entry(
                first + offset, old.timestamp_us, old.actor, old.action, old.subject_id, old.data, prev
            )
            rewritten.append(new)
            prev = new.hash
        # Move every row touched out of the way first: hash and prev_hash are UNIQUE.
        await self.conn.execute("DELETE FROM audit_entries WHERE sequence >= $1", first)
        for new in rewritten:
            await self.write_entry(new)
        await self.set_head(first + len(rewritten), prev)
        return rewritten


def _json(data: dict[str, Any]) -> str:
    return msgspec.json.encode(data).decode()


@pytest_asyncio.fixture
async def dba(admin: asyncpg.Connection) -> AsyncIterator[Dba]:
    dba = Dba(admin)
    await dba.unlock()
    yield dba


APPENDER = Path(__file__).with_name("_appender.py")


class AppenderProcess:
    """A child process running ``_appender.py``: its own AuditChain, printing each acknowledged append."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.acks: list[tuple[int, str]] = []
        self.done = False

    @classmethod
    async def start(cls, dsn: str, tag: str, *, callers: int, per_caller: int) -> AppenderProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(APPENDER),
            dsn,
            tag,
            str(callers),
            str(per_caller),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        child = cls(process)
        line = await asyncio.wait_for(child._line(), timeout=60)
        assert line == "ready", f"appender {tag} said {line!r}"
        return child

    async def _line(self) -> str | None:
        assert self.process.stdout is not None
        raw = await self.process.stdout.readline()
        if not raw.endswith(b"\n"):
            return None  # end of output (a line cut short by a kill is no acknowledgement)
        return raw.decode().strip()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def read_until(self, acks: int, *, within: float = 60) -> None:
        """Read acknowledgements until ``acks`` of them (or the end of the output)."""

        async def read() -> None:
            while len(self.acks) < acks and not self.done:
                if not await self.read_one():
                    return

        await asyncio.wait_for(read(), timeout=within)

    async def read_one(self) -> bool:
        line = await self._line()
        if line is None:
            return False
        if line == "done":
            self.done = True
            return True
        sequence, entry_hash = line.split()
        self.acks.append((int(sequence), entry_hash))
        return True

    async def read_to_end(self, *, within: float = 60) -> None:
        async def read() -> None:
            while await self.read_one():
                pass

        await asyncio.wait_for(read(), timeout=within)
        await asyncio.wait_for(self.process.wait(), timeout=within)


@pytest_asyncio.fixture
async def spawn_appender() -> AsyncIterator[Callable[..., Awaitable[AppenderProcess]]]:
    """``await spawn_appender(dsn, tag, callers=, per_caller=)``: a ready child (killed at the end)."""
    children: list[AppenderProcess] = []

    async def spawn(dsn: str, tag: str, *, callers: int, per_caller: int) -> AppenderProcess:
        child = await AppenderProcess.start(dsn, tag, callers=callers, per_caller=per_caller)
        children.append(child)
        return child

    yield spawn
    for child in children:
        if child.process.returncode is None:
            child.process.kill()
            await child.process.wait()
