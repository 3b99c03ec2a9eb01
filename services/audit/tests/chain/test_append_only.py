"""Append-only is enforced by Postgres itself: privileges for the writer role, triggers for everyone."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import asyncpg
import pytest

from mts1b_operations.audit import AuditChain
from mts1b_operations.core.db import discover_migrations, downgrade, upgrade

REFUSING_STATEMENTS = {
    "UPDATE": "UPDATE audit_entries SET actor = 'mallory' WHERE sequence = 1",
    "DELETE": "DELETE FROM audit_entries WHERE sequence = 1",
    "TRUNCATE": "TRUNCATE audit_entries",
}


async def _entry_rows(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await conn.fetch("SELECT * FROM audit_entries ORDER BY sequence")]


async def test_a_writer_appends_but_cannot_change_or_insert_directly(
    chain_url: str, login_role: Any, admin: asyncpg.Connection, append_many: Any
) -> None:
    writer_url = await login_role(writer=True)
    async with AuditChain(writer_url) as chain:
        await append_many(chain, 3)
    before = await _entry_rows(admin)
    assert [r[0] for r in before] == [0, 1, 2]

    writer = await asyncpg.connect(writer_url)
    try:
        for statement in REFUSING_STATEMENTS.values():
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await writer.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await writer.execute(
                "INSERT INTO audit_entries (sequence, timestamp_us, actor, action, subject_id, data, "
                "canonical, prev_hash, hash) SELECT 3, 1, 'm', 'forge', '', '{}', ''::bytea, hash, "
                "repeat('a', 64) FROM audit_entries WHERE sequence = 2"
            )
        for statement in (
            "UPDATE audit_head SET next_sequence = 0",
            "DELETE FROM audit_checkpoints",
            "INSERT INTO audit_checkpoints VALUES "
            "(1, '00000000', repeat('0', 64), repeat('0', 64), 'x', now())",
            "SELECT audit_check_batch('{}', '{}', '{}', 0, '')",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await writer.execute(statement)
        # What it may do: read, and lock the head through the function.
        assert await writer.fetchval("SELECT count(*) FROM audit_entries") == 3
        async with writer.transaction():
            assert tuple(await writer.fetchrow("SELECT * FROM audit_lock_head()")) == (
                3,
                before[-1][8],
                before[-1][1],
            )
    finally:
        await writer.close()
    assert await _entry_rows(admin) == before


async def test_a_role_outside_the_writer_group_cannot_append(
    chain_url: str, login_role: Any, admin: asyncpg.Connection
) -> None:
    stranger_url = await login_role(writer=False)
    async with AuditChain(stranger_url) as chain:
        results = await asyncio.gather(
            *(chain.append(actor="m", action="forge", subject_id="", data={"i": i}) for i in range(5)),
            return_exceptions=True,
        )
    assert all(isinstance(r, asyncpg.InsufficientPrivilegeError) for r in results), results
    assert await admin.fetchval("SELECT count(*) FROM audit_entries") == 0


@pytest.mark.parametrize("statement", REFUSING_STATEMENTS.values(), ids=REFUSING_STATEMENTS.keys())
async def test_triggers_refuse_even_a_superuser_in_replica_mode(
    chain: AuditChain, admin: asyncpg.Connection, statement: str, append_many: Any
) -> None:
    await append_many(chain, 3)
    await chain.checkpoint()
    before = await _entry_rows(admin)
    await admin.execute("SET session_replication_role = replica")
    try:
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await admin.execute(statement)
        table_statement = statement.replace("audit_entries", "audit_checkpoints").replace(
            "actor = 'mallory' WHERE sequence = 1", "note = 'forged'"
        )
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await admin.execute(table_statement.replace(" WHERE sequence = 1", ""))
    finally:
        await admin.execute("SET session_replication_role = origin")
    assert await _entry_rows(admin) == before
    assert await admin.fetchval("SELECT count(*) FROM audit_checkpoints") == 1


async def test_the_head_row_stays_single_and_only_moves_forward(
    chain: AuditChain, admin: asyncpg.Connection, append_many: Any
) -> None:
    entries = await append_many(chain, 3)
    refused = {
        "DELETE FROM audit_head": "exactly one row",
        "INSERT INTO audit_head VALUES (false, 0, repeat('0', 64))": "exactly one row",
        "TRUNCATE audit_head": "append-only",
        "UPDATE audit_head SET next_sequence = 1": "only move forward",
        f"UPDATE audit_head SET next_sequence = 4, head_hash = '{entries[2].hash}'": "hash of entry 3",
        "UPDATE audit_head SET head_hash = repeat('a', 64)": "hash of entry 2",
    }
    for statement, reason in refused.items():
        with pytest.raises(asyncpg.RestrictViolationError, match=reason):
            await admin.execute(statement)
    assert tuple(await admin.fetchrow("SELECT next_sequence, head_hash FROM audit_head")) == (
        3,
        entries[2].hash,
    )


async def test_audit_append_checks_every_entry_itself(
    chain: AuditChain, login_role: Any, append_many: Any
) -> None:
    """A writer that bypasses the library still cannot append a bad entry."""
    first = (await append_many(chain, 1))[0]
    good = [e.canonical for e in await append_many(chain, 1, start=1)]  # a real entry, already at 1
    writer = await asyncpg.connect(await login_role(writer=True))
    try:
        cases = {
            "hash is not the SHA-256": ([first.canonical], ["a" * 64]),
            "carries sequence 0 where the head expects 2": ([first.canonical], [first.hash]),
            "carries sequence 1 where the head expects 2": (good, [hashlib.sha256(good[0]).hexdigest()]),
        }
        for reason, (canonical, hashes) in cases.items():
            with pytest.raises(asyncpg.CheckViolationError, match=reason):
                await writer.fetchval(
                    "SELECT audit_append($1::bytea[], $2::text[], $3::text[])", canonical, hashes, [None]
                )
        with pytest.raises(asyncpg.InvalidParameterValueError, match="at least one entry"):
            await writer.fetchval("SELECT audit_append('{}'::bytea[], '{}'::text[], '{}'::text[])")
        assert await writer.fetchval("SELECT count(*) FROM audit_entries") == 2
    finally:
        await writer.close()


async def test_the_migration_downgrades_and_upgrades_again(chain_url: str, admin: asyncpg.Connection) -> None:
    audit = discover_migrations()["audit"]
    await asyncio.to_thread(downgrade, chain_url, audit, "0001")
    assert await admin.fetchval("SELECT to_regclass('audit_entries')") is None
    assert await admin.fetchval("SELECT to_regproc('audit_append')") is None
    await asyncio.to_thread(upgrade, chain_url, audit)
    assert await admin.fetchval("SELECT next_sequence FROM audit_head") == 0
    assert (
        await admin.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'mts_audit_writer'") is False
    )
