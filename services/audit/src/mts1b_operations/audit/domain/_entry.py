"""Audit entries: the exact bytes that are hashed, their hash, and the checks of an append.

The hashed bytes of entry ``n`` are the canonical JSON (RFC 8785, see ``_canonical``) of::

    {"action": <action>, "actor": <actor>, "data": <data object>, "prev": <hex prev_hash>,
     "seq": <sequence>, "subject": <subject_id>, "ts": <timestamp, integer microseconds>, "v": 1}

(shown in canonical key order; ``v`` is the format version). The hash is the lowercase hex
SHA-256 of those bytes alone: the previous hash is inside them, so
``hash_n = SHA-256(bytes_n)`` where ``bytes_n`` carries ``prev = hash_{n-1}``. The first entry
has sequence 0 and ``prev`` = :data:`GENESIS_PREV_HASH` (64 zeros); sequences are contiguous.

Storage keeps these exact bytes and the hash; :class:`AuditEntry` values for readers are
decoded from the bytes (:func:`entry_from_canonical`), never rebuilt from a jsonb copy.
Decoding is JCS's: a float with an integral value such as ``2.0`` reads back as ``2``, and an
integer literal beyond 2**53 (only ever a double written out in full, since larger ints are
refused) reads back as that double, so decoded data always re-encodes to the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

from ._canonical import canonical_json, canonical_string
from ._errors import AuditInputError, ChainIntegrityError, IntegrityProblem
from ._limits import (
    MAX_ACTION_CHARS,
    MAX_ACTOR_CHARS,
    MAX_DATA_BYTES,
    MAX_SAFE_INTEGER,
    MAX_SUBJECT_ID_CHARS,
)

__all__ = [
    "ENTRY_FORMAT_VERSION",
    "FIRST_SEQUENCE",
    "GENESIS_PREV_HASH",
    "AuditEntry",
    "entry_bytes",
    "entry_from_canonical",
    "entry_hash",
    "make_entry",
    "validate_append",
]

GENESIS_PREV_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

FIRST_SEQUENCE = 0
"""The sequence of the first entry; it is also the entry's leaf index in the Merkle tree."""

ENTRY_FORMAT_VERSION = 1

