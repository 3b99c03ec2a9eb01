"""append(): entries, input checks, idempotent source events, group commit, the outbox events."""

from __future__ import annotations

import asyncio
import hashlib
import math
from typing import Any

import asyncpg
import pytest

from mts1b_operations.audit import (
    AuditChain,
    AuditEntry,
    AuditInputError,
    EntryNotFoundError,
)
from mts1b_operations.audit.domain import GENESIS_PREV_HASH, MAX_DATA_BYTES, entry_bytes, make_entry
from mts1b_operations.core import schemas, subjects


async def test_append_returns_the_committed_entry(chain: AuditChain, admin: asyncpg.Connection) -> None:
    entry = await chain.append(
        actor="mts1b-oms", action="order_rejected", subject_id="ord-abc", data={"reason": "drawdown_halt"}
    )
    assert (entry.sequence, entry.prev_hash) == (0, GENESIS_PREV_HASH)
    assert (entry.actor, entry.action, entry.subject_id, entry.data) == (
        "mts1b-oms",
        "order_rejected",
        "ord-abc",
        {"reason": "drawdown_halt"},
    )
    assert entry.canonical == entry_bytes(
        0,
        entry.timestamp_us,
        "mts1b-oms",
        "order_rejected",
        "ord-abc",
        {"reason": "drawdown_halt"},
        GENESIS_PREV_HASH,
    )
    assert entry.hash == hashlib.sha256(entry.canonical).hexdigest()
    row = await admin.fetchrow("SELECT * FROM audit_entries WHERE sequence = 0")
    assert (bytes(row["canonical"]), row["hash"], row["prev_hash"]) == (
        entry.canonical,
        entry.hash,
        GENESIS_PREV_HASH,
    )
    assert (row["actor"], row["action"], row["subject_id"], row["timestamp_us"]) == (
        "mts1b-oms",
        "order_rejected",
        "ord-abc",
        entry.timestamp_us,
    )
    assert tuple(await admin.fetchrow("SELECT next_sequence, head_hash FROM audit_head")) == (1, entry.hash)

    second = await chain.append(actor="operator:alice", action="halt.requested", subject_id="", data={})
    assert (second.sequence, second.prev_hash) == (1, entry.hash)
    assert second.timestamp_us >= entry.timestamp_us


async def test_timestamps_never_go_back_along_the_chain(chain: AuditChain, admin: asyncpg.Connection) -> None:
    """A writer whose clock runs an hour ahead appended last: the next entries do not go back in time."""
    first = await chain.append(actor="svc", action="a", subject_id="", data={})
    ahead = make_entry(1, first.timestamp_us + 3_600_000_000, "svc-ahead", "a", "", {}, first.hash)
    await admin.fetchval(
        "SELECT audit_append($1::bytea[], $2::text[], $3::text[])", [ahead.canonical], [ahead.hash], [None]
    )
    after = await chain.append(actor="svc", action="b", subject_id="", data={})
    assert after.sequence == 2
    assert after.timestamp_us == ahead.timestamp_us
    assert await chain.verify()


