"""verify() on two processes (a long chain's later half in a worker, same snapshot) finds what one finds.

A chain of 40 entries with checkpoints of 10, 20, 30 and 40; ``parallel_verify_from=20`` makes
verify() hand entries 18..39 to the worker process.
"""

from __future__ import annotations

import sys
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit import AuditChain, AuditEntry, ChainIntegrityError, IntegrityProblem
from mts1b_operations.audit._verify_worker import VerifyWorkerError, verify_range_elsewhere
from mts1b_operations.audit.domain import make_entry
from mts1b_operations.core.db import create_pool

SIZE = 40
SPLIT = 18


@pytest_asyncio.fixture
async def parallel(chain_url: str, signing_key: Ed25519PrivateKey, append_many: Any) -> Any:
    chain = AuditChain(chain_url, signing_key=signing_key, parallel_verify_from=20)
    entries: list[AuditEntry] = []
    for start in range(0, SIZE, 10):
        entries += await append_many(chain, 10, start=start)
        await chain.checkpoint()
    try:
        yield chain, entries
    finally:
        await chain.close()


async def _problem(chain: AuditChain, from_sequence: int = 0) -> tuple[int, IntegrityProblem | None]:
    with pytest.raises(ChainIntegrityError) as caught:
        await chain.verify(from_sequence)
    assert chain.last_verify_split is not None, "the worker took part"
    return caught.value.sequence, caught.value.kind


async def test_an_intact_chain_verifies_on_two_processes(parallel: Any) -> None:
    chain, _ = parallel
    seen: list[int] = []
    assert await chain.verify(progress=lambda done, end: seen.append(done))
    assert chain.last_verify_split == SPLIT
    assert seen[-1] == SIZE
    assert await chain.verify(from_sequence=30)
    assert chain.last_verify_split is None, "10 entries: not worth a second process"


@pytest.mark.parametrize("sequence", [5, SPLIT, SIZE - 1])
async def test_a_changed_byte_is_reported_on_either_side_of_the_split(
    parallel: Any, admin: asyncpg.Connection, sequence: int
) -> None:
    chain, entries = parallel
    await admin.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
    tampered = entries[sequence].canonical.replace(f'"i":{sequence}'.encode(), b'"i":999')
    await admin.execute("UPDATE audit_entries SET canonical = $1 WHERE sequence = $2", tampered, sequence)
    assert await _problem(chain) == (sequence, IntegrityProblem.HASH_MISMATCH)


async def test_a_row_rehashed_at_the_split_breaks_the_link_the_worker_checks(parallel: Any, dba: Any) -> None:
    chain, entries = parallel
    old = entries[SPLIT - 1]
    forged = make_entry(
        old.sequence, old.timestamp_us, old.actor, old.action, old.subject_id, {"i": 0}, old.prev_hash
    )
    await dba.write_entry(forged)
    assert await _problem(chain) == (SPLIT - 1, IntegrityProblem.PREV_LINK_BROKEN)


@pytest.mark.parametrize("sequence", [SPLIT - 1, SPLIT, 30])
async def test_a_deleted_row_is_reported(parallel: Any, dba: Any, sequence: int) -> None:
    chain, _ = parallel
    await dba.conn.execute("DELETE FROM audit_entries WHERE sequence = $1", sequence)
    assert await _problem(chain) == (sequence, IntegrityProblem.SEQUENCE_GAP)


async def test_a_forged_row_past_the_head(parallel: Any, dba: Any) -> None:
    chain, entries = parallel
    forged = make_entry(SIZE, entries[-1].timestamp_us, "mallory", "x", "", {}, entries[-1].hash)
    await dba.write_entry(forged)
    assert await _problem(chain) == (SIZE, IntegrityProblem.HEAD_MISMATCH)


async def test_a_truncated_tail(parallel: Any, dba: Any) -> None:
    chain, entries = parallel
    await dba.conn.execute("DELETE FROM audit_entries WHERE sequence >= 35")
    await dba.set_head(35, entries[34].hash)
    assert await _problem(chain) == (35, IntegrityProblem.TRUNCATED)


async def test_a_consistent_rewrite_in_the_workers_half(parallel: Any, dba: Any) -> None:
    chain, entries = parallel
    rewritten = [
        make_entry(0, e.timestamp_us, e.actor, e.action, e.subject_id, {"i": -1}, "0" * 64)
        for e in entries[20:]
    ]
    await dba.rewrite_from(rewritten, 20, start_prev=entries[19].hash)
    assert await _problem(chain) == (20, IntegrityProblem.CHECKPOINT_MISMATCH)


async def test_without_a_worker_the_range_is_verified_here(
    parallel: Any, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, _ = parallel
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert await chain.verify()
    await admin.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
    await admin.execute("DELETE FROM audit_entries WHERE sequence = 25")
    assert await _problem(chain) == (25, IntegrityProblem.SEQUENCE_GAP)


async def test_the_worker_reports_its_own_failure(chain_url: str) -> None:
    with pytest.raises(VerifyWorkerError, match="snapshot"):
        await verify_range_elsewhere(chain_url, "not-a-snapshot", 1, 2)


async def test_a_chain_on_a_pool_needs_the_dsn_for_the_worker(parallel: Any, chain_url: str) -> None:
    pool = await create_pool(chain_url, min_size=1, max_size=3)
    try:
        on_pool = AuditChain(pool=pool, parallel_verify_from=20)
        assert await on_pool.verify()
        assert on_pool.last_verify_split is None
        with_dsn = AuditChain(chain_url, pool=pool, parallel_verify_from=20)
        assert await with_dsn.verify()
        assert with_dsn.last_verify_split == SPLIT
        await with_dsn.close()
        assert not pool.is_closing(), "a pool the chain was given stays open"
    finally:
        await pool.close()
