"""The pure chain check over stored rows: sequences, hashes, column copies and prev links."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

from ._entry import _BODY_DECODER, FIRST_SEQUENCE, AuditEntry, _Body, _malformed, _misplaced
from ._errors import ChainIntegrityError, IntegrityProblem

__all__ = ["ChainHead", "verify_entries"]


class ChainHead(msgspec.Struct, frozen=True, kw_only=True):
    """Where a verified stretch of chain ends: feed it to the next :func:`verify_entries` call."""

    next_sequence: int
    """The sequence the next entry must carry."""
    head_hash: str
    """The hash of the last verified entry (the prev_hash the next entry must carry)."""


# Comparing encodings, not ``==``: Python's ``==`` holds True == 1, which would let a jsonb copy
# that turned ``true`` into ``1`` pass.
_SORTED_ENCODER = msgspec.json.Encoder(order="sorted")


def verify_entries(
    entries: Iterable[AuditEntry], *, expected_prev_hash: str, expected_sequence: int
) -> ChainHead:
    """Check a contiguous, ordered run of stored entries; raise at the first bad one.

    ``entries`` are stored rows: each one's ``canonical`` bytes and ``hash`` as stored, and the
    other fields as the stored column copies. For each entry, in this order: the sequence is
    the expected one (else a gap: a deleted row; or a repeat / step back); SHA-256 of the
    canonical bytes equals the stored hash (else the content changed); the canonical bytes
    decode to a version-1 entry for this very sequence (else rows were swapped or moved);
    every column copy equals what the bytes say (else a column was changed); ``prev_hash``
    equals the previous entry's hash (else the previous entry was rewritten with a
    recomputed hash; that entry, ``sequence - 1``, is reported).

    ``expected_prev_hash`` / ``expected_sequence`` are what the first entry must carry
    (``GENESIS_PREV_HASH`` / ``FIRST_SEQUENCE`` from the start). Returns the :class:`ChainHead`
    after the last entry, to continue with the next page.
    """
    sha256 = hashlib.sha256
    decode = _BODY_DECODER.decode
    encode = _SORTED_ENCODER.encode
    prev = expected_prev_hash
    expected = expected_sequence
    for entry in entries:
        sequence = entry.sequence
        if sequence != expected:
            raise _sequence_error(sequence, expected)
        canonical = entry.canonical
        digest = sha256(canonical).hexdigest()
        if digest != entry.hash:
            raise ChainIntegrityError(
                sequence,
                f"hash mismatch: the stored hash {entry.hash[:16]}... is not the SHA-256 of the stored "
                f"canonical bytes ({digest[:16]}...); the entry's content was changed",
                IntegrityProblem.HASH_MISMATCH,
            )
        try:
            body = decode(canonical)
        except msgspec.MsgspecError:
            raise _malformed(sequence) from None
        if body.seq != sequence:
            raise _misplaced(sequence, body.seq)
        if (
            body.prev != entry.prev_hash
            or body.ts != entry.timestamp_us
            or body.actor != entry.actor
            or body.action != entry.action
            or body.subject != entry.subject_id
            or encode(body.data) != _encode_or_none(entry.data)
        ):
            _check_columns(entry, body)
        if entry.prev_hash != prev:
            raise _broken_link(sequence, entry.prev_hash, prev)
        prev = digest
        expected += 1
    return ChainHead(next_sequence=expected, head_hash=prev)


def _check_columns(entry: AuditEntry, body: _Body) -> None:
    columns: tuple[tuple[str, object, object], ...] = (
        ("prev_hash", entry.prev_hash, body.prev),
        ("timestamp_us", entry.timestamp_us, body.ts),
        ("actor", entry.actor, body.actor),
        ("action", entry.action, body.action),
        ("subject_id", entry.subject_id, body.subject),
        ("data", entry.data, body.data),
    )
    for name, stored, hashed in columns:
        if not _same_json(stored, hashed):
            raise ChainIntegrityError(
                entry.sequence,
                f"fields disagree with the hashed bytes: the stored {name} column is not what the "
                "entry's canonical bytes say; the column copy was changed",
                IntegrityProblem.FIELDS_MISMATCH,
            )


def _encode_or_none(value: object) -> bytes | None:
    try:
        return _SORTED_ENCODER.encode(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _same_json(a: object, b: object) -> bool:
    """Strict JSON equality, except that numbers compare as the doubles JCS says they are.

    A jsonb copy may print a double in full decimal (1e21 as 1 followed by 21 zeros, read
    back as an int); that is the same JSON number, not a changed column. ``true`` is not 1.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        try:
            return float(a) == float(b)
        except OverflowError:
            return False
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return a is None and b is None


def _sequence_error(found: int, expected: int) -> ChainIntegrityError:
    if found > expected:
        missing = f"{expected}" if found == expected + 1 else f"{expected}..{found - 1}"
        return ChainIntegrityError(
            expected,
            f"sequence gap: entry {missing} is missing (the next stored entry is {found}); "
            "an entry was deleted",
            IntegrityProblem.SEQUENCE_GAP,
        )
    return ChainIntegrityError(
        found,
        f"sequence out of order: entry {found} appears where {expected} was expected; "
        "an entry is duplicated or the rows are out of order",
        IntegrityProblem.SEQUENCE_ORDER,
    )


def _broken_link(sequence: int, recorded: str, actual: str) -> ChainIntegrityError:
    if sequence == FIRST_SEQUENCE:
        return ChainIntegrityError(
            sequence,
            f"prev link broken: the first entry's prev_hash is {recorded[:16]}..., not the expected "
            f"{actual[:16]}...",
            IntegrityProblem.PREV_LINK_BROKEN,
        )
    return ChainIntegrityError(
        sequence - 1,
        f"prev link broken: entry {sequence} records prev_hash {recorded[:16]}... but entry "
        f"{sequence - 1} hashes to {actual[:16]}...; entry {sequence - 1} was changed and its hash "
        f"recomputed (or entry {sequence}'s link was forged)",
        IntegrityProblem.PREV_LINK_BROKEN,
    )