_HEX_HASH = re.compile(r"[0-9a-f]{64}\Z")
_LONG_DIGIT_RUN = re.compile(rb"[0-9]{16}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One entry of the chain, with the exact canonical bytes its hash covers.

    ``canonical`` is what is hashed and stored; the other fields are what those bytes say
    (when decoded by :func:`entry_from_canonical`) or the stored column copies (when a row is
    handed to :func:`verify_entries`, which checks the two agree).
    """

    sequence: int
    timestamp_us: int
    actor: str
    action: str
    subject_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str
    canonical: bytes

    @property
    def timestamp(self) -> datetime:
        """``timestamp_us`` as an aware UTC datetime (exact to the microsecond)."""
        return _EPOCH + timedelta(microseconds=self.timestamp_us)


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    action: str
    actor: str
    data: dict[str, Any]
    prev: str
    seq: int
    subject: str
    ts: int
    v: Literal[1]


_BODY_DECODER = msgspec.json.Decoder(_Body)


def validate_append(actor: object, action: object, subject_id: object, data: object) -> None:
    """Refuse, naming the field, anything that must not enter the chain.

    ``actor`` and ``action``: non-empty, not only whitespace, at most ``MAX_ACTOR_CHARS`` /
    ``MAX_ACTION_CHARS`` characters. ``subject_id``: may be empty, at most
    ``MAX_SUBJECT_ID_CHARS``. No NUL or lone surrogate anywhere. ``data``: a ``dict`` that
    canonical JSON accepts (see ``_canonical``) and encodes in at most ``MAX_DATA_BYTES``.
    """
    _check_fields(actor, action, subject_id, data)


def entry_bytes(
    sequence: int,
    timestamp_us: int,
    actor: str,
    action: str,
    subject_id: str,
    data: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The canonical bytes of an entry (the exact bytes that are hashed and stored)."""
    actor_json, action_json, subject_json, data_json = _check_fields(actor, action, subject_id, data)
    _check_counter("sequence", sequence)
    _check_counter("timestamp_us", timestamp_us)
    if not isinstance(prev_hash, str) or not _HEX_HASH.match(prev_hash):
        raise AuditInputError("prev_hash", "must be 64 lowercase hex digits (a SHA-256)")
    # The members are written in their canonical (sorted) order; the test suite checks the
    # result against the rfc8785 package byte for byte.
    return b"".join(
        (
            b'{"action":',
            action_json,
            b',"actor":',
            actor_json,
            b',"data":',
            data_json,
            b',"prev":"',
            prev_hash.encode("ascii"),
            b'","seq":',
            str(sequence).encode("ascii"),
            b',"subject":',
            subject_json,
            b',"ts":',
            str(timestamp_us).encode("ascii"),
            b',"v":1}',
        )
    )


def entry_hash(canonical: bytes) -> str:
    """The entry's hash: lowercase hex SHA-256 of its canonical bytes alone (prev is inside)."""
    return hashlib.sha256(canonical).hexdigest()


def make_entry(
    sequence: int,
    timestamp_us: int,
    actor: str,
    action: str,
    subject_id: str,
    data: dict[str, Any],
    prev_hash: str,
) -> AuditEntry:
    """Build the next entry; its fields are read back from its own canonical bytes."""
    canonical = entry_bytes(sequence, timestamp_us, actor, action, subject_id, data, prev_hash)
    return entry_from_canonical(canonical, sequence=sequence)


def entry_from_canonical(canonical: bytes, *, sequence: int) -> AuditEntry:
    """Decode stored canonical bytes into an entry (hash recomputed from the bytes).

    ``sequence`` is the row's sequence; bytes that are not a version-1 entry or that carry
    another sequence raise :class:`ChainIntegrityError`.
    """
    body = _decode(canonical, sequence)
    if body.seq != sequence:
        raise _misplaced(sequence, body.seq)
    return AuditEntry(
        sequence=body.seq,
        timestamp_us=body.ts,
        actor=body.actor,
        action=body.action,
        subject_id=body.subject,
        data=_doubles_as_floats(body.data) if _has_long_number(canonical) else body.data,
        prev_hash=body.prev,
        hash=hashlib.sha256(canonical).hexdigest(),
        canonical=canonical,
    )


def _check_fields(actor: object, action: object, subject_id: object, data: object) -> tuple[bytes, ...]:
    actor_json = _label("actor", actor, MAX_ACTOR_CHARS, allow_empty=False)
    action_json = _label("action", action, MAX_ACTION_CHARS, allow_empty=False)
    subject_json = _label("subject_id", subject_id, MAX_SUBJECT_ID_CHARS, allow_empty=True)
    if not isinstance(data, dict):
        raise AuditInputError("data", f"must be a JSON object (a dict), got {type(data).__name__}")
    data_json = canonical_json(data, path="data", max_bytes=MAX_DATA_BYTES)
    return actor_json, action_json, subject_json, data_json


def _label(field: str, value: object, max_chars: int, *, allow_empty: bool) -> bytes:
    if not isinstance(value, str):
        raise AuditInputError(field, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise AuditInputError(field, "must not be empty or only whitespace")
    if len(value) > max_chars:
        raise AuditInputError(field, f"is {len(value)} characters long, over the limit of {max_chars}")
    return canonical_string(value, path=field).encode("utf-8")


def _check_counter(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AuditInputError(field, f"must be an integer, got {type(value).__name__}")
    if not 0 <= value <= MAX_SAFE_INTEGER:
        raise AuditInputError(field, f"must be between 0 and 2**53 - 1, got {value}")


def _decode(canonical: bytes, sequence: int) -> _Body:
    try:
        return _BODY_DECODER.decode(canonical)
    except msgspec.MsgspecError:
        raise _malformed(sequence) from None


def _has_long_number(canonical: bytes) -> bool:
    # Only the data member can hold such a number. Its key cannot occur inside a JSON string
    # (a quote there is escaped), so its first occurrence is the member itself.
    start = canonical.find(b',"data":')
    end = canonical.rfind(b',"prev":"')
    return _LONG_DIGIT_RUN.search(canonical, start, end) is not None


def _doubles_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _doubles_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_doubles_as_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return float(value)
    return value


def _misplaced(sequence: int, hashed_sequence: int) -> ChainIntegrityError:
    return ChainIntegrityError(
        sequence,
        f"entry misplaced: the row at sequence {sequence} holds the canonical bytes of entry "
        f"{hashed_sequence}; rows were swapped or moved",
        IntegrityProblem.MISPLACED,
    )


def _malformed(sequence: int) -> ChainIntegrityError:
    return ChainIntegrityError(
        sequence,
        "the stored canonical bytes are not a version-1 audit entry",
        IntegrityProblem.MALFORMED,
    )
