"""The JSON bodies of the audit HTTP API (msgspec Structs; the OpenAPI schema is built from them).

Entries carry ``canonical``, the exact bytes their hash covers (as UTF-8 text), so a reader can
check ``sha256(canonical) == hash`` and the ``prev_hash`` links without trusting the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from ..domain import AuditEntry, InclusionProof

__all__ = [
    "MAX_PAGE",
    "CheckpointView",
    "EntriesPage",
    "EntryView",
    "ProofView",
    "TrailView",
    "VerifyBroken",
    "VerifyIntact",
    "VerifyProgress",
    "entry_view",
    "proof_view",
]

MAX_PAGE = 1000
"""Most entries one ``GET /v1/audit/entries`` returns."""

_Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="lowercase hex SHA-256")]


class EntryView(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the chain as stored; every field but ``hash`` is read from ``canonical``."""

    sequence: int
    timestamp: datetime
    timestamp_us: Annotated[int, msgspec.Meta(description="microseconds since the Unix epoch (hashed)")]
    actor: str
    action: str
    subject_id: str
    data: dict[str, Any]
    prev_hash: _Hex
    hash: _Hex
    canonical: Annotated[str, msgspec.Meta(description="the exact hashed bytes: RFC 8785 JSON, UTF-8")]


class TrailView(msgspec.Struct, frozen=True, kw_only=True):
    subject_id: str
    count: int
    entries: list[EntryView]
    """Every entry about ``subject_id``, oldest first."""


class EntriesPage(msgspec.Struct, frozen=True, kw_only=True):
    from_sequence: int
    limit: int
    count: int
    entries: list[EntryView]
    next_from_sequence: int | None
    """Where the next page starts; ``None`` when this page reached the end of the chain."""


class VerifyIntact(msgspec.Struct, frozen=True, kw_only=True):
    """The chain from ``from_sequence`` to its head checked out, against every trusted checkpoint."""

    ok: Literal[True] = True
    from_sequence: int
    verified: int
    """Entries checked one by one (those from ``from_sequence`` on)."""
    head_sequence: int | None
    """The last entry's sequence (``None``: the chain is empty)."""
    head_hash: str | None
    checkpoint_tree_size: int | None
    """Entries covered by the latest signed checkpoint (``None``: none signed yet)."""


class VerifyBroken(msgspec.Struct, frozen=True, kw_only=True):
    """The chain is damaged: ``sequence`` is the first bad entry, ``reason`` says why (HTTP 409)."""

    ok: Literal[False] = False
    from_sequence: int
    sequence: int
    reason: str
    kind: str | None
    """The class of damage (``hash_mismatch``, ``sequence_gap``, ``truncated``, ``unknown_key``, ...)."""


class VerifyProgress(msgspec.Struct, frozen=True, kw_only=True):
    """How far a streamed verification got: ``verified`` of ``total`` entries from ``from_sequence``."""

    verified: int
    total: int


class ProofView(msgspec.Struct, frozen=True, kw_only=True):
    """An RFC 6962 inclusion proof of one entry against a signed checkpoint; check it offline."""

    sequence: int
    entry_hash: _Hex
    tree_size: int
    path: list[str]
    """The audit path, leaf level first, lowercase hex."""
    checkpoint: str
    """The C2SP signed note the path leads to."""
    canonical: str | None
    """The entry's hashed bytes (``sha256(canonical) == entry_hash``)."""
    verifier_key: str
    """``<name>+<hex key id>+<base64 key>``: the key the checkpoint is signed with."""


class CheckpointView(msgspec.Struct, frozen=True, kw_only=True):
    """The latest signed chain head, and the verifier key to check it with."""

    tree_size: int
    sequence: int
    """The last entry covered (``tree_size - 1``)."""
    head_hash: _Hex
    merkle_root: _Hex
    note: str
    """The C2SP signed note: body lines, a blank line, the signature lines."""
    key_id: str
    signed_at: datetime
    verifier_key: str


def entry_view(entry: AuditEntry) -> EntryView:
    return EntryView(
        sequence=entry.sequence,
        timestamp=entry.timestamp,
        timestamp_us=entry.timestamp_us,
        actor=entry.actor,
        action=entry.action,
        subject_id=entry.subject_id,
        data=entry.data,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        canonical=entry.canonical.decode("utf-8"),
    )


def proof_view(proof: InclusionProof, verifier_key: str) -> ProofView:
    return ProofView(
        sequence=proof.sequence,
        entry_hash=proof.entry_hash,
        tree_size=proof.tree_size,
        path=list(proof.path),
        checkpoint=proof.checkpoint,
        canonical=proof.canonical,
        verifier_key=verifier_key,
    )
