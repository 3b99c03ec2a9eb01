"""Tampering by a DBA (triggers disabled, rows edited as superuser) is found by verify().

The chain: 40 entries, signed checkpoints of 10, 20, 30 and 40 entries. ``chain`` holds the
signing key and so trusts the checkpoints; ``keyless_chain`` reads the same database without a
key, which is verify() without checkpoints. Damage to an entry shows in the entries themselves;
a truncated tail and a chain rewritten consistently (which is also how a re-linked swap or a
re-linked forged insertion look) only show against the signed checkpoints.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio

from mts1b_operations.audit import AuditChain, AuditEntry, ChainIntegrityError, IntegrityProblem
from mts1b_operations.audit.domain import make_entry

SIZE = 40


@pytest_asyncio.fixture
async def entries(chain: AuditChain, append_many: Any) -> list[AuditEntry]:
    built: list[AuditEntry] = []
    for start in range(0, SIZE, 10):
        built += await append_many(chain, 10, start=start)
        await chain.checkpoint()
    assert await chain.verify()
    return built


async def _problem(chain: AuditChain, from_sequence: int = 0) -> ChainIntegrityError:
    with pytest.raises(ChainIntegrityError) as caught:
        await chain.verify(from_sequence)
    return caught.value


def _changed(entry: AuditEntry, **data: Any) -> AuditEntry:
    """``entry`` with other data, rehashed, same sequence and prev."""
    return make_entry(
        entry.sequence, entry.timestamp_us, entry.actor, entry.action, entry.subject_id, data, entry.prev_hash
    )


# ---------------------------------------------------------------- found in the entries themselves


async def test_a_changed_data_byte(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    tampered = entries[13].canonical.replace(b'"i":13', b'"i":93')
    assert tampered != entries[13].canonical
    await dba.conn.execute("UPDATE audit_entries SET canonical = $1 WHERE sequence = 13", tampered)
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (13, IntegrityProblem.HASH_MISMATCH)
        assert "content was changed" in problem.reason


async def test_a_changed_column_copy(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    await dba.conn.execute("""UPDATE audit_entries SET data = '{"i": 93}' WHERE sequence = 13""")
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (13, IntegrityProblem.FIELDS_MISMATCH)
        assert "data" in problem.reason


async def test_a_changed_row_whose_own_hash_was_recomputed(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    forged = _changed(entries[13], i=93)
    await dba.write_entry(forged)
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (13, IntegrityProblem.PREV_LINK_BROKEN)
        assert "entry 13 was changed and its hash recomputed" in problem.reason


async def test_a_deleted_middle_row(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    await dba.conn.execute("DELETE FROM audit_entries WHERE sequence = 13")
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (13, IntegrityProblem.SEQUENCE_GAP)


async def test_two_rows_swapped(chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any) -> None:
    # hash and prev_hash are UNIQUE: move both rows out of the way, then write each in the other's place.
    await dba.conn.execute("DELETE FROM audit_entries WHERE sequence IN (13, 17)")
    await dba.write_entry(entries[17], at=13)
    await dba.write_entry(entries[13], at=17)
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (13, IntegrityProblem.MISPLACED)
        assert "holds the canonical bytes of entry 17" in problem.reason


async def test_a_forged_row_added_after_the_head(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    forged = make_entry(SIZE, entries[-1].timestamp_us + 1, "mallory", "cover_up", "", {}, entries[-1].hash)
    await dba.write_entry(forged)
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (SIZE, IntegrityProblem.HEAD_MISMATCH)


async def test_the_head_row_disagreeing_with_the_last_entry(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    await dba.set_head(SIZE, entries[-2].hash)
    for verifier in (chain, keyless_chain):
        problem = await _problem(verifier)
        assert (problem.sequence, problem.kind) == (SIZE - 1, IntegrityProblem.HEAD_MISMATCH)
        assert "head mismatch" in problem.reason


# ---------------------------------------------------------------- found only against the checkpoints


async def test_a_truncated_tail(chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any) -> None:
    await dba.conn.execute("DELETE FROM audit_entries WHERE sequence >= 35")
    await dba.set_head(35, entries[34].hash)
    assert await keyless_chain.verify(), "without checkpoints a cleanly truncated chain looks intact"
    problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (35, IntegrityProblem.TRUNCATED)
    assert "entries 35..39 were removed" in problem.reason


async def test_the_chain_rewritten_consistently_after_some_point(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    rewritten = [_changed(e, i=e.data["i"], laundered=True) for e in entries[20:]]
    await dba.rewrite_from(rewritten, 20, start_prev=entries[19].hash)
    assert await keyless_chain.verify(), "every hash and link was recomputed"
    problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (20, IntegrityProblem.CHECKPOINT_MISMATCH)
    # From a later sequence too: the earlier hashes still feed the checkpoints' roots.
    assert (await _problem(chain, from_sequence=33)).sequence == 20


async def test_two_rows_swapped_and_the_chain_relinked(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    reordered = [entries[22], entries[21], *entries[23:]]
    await dba.rewrite_from(reordered, 21, start_prev=entries[20].hash)
    assert await keyless_chain.verify()
    problem = await _problem(chain)
    # The swap lies between the checkpoints of 20 and 30: the first entry not vouched for is 20.
    assert (problem.sequence, problem.kind) == (20, IntegrityProblem.CHECKPOINT_MISMATCH)


async def test_a_forged_row_inserted_and_the_chain_relinked(
    chain: AuditChain, keyless_chain: AuditChain, entries: Any, dba: Any
) -> None:
    forged = make_entry(
        0, entries[24].timestamp_us, "mallory", "order_approved", "ord-x", {"ok": True}, "0" * 64
    )
    await dba.rewrite_from([forged, *entries[25:]], 25, start_prev=entries[24].hash)
    assert await keyless_chain.verify()
    assert await dba.conn.fetchval("SELECT count(*) FROM audit_entries") == SIZE + 1
    problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (20, IntegrityProblem.CHECKPOINT_MISMATCH)


# ---------------------------------------------------------------- the checkpoints themselves


async def test_a_forged_checkpoint_note_is_reported(chain: AuditChain, entries: Any, dba: Any) -> None:
    note = await dba.conn.fetchval("SELECT note FROM audit_checkpoints WHERE tree_size = 20")
    forged = note.replace("\n20\n", "\n21\n")
    await dba.conn.execute("UPDATE audit_checkpoints SET note = $1 WHERE tree_size = 20", forged)
    problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (19, IntegrityProblem.CHECKPOINT_MISMATCH)
    assert "does not verify" in problem.reason


async def test_a_rewrite_before_from_sequence_is_still_caught(
    chain: AuditChain, entries: Any, dba: Any
) -> None:
    await dba.write_entry(_changed(entries[13], i=93))
    problem = await _problem(chain, from_sequence=25)
    assert (problem.sequence, problem.kind) == (10, IntegrityProblem.CHECKPOINT_MISMATCH)


async def test_verify_reports_progress_and_checks_its_argument(chain: AuditChain, entries: Any) -> None:
    seen: list[tuple[int, int]] = []
    assert await chain.verify(from_sequence=5, progress=lambda done, end: seen.append((done, end)))
    assert seen[-1] == (SIZE, SIZE)
    for bad in (-1, SIZE + 1):
        with pytest.raises(ValueError, match="from_sequence"):
            await chain.verify(from_sequence=bad)