async def test_reads_return_what_was_appended(chain: AuditChain, append_many: Any) -> None:
    entries = await append_many(chain, 5)
    again = await chain.append(
        actor="mts1b-oms", action="order_filled", subject_id="ord-2", data={"qty": 1.5}
    )
    assert await chain.get_trail("ord-2") == [entries[2], again]
    assert await chain.get_trail("ord-2", limit=1) == [entries[2]]
    assert await chain.get_trail("nobody") == []
    assert await chain.entries() == [*entries, again]
    assert await chain.entries(from_sequence=3, limit=2) == entries[3:5]
    assert await chain.get_entry(5) == again
    with pytest.raises(EntryNotFoundError, match="sequence: no audit entry 6"):
        await chain.get_entry(6)
    for bad, field in (
        (lambda: chain.entries(from_sequence=-1), "from_sequence"),
        (lambda: chain.entries(limit=0), "limit"),
        (lambda: chain.entries(limit=10_001), "limit"),
        (lambda: chain.entries(from_sequence="3"), "from_sequence"),  # type: ignore[arg-type]
        (lambda: chain.get_trail(7), "subject_id"),  # type: ignore[arg-type]
    ):
        with pytest.raises(AuditInputError) as caught:
            await bad()
        assert caught.value.field == field


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"data": {"x": {1, 2}}}, "data.x", "not a JSON type"),
    ({"data": ["not", "an", "object"]}, "data", "must be a JSON object"),
    ({"data": {"px": math.nan}}, "data.px", "NaN"),
    ({"data": {"px": math.inf}}, "data.px", "infinities"),
    ({"data": {"note": "a\x00b"}}, "data.note", "NUL"),
    ({"data": {"note": "\ud800"}}, "data.note", "lone surrogate"),
    ({"data": {"big": 2**60}}, "data.big", "beyond"),
    ({"data": {"blob": "x" * MAX_DATA_BYTES}}, "data", "over the limit"),
    ({"actor": ""}, "actor", "must not be empty"),
    ({"actor": "   "}, "actor", "must not be empty"),
    ({"action": ""}, "action", "must not be empty"),
    ({"action": None}, "action", "must be a string"),
    ({"subject_id": "ord\x00"}, "subject_id", "NUL"),
    ({"source_event_id": ""}, "source_event_id", "must not be empty"),
    ({"source_event_id": "e\x00"}, "source_event_id", "NUL"),
    ({"source_event_id": 5}, "source_event_id", "must be a string"),
]


