"""Many processes, each with its own AuditChain, appending at once: no gap, no fork, one chain."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from mts1b_operations.audit import AuditChain
from mts1b_operations.audit.domain import GENESIS_PREV_HASH

PROCESSES = 8
APPENDS = 1_000
CALLERS = 20  # concurrent callers in each process, so group commit is at work too


async def test_eight_processes_append_a_thousand_each(
    chain_url: str, admin: asyncpg.Connection, spawn_appender: Any
) -> None:
    children = await asyncio.gather(
        *(
            spawn_appender(chain_url, f"p{n}", callers=CALLERS, per_caller=APPENDS // CALLERS)
            for n in range(PROCESSES)
        )
    )
    for child in children:
        child.go()
    await asyncio.gather(*(child.read_to_end(within=120) for child in children))
    assert all(child.done and child.process.returncode == 0 for child in children)

    total = PROCESSES * APPENDS
    acknowledged = {sequence: entry_hash for child in children for sequence, entry_hash in child.acks}
    assert len(acknowledged) == total, "every caller got an entry of its own"
    rows = await admin.fetch("SELECT sequence, prev_hash, hash, actor FROM audit_entries ORDER BY sequence")
    assert [r["sequence"] for r in rows] == list(range(total)), "sequences are contiguous"
    assert {r["sequence"]: r["hash"] for r in rows} == acknowledged
    assert len({r["prev_hash"] for r in rows}) == total, "every prev_hash is distinct: no fork"
    assert rows[0]["prev_hash"] == GENESIS_PREV_HASH
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, total))
    assert {r["actor"] for r in rows} == {f"proc-p{n}" for n in range(PROCESSES)}
    assert tuple(await admin.fetchrow("SELECT next_sequence, head_hash FROM audit_head")) == (
        total,
        rows[-1]["hash"],
    )
    async with AuditChain(chain_url) as chain:
        assert await chain.verify()
