"""The errors of the audit domain: bad input, a broken chain, a bad note, a bad proof, a bad key."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuditInputError",
    "ChainIntegrityError",
    "IntegrityProblem",
    "NoteError",
    "NoteFormatError",
    "NoteSignatureError",
    "ProofError",
    "SigningKeyError",
]


class AuditInputError(ValueError):
    """An append was refused before anything was written; ``field`` names the culprit.

    ``field`` is a JSON path into the call, e.g. ``"actor"`` or ``"data.items[3].name"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

    def __reduce__(self) -> tuple[type[AuditInputError], tuple[str, str]]:
        return (type(self), (self.field, self.problem))


class IntegrityProblem(StrEnum):
    """What kind of damage :class:`ChainIntegrityError` found (the ``.kind`` attribute)."""

    HASH_MISMATCH = "hash_mismatch"
    """The stored hash is not the SHA-256 of the stored canonical bytes: the entry's content changed."""
    FIELDS_MISMATCH = "fields_mismatch"
    """A stored column (actor, data, ...) disagrees with what the hashed canonical bytes say."""
    MISPLACED = "misplaced"
    """The canonical bytes carry another sequence than the row they sit in: rows swapped or moved."""
    PREV_LINK_BROKEN = "prev_link_broken"
    """An entry's prev_hash is not its predecessor's hash: the predecessor was rewritten and rehashed."""
    SEQUENCE_GAP = "sequence_gap"
    """A sequence number is missing: an entry was deleted."""
    SEQUENCE_ORDER = "sequence_order"
    """A sequence number repeats or goes backwards."""
    MALFORMED = "malformed"
    """The stored canonical bytes are not a version-1 entry at all."""
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    """The entries no longer produce the Merkle root or head hash a signed checkpoint recorded."""
    TRUNCATED = "truncated"
    """The chain is shorter than a signed checkpoint says it was: the tail was removed."""
    HEAD_MISMATCH = "head_mismatch"
    """The stored chain head disagrees with the last entry."""
    UNKNOWN_KEY = "unknown_key"
    """A stored checkpoint is signed by a key that is neither the current one nor a retired one."""


class ChainIntegrityError(Exception):
    """The audit chain is damaged; ``sequence`` is the first bad entry, ``reason`` says why.

    ``kind`` classifies the damage when the raiser knows it (every raise in this package does).
    """

    def __init__(self, sequence: int, reason: str, kind: IntegrityProblem | None = None) -> None:
        self.sequence = sequence
        self.reason = reason
        self.kind = kind
        super().__init__(f"audit chain broken at sequence {sequence}: {reason}")

    def __reduce__(self) -> tuple[type[ChainIntegrityError], tuple[int, str, IntegrityProblem | None]]:
        return (type(self), (self.sequence, self.reason, self.kind))


class NoteError(ValueError):
    """A signed note (checkpoint) was refused."""


class NoteFormatError(NoteError):
    """The note, a checkpoint body, a key name or a verifier key is malformed."""


class NoteSignatureError(NoteError):
    """No signature of the expected key verifies (bad signature, wrong key, or none at all)."""


class ProofError(ValueError):
    """An inclusion proof does not prove what it claims; the message says which check failed."""


class SigningKeyError(ValueError):
    """The Ed25519 signing key cannot be loaded; the message names the file."""