@pytest.mark.parametrize(("change", "field", "problem"), BAD_INPUT, ids=[f"{c[1]}-{c[2]}" for c in BAD_INPUT])
async def test_bad_input_is_refused_naming_the_field_before_anything_is_written(
    chain: AuditChain, admin: asyncpg.Connection, change: dict[str, Any], field: str, problem: str
) -> None:
    kwargs: dict[str, Any] = {"actor": "mts1b-oms", "action": "order_rejected", "subject_id": "o", "data": {}}
    kwargs.update(change)
    with pytest.raises(AuditInputError, match=problem) as caught:
        await chain.append(**kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert await admin.fetchval("SELECT count(*) FROM audit_entries") == 0
    assert await admin.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_repeated_source_event_id_returns_the_first_entry(
    chain: AuditChain, admin: asyncpg.Connection
) -> None:
    first = await chain.append(
        actor="a", action="halt.requested", subject_id="h-1", data={"n": 1}, source_event_id="e-1"
    )
    repeat = await chain.append(
        actor="a", action="halt.requested", subject_id="h-1", data={"n": 2}, source_event_id="e-1"
    )
    assert repeat == first
    # Many deliveries of the same event at once, in one batch or across batches: still one entry.
    together = await asyncio.gather(
        *(
            chain.append(
                actor="a", action="x", subject_id="s", data={"k": k % 3}, source_event_id=f"e-{2 + k % 3}"
            )
            for k in range(30)
        )
    )
    assert {e.sequence for e in together} == {1, 2, 3}
    assert [together[k].sequence for k in range(3)] == [together[k + 3].sequence for k in range(3)]
    assert await admin.fetchval("SELECT count(*) FROM audit_entries") == 4
    assert await admin.fetchval("SELECT count(*) FROM outbox") == 4
    assert await chain.verify()


async def test_concurrent_appends_share_transactions_and_each_caller_gets_its_own_entry(
    chain: AuditChain, admin: asyncpg.Connection
) -> None:
    n = 300
    entries = await asyncio.gather(
        *(
            chain.append(actor="mts1b-oms", action="order_new", subject_id=f"ord-{i}", data={"i": i})
            for i in range(n)
        )
    )
    assert [e.data["i"] for e in entries] == list(range(n))
    assert all(e.subject_id == f"ord-{i}" for i, e in enumerate(entries))
    assert sorted(e.sequence for e in entries) == list(range(n))
    assert chain.batches < n / 4, f"{chain.batches} transactions for {n} concurrent appends"
    prevs = await admin.fetch("SELECT prev_hash FROM audit_entries ORDER BY sequence")
    assert len({r[0] for r in prevs}) == n
    assert await chain.verify()


async def test_each_entry_enqueues_its_appended_event_in_the_same_transaction(
    chain: AuditChain, admin: asyncpg.Connection
) -> None:
    entries = await asyncio.gather(
        *(chain.append(actor="mts1b-oms", action="order_new", subject_id=f"o{i}", data={}) for i in range(5)),
        chain.append(actor="mts1b-oms", action="order_new", subject_id="", data={}),
    )
    rows = await admin.fetch("SELECT event_id, source, subject, payload FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [
        f"audit-{e.sequence}" for e in sorted(entries, key=lambda e: e.sequence)
    ]
    assert {r["source"] for r in rows} == {"audit"}
    assert {r["subject"] for r in rows} == {subjects.audit_appended()}
    by_sequence = {e.sequence: e for e in entries}
    for row in rows:
        event = schemas.decode(row["payload"], schemas.AuditAppended)
        entry = by_sequence[event.sequence]
        assert (event.hash, event.actor, event.action, event.timestamp_us) == (
            entry.hash,
            entry.actor,
            entry.action,
            entry.timestamp_us,
        )
        assert event.subject_id == (entry.subject_id or None)


async def test_a_failed_batch_fails_every_caller_and_writes_nothing(
    chain_url: str, login_role: Any, admin: asyncpg.Connection
) -> None:
    """This role may append entries but not enqueue their events: the whole transaction rolls back."""
    url = await login_role(
        writer=False,
        grants=(
            "GRANT SELECT ON audit_entries, audit_head, audit_checkpoints TO {role}",
            "GRANT EXECUTE ON FUNCTION audit_lock_head(), audit_append(bytea[], text[], text[]) TO {role}",
        ),
    )
    async with AuditChain(url) as chain:
        results = await asyncio.gather(
            *(chain.append(actor="a", action="b", subject_id=f"s{i}", data={}) for i in range(20)),
            return_exceptions=True,
        )
        assert chain.batches >= 1
    assert all(isinstance(r, asyncpg.InsufficientPrivilegeError) and "outbox" in str(r) for r in results), (
        results
    )
    assert await admin.fetchval("SELECT count(*) FROM audit_entries") == 0
    assert await admin.fetchval("SELECT next_sequence FROM audit_head") == 0


async def test_sixteen_simultaneous_first_appends_make_one_genesis(
    chain_url: str, admin: asyncpg.Connection
) -> None:
    chains = [AuditChain(chain_url, pool_size=2) for _ in range(16)]
    try:
        await asyncio.gather(*(c.open() for c in chains))
        go = asyncio.Event()

        async def first_append(chain: AuditChain, i: int) -> AuditEntry:
            await go.wait()
            return await chain.append(actor=f"svc-{i}", action="started", subject_id="", data={"i": i})

        tasks = [asyncio.create_task(first_append(c, i)) for i, c in enumerate(chains)]
        go.set()
        entries = await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.close() for c in chains))
    assert sorted(e.sequence for e in entries) == list(range(16))
    assert [e for e in entries if e.prev_hash == GENESIS_PREV_HASH] == [e for e in entries if e.sequence == 0]
    rows = await admin.fetch("SELECT sequence, prev_hash, hash FROM audit_entries ORDER BY sequence")
    assert [r["sequence"] for r in rows] == list(range(16))
    assert sum(r["prev_hash"] == GENESIS_PREV_HASH for r in rows) == 1
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, 16))
    async with AuditChain(chain_url) as verifier:
        assert await verifier.verify()


async def test_validation_of_the_constructor_names_the_argument(chain_url: str) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dsn": "mysql://x"}, "dsn"),
        ({"nats_url": "http://x"}, "nats_url"),
        ({"source": " "}, "source"),
        ({"origin": "my audit"}, "origin"),
        ({"origin": "a+b"}, "origin"),
        ({"retry_deadline": 0}, "retry_deadline"),
        ({"pool_size": 1}, "pool_size"),
        ({"max_batch": 0}, "max_batch"),
        ({"linger": -1}, "linger"),
        ({"verifier_key": "not-a-key"}, "verifier_key"),
        ({"signing_key": 42}, "signing_key"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            AuditChain(**kwargs)
