"""The answers of the audit API (``mts1b-audit``), as they go on the wire.

The service encodes these Structs and the SDK (``mts1b_operations.client``) decodes into them, so
the two cannot drift. They are HTTP answers, not bus payloads: untagged, and their annotations
are what the service's OpenAPI schema documents (a ``Meta`` added or removed here changes the
schema; the hashes' lowercase-hex pattern is part of it and is checked on decode). Unknown fields
from a newer service are ignored on decode. The request body stays with the service.

``GET /v1/audit/verify`` answers :class:`VerifyIntact` (200) or :class:`VerifyBroken` (409), told
apart by ``ok``; ``GET /v1/audit/verify/stream`` sends :class:`VerifyProgressLine` lines, then one
of the two (or an error body). The class names are those of the OpenAPI components; the SDK also
calls them by its older names (``AuditRecord``, ``AuditTrail``, ``AuditPage``, ``AuditProof``,
``AuditCheckpointInfo``). Entries as published on the bus are
:class:`~mts1b_operations.core.schemas.AuditAppended`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "CheckpointView",
    "DrillReportRecorded",
    "EntriesPage",
    "EntryView",
    "ProofView",
    "TrailView",
    "VerifyBroken",
    "VerifyIntact",
    "VerifyProgress",
    "VerifyProgressLine",
]

# Not the payloads' HexDigest: this one carries the description the OpenAPI schema shows.
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

    def hash_matches(self) -> bool:
        """Whether ``hash`` is the SHA-256 of ``canonical`` (checked by the reader, not the service)."""
        return hashlib.sha256(self.canonical.encode("utf-8")).hexdigest() == self.hash


class TrailView(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v1/audit/trail``: every entry about ``subject_id``."""

    subject_id: str
    count: int
    entries: list[EntryView]
    """Every entry about ``subject_id``, oldest first."""


class EntriesPage(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v1/audit/entries``: a page of the chain in sequence order."""

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


class VerifyProgressLine(msgspec.Struct, frozen=True, kw_only=True):
    """A progress line of ``GET /v1/audit/verify/stream``: ``{"progress": {...}}``."""

    progress: VerifyProgress


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


class DrillReportRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """A drill report's hash in the chain: the entry (``sequence``, ``entry_hash``) that holds it
    (``POST /v1/audit/drill-reports``)."""

    drill_id: str
    report_sha256: str
    recorded_by: str
    sequence: int
    entry_hash: str
    created: bool
    """False when this drill's report was already recorded (a retry)."""
