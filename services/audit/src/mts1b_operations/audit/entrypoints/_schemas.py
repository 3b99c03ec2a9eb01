"""The JSON bodies of the audit HTTP API (msgspec Structs; the OpenAPI schema is built from them).

Entries carry ``canonical``, the exact bytes their hash covers (as UTF-8 text), so a reader can
check ``sha256(canonical) == hash`` and the ``prev_hash`` links without trusting the service.
The bodies are core's wire shapes (``core.schemas.audit_api``, re-exported here), the Structs
the SDK decodes into; this module builds them from the domain's entries and proofs.
"""

from __future__ import annotations

from mts1b_operations.core.schemas.audit_api import (
    CheckpointView,
    EntriesPage,
    EntryView,
    ProofView,
    TrailView,
    VerifyBroken,
    VerifyIntact,
    VerifyProgress,
    VerifyProgressLine,
)

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
    "VerifyProgressLine",
    "entry_view",
    "proof_view",
]

MAX_PAGE = 1000
"""Most entries one ``GET /v1/audit/entries`` returns."""


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
