"""The whole-chain check with signed checkpoints: what the links alone cannot see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from mts1b_operations.audit.domain import (
    EMPTY_ROOT,
    GENESIS_PREV_HASH,
    AuditEntry,
    ChainHead,
    ChainIntegrityError,
    ChainVerifier,
    Checkpoint,
    IntegrityProblem,
    make_entry,
    verify_entries,
)

ChainFactory = Callable[..., list[AuditEntry]]
CheckpointOf = Callable[[list[AuditEntry], int], Checkpoint]


def run(entries: list[AuditEntry], checkpoints: list[Checkpoint], page: int = 4, **finish: Any) -> ChainHead:
    verifier = ChainVerifier(checkpoints)
    for i in range(0, len(entries), page):
        verifier.feed(entries[i : i + page])
    return verifier.finish(**finish)


def failure(entries: list[AuditEntry], checkpoints: list[Checkpoint], **finish: Any) -> ChainIntegrityError:
    with pytest.raises(ChainIntegrityError) as caught:
        run(entries, checkpoints, **finish)
    return caught.value


def links_alone_pass(entries: list[AuditEntry]) -> None:
    verify_entries(entries, expected_prev_hash=GENESIS_PREV_HASH, expected_sequence=0)


def test_an_intact_chain_matches_all_its_checkpoints(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(30)
    checkpoints = [checkpoint_of(entries, size) for size in (0, 1, 7, 8, 19, 30)]
    for page in (1, 3, 30):
        head = run(entries, checkpoints, page=page)
        assert head == ChainHead(next_sequence=30, head_hash=entries[-1].hash)


def test_a_chain_longer_than_its_last_checkpoint_is_fine(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(30)
    assert run(entries, [checkpoint_of(entries, 12)]).next_sequence == 30


def test_a_truncated_tail_is_caught_only_with_a_checkpoint(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(20)
    checkpoint = checkpoint_of(entries, 20)
    truncated = entries[:17]
    links_alone_pass(truncated)
    assert run(truncated, []).next_sequence == 17
    error = failure(truncated, [checkpoint])
    assert (error.sequence, error.kind) == (17, IntegrityProblem.TRUNCATED)
    assert "17..19" in error.reason


def test_a_rewritten_last_entry_is_caught_only_with_a_checkpoint(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(20)
    checkpoints = [checkpoint_of(entries, 10), checkpoint_of(entries, 20)]
    last = entries[-1]
    entries[-1] = make_entry(19, last.timestamp_us, "mts1b-oms", "nothing_happened", "", {}, last.prev_hash)
    links_alone_pass(entries)
    error = failure(entries, checkpoints)
    assert (error.sequence, error.kind) == (10, IntegrityProblem.CHECKPOINT_MISMATCH)
    assert "entries 10..19" in error.reason


def test_a_chain_rewritten_consistently_after_a_point_is_caught(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(40)
    checkpoints = [checkpoint_of(entries, size) for size in (5, 12, 25, 40)]
    forged = make_chain(40, start=12, prev=entries[11].hash, salt="-forged", base=entries[:12])
    assert forged[:12] == entries[:12]
    assert forged[12] != entries[12]
    links_alone_pass(forged)
    error = failure(forged, checkpoints)
    assert (error.sequence, error.kind) == (12, IntegrityProblem.CHECKPOINT_MISMATCH)


def test_a_forged_row_inserted_and_the_rest_relinked_is_caught(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(20)
    checkpoints = [checkpoint_of(entries, 8), checkpoint_of(entries, 20)]
    # Insert a forged entry at sequence 8 and renumber and relink everything after it.
    relinked = entries[:8]
    originals = [make_entry(8, 0, "operator:mallory", "halt_resumed", "firm", {}, "0" * 64), *entries[8:]]
    for offset, original in enumerate(originals):
        relinked.append(
            make_entry(
                8 + offset,
                original.timestamp_us,
                original.actor,
                original.action,
                original.subject_id,
                original.data,
                relinked[-1].hash,
            )
        )
    links_alone_pass(relinked)
    error = failure(relinked, checkpoints)
    assert (error.sequence, error.kind) == (8, IntegrityProblem.CHECKPOINT_MISMATCH)


def test_two_rows_swapped_and_relinked_are_caught(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(20)
    checkpoints = [checkpoint_of(entries, 6), checkpoint_of(entries, 20)]
    order = [*entries[:6], entries[7], entries[6], *entries[8:]]
    relinked = entries[:6]
    for seq, original in enumerate(order[6:], start=6):
        relinked.append(
            make_entry(
                seq,
                original.timestamp_us,
                original.actor,
                original.action,
                original.subject_id,
                original.data,
                relinked[-1].hash,
            )
        )
    links_alone_pass(relinked)
    error = failure(relinked, checkpoints)
    assert (error.sequence, error.kind) == (6, IntegrityProblem.CHECKPOINT_MISMATCH)


def test_a_stored_head_that_disagrees_with_the_last_entry_is_caught(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(10)
    checkpoints = [checkpoint_of(entries, 10)]
    good = ChainHead(next_sequence=10, head_hash=entries[-1].hash)
    assert run(entries, checkpoints, stored_head=good) == good
    for wrong in (
        ChainHead(next_sequence=11, head_hash=entries[-1].hash),
        ChainHead(next_sequence=10, head_hash="e" * 64),
    ):
        error = failure(entries, checkpoints, stored_head=wrong)
        assert (error.sequence, error.kind) == (9, IntegrityProblem.HEAD_MISMATCH)


def test_link_damage_is_reported_before_checkpoints(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(10)
    checkpoints = [checkpoint_of(entries, 10)]
    del entries[3]
    error = failure(entries, checkpoints)
    assert (error.sequence, error.kind) == (3, IntegrityProblem.SEQUENCE_GAP)


def test_verifying_from_a_later_sequence_uses_the_earlier_hashes(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(30)
    checkpoints = [checkpoint_of(entries, 10), checkpoint_of(entries, 30)]
    verifier = ChainVerifier(checkpoints)
    verifier.feed_prefix([e.hash for e in entries[:15]])
    assert verifier.head == ChainHead(next_sequence=15, head_hash=entries[14].hash)
    verifier.feed(entries[15:])
    assert verifier.finish().head_hash == entries[-1].hash

    tampered = list(entries)
    tampered[20] = msgspec.structs.replace(tampered[20], actor="x")
    verifier = ChainVerifier(checkpoints)
    verifier.feed_prefix([e.hash for e in entries[:15]])
    with pytest.raises(ChainIntegrityError) as caught:
        verifier.feed(tampered[15:])
    assert caught.value.sequence == 20


def test_a_rewritten_prefix_is_caught_by_its_checkpoint(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(30)
    checkpoints = [checkpoint_of(entries, 10)]
    forged = make_chain(30, salt="-forged")
    verifier = ChainVerifier(checkpoints)
    with pytest.raises(ChainIntegrityError) as caught:
        verifier.feed_prefix([e.hash for e in forged[:15]])
    assert (caught.value.sequence, caught.value.kind) == (0, IntegrityProblem.CHECKPOINT_MISMATCH)


def test_an_empty_checkpoint_must_be_the_empty_tree(checkpoint_of: CheckpointOf) -> None:
    empty = checkpoint_of([], 0)
    assert empty.root_hash == EMPTY_ROOT
    assert empty.head_hash == GENESIS_PREV_HASH
    assert run([], [empty]).next_sequence == 0
    wrong = msgspec.structs.replace(empty, root_hash=b"\x01" * 32)
    with pytest.raises(ChainIntegrityError) as caught:
        ChainVerifier([wrong])
    assert caught.value.kind is IntegrityProblem.CHECKPOINT_MISMATCH
