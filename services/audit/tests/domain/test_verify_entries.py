"""The pure chain check: every kind of tampering is caught and names the first bad entry."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mts1b_operations.audit.domain import (
    GENESIS_PREV_HASH,
    AuditEntry,
    ChainHead,
    ChainIntegrityError,
    IntegrityProblem,
    make_entry,
    verify_entries,
)

ChainFactory = Callable[..., list[AuditEntry]]


def check(entries: list[AuditEntry], *, prev: str = GENESIS_PREV_HASH, start: int = 0) -> ChainHead:
    return verify_entries(entries, expected_prev_hash=prev, expected_sequence=start)


def broken(entries: list[AuditEntry], **kwargs: Any) -> ChainIntegrityError:
    with pytest.raises(ChainIntegrityError) as caught:
        check(entries, **kwargs)
    return caught.value


def rewritten(entry: AuditEntry, **changes: Any) -> AuditEntry:
    """The entry with new content, consistently re-encoded and re-hashed (what an insider could do)."""
    fields: dict[str, Any] = {
        "sequence": entry.sequence,
        "timestamp_us": entry.timestamp_us,
        "actor": entry.actor,
        "action": entry.action,
        "subject_id": entry.subject_id,
        "data": entry.data,
        "prev_hash": entry.prev_hash,
    }
    fields.update(changes)
    return make_entry(**fields)


def test_an_intact_chain_verifies_and_returns_its_head(make_chain: ChainFactory) -> None:
    entries = make_chain(50)
    assert check(entries) == ChainHead(next_sequence=50, head_hash=entries[-1].hash)
    assert check([]) == ChainHead(next_sequence=0, head_hash=GENESIS_PREV_HASH)


def test_pages_verify_like_the_whole(make_chain: ChainFactory) -> None:
    entries = make_chain(50)
    head = ChainHead(next_sequence=0, head_hash=GENESIS_PREV_HASH)
    for i in range(0, 50, 7):
        head = verify_entries(
            entries[i : i + 7], expected_prev_hash=head.head_hash, expected_sequence=head.next_sequence
        )
    assert head == check(entries)


def test_a_changed_data_byte_is_a_hash_mismatch(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    victim = entries[4]
    entries[4] = msgspec.structs.replace(victim, canonical=victim.canonical.replace(b'"qty":4', b'"qty":5'))
    error = broken(entries)
    assert (error.sequence, error.kind) == (4, IntegrityProblem.HASH_MISMATCH)
    assert "hash mismatch" in error.reason
    assert "sequence 4" in str(error)


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    entries[4] = rewritten(entries[4], data={"reason": "nothing to see"})
    error = broken(entries)
    assert (error.sequence, error.kind) == (4, IntegrityProblem.PREV_LINK_BROKEN)
    assert "entry 4 was changed and its hash recomputed" in error.reason


def test_a_forged_replacement_linked_to_its_predecessor_is_caught(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    entries[6] = rewritten(entries[6], actor="operator:mallory", action="resume")
    error = broken(entries)
    assert (error.sequence, error.kind) == (6, IntegrityProblem.PREV_LINK_BROKEN)


def test_a_deleted_middle_row_is_a_gap_at_its_sequence(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    del entries[5]
    error = broken(entries)
    assert (error.sequence, error.kind) == (5, IntegrityProblem.SEQUENCE_GAP)
    assert "entry 5 is missing" in error.reason


def test_several_deleted_rows_name_the_first(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    del entries[2:5]
    error = broken(entries)
    assert (error.sequence, error.kind) == (2, IntegrityProblem.SEQUENCE_GAP)
    assert "2..4" in error.reason


def test_a_deleted_first_row_is_a_gap_at_zero(make_chain: ChainFactory) -> None:
    error = broken(make_chain(5)[1:])
    assert (error.sequence, error.kind) == (0, IntegrityProblem.SEQUENCE_GAP)


def test_swapped_rows_are_misplaced(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    a, b = entries[3], entries[4]
    # Everything but the sequence column changes place.
    entries[3] = msgspec.structs.replace(b, sequence=3)
    entries[4] = msgspec.structs.replace(a, sequence=4)
    error = broken(entries)
    assert (error.sequence, error.kind) == (3, IntegrityProblem.MISPLACED)
    assert "canonical bytes of entry 4" in error.reason


def test_a_duplicated_or_out_of_order_row_is_refused(make_chain: ChainFactory) -> None:
    entries = make_chain(10)
    duplicated = [*entries[:6], entries[5], *entries[6:]]
    error = broken(duplicated)
    assert (error.sequence, error.kind) == (5, IntegrityProblem.SEQUENCE_ORDER)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "someone-else"),
        ("action", "order_accepted"),
        ("subject_id", "ord-x"),
        ("timestamp_us", 1),
        ("prev_hash", "f" * 64),
        ("data", {"reason": "r3", "qty": 3, "px": 0.75, "ok": 1}),
        ("data", {"reason": "r3", "qty": 3, "px": 0.75}),
        ("data", {"reason": "r3", "qty": 3.5, "px": 0.75, "ok": False}),
    ],
)
def test_a_changed_column_copy_is_caught(make_chain: ChainFactory, column: str, value: object) -> None:
    entries = make_chain(6)
    assert entries[3].data == {"reason": "r3", "qty": 3, "px": 0.75, "ok": False}
    entries[3] = msgspec.structs.replace(entries[3], **{column: value})
    error = broken(entries)
    assert (error.sequence, error.kind) == (3, IntegrityProblem.FIELDS_MISMATCH)
    assert f"stored {column} column" in error.reason


def test_true_turned_into_one_in_the_data_copy_is_caught(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    assert entries[2].data["ok"] is True
    entries[2] = msgspec.structs.replace(entries[2], data={**entries[2].data, "ok": 1})
    assert entries[2].data == make_chain(6)[2].data  # Python's == cannot tell them apart
    assert broken(entries).kind is IntegrityProblem.FIELDS_MISMATCH


def test_a_jsonb_copy_that_prints_a_double_in_full_still_agrees() -> None:
    entry = make_entry(0, 0, "a", "b", "", {"big": 1e21, "small": 1e-7}, GENESIS_PREV_HASH)
    # Postgres jsonb prints 1e21 as 1000000000000000000000, which reads back as an int.
    from_jsonb = msgspec.json.decode(b'{"big": 1000000000000000000000, "small": 0.0000001}')
    stored = msgspec.structs.replace(entry, data=from_jsonb)
    assert check([stored]).next_sequence == 1


def test_bytes_that_are_no_entry_but_hash_right_are_malformed() -> None:
    canonical = b'{"hello":"world"}'
    fake = AuditEntry(
        sequence=0,
        timestamp_us=0,
        actor="a",
        action="b",
        subject_id="",
        data={},
        prev_hash=GENESIS_PREV_HASH,
        hash=hashlib.sha256(canonical).hexdigest(),
        canonical=canonical,
    )
    assert broken([fake]).kind is IntegrityProblem.MALFORMED


def test_a_genesis_entry_with_another_prev_is_broken_at_zero() -> None:
    entry = make_entry(0, 0, "a", "b", "", {}, "a" * 64)
    error = broken([entry])
    assert (error.sequence, error.kind) == (0, IntegrityProblem.PREV_LINK_BROKEN)


def test_a_page_that_does_not_continue_the_previous_one_names_the_entry_before(
    make_chain: ChainFactory,
) -> None:
    entries = make_chain(10)
    error = broken(entries[5:], prev="b" * 64, start=5)
    assert (error.sequence, error.kind) == (4, IntegrityProblem.PREV_LINK_BROKEN)


def test_entries_built_from_canonical_bytes_verify(make_chain: ChainFactory) -> None:
    entries = make_chain(5)
    # A row as the store gives it: the exact bytes plus column copies decoded elsewhere.
    rows = [
        AuditEntry(
            sequence=e.sequence,
            timestamp_us=e.timestamp_us,
            actor=e.actor,
            action=e.action,
            subject_id=e.subject_id,
            data=msgspec.json.decode(msgspec.json.encode(e.data)),
            prev_hash=e.prev_hash,
            hash=e.hash,
            canonical=bytes(e.canonical),
        )
        for e in entries
    ]
    assert check(rows).head_hash == entries[-1].hash


@settings(max_examples=60)
@given(st.integers(2, 12), st.data())
def test_any_changed_byte_of_any_entry_is_a_hash_mismatch_there(n: int, data: st.DataObject) -> None:
    entries = build_chain(n)
    index = data.draw(st.integers(0, n - 1))
    canonical = entries[index].canonical
    position = data.draw(st.integers(0, len(canonical) - 1))
    changed = (
        canonical[:position]
        + bytes([canonical[position] ^ data.draw(st.integers(1, 255))])
        + canonical[position + 1 :]
    )
    entries[index] = msgspec.structs.replace(entries[index], canonical=changed)
    error = broken(entries)
    assert (error.sequence, error.kind) == (index, IntegrityProblem.HASH_MISMATCH)


def build_chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS_PREV_HASH
    for seq in range(n):
        entries.append(make_entry(seq, seq, "svc", "tick", "", {"n": seq, "s": "x" * seq}, prev))
        prev = entries[-1].hash
    return entries


def test_the_error_survives_pickling() -> None:
    error = ChainIntegrityError(7, "why", IntegrityProblem.SEQUENCE_GAP)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.sequence, copy.reason, copy.kind, str(copy)) == (
        7,
        "why",
        IntegrityProblem.SEQUENCE_GAP,
        str(error),
    )
