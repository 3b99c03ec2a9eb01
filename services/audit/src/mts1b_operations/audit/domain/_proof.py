"""Inclusion proofs anyone can check offline with only the audit service's public key."""

from __future__ import annotations

import hashlib
import re

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._errors import ChainIntegrityError, IntegrityProblem, NoteError, ProofError
from ._merkle import MerkleTree, leaf_hash, verify_inclusion
from ._note import Checkpoint, parse_and_verify_checkpoint

__all__ = ["InclusionProof", "check_proof_offline", "make_inclusion_proof", "verify_proof_offline"]

_HEX_HASH = re.compile(r"[0-9a-f]{64}\Z")


class InclusionProof(msgspec.Struct, frozen=True, kw_only=True):
    """Proof that entry ``sequence`` with hash ``entry_hash`` is in the signed checkpoint.

    ``entry_hash`` is the Merkle leaf (the entry's hex SHA-256; the tree hashes it as
    ``SHA-256(0x00 || bytes)``); ``path`` is the RFC 6962 audit path, leaf level first, hex;
    ``checkpoint`` is the signed note of ``tree_size`` entries; ``canonical``, when present, is
    the entry's canonical JSON, so a checker also sees what the entry says.
    """

    sequence: int
    entry_hash: str
    tree_size: int
    path: tuple[str, ...]
    checkpoint: str
    canonical: str | None = None


def make_inclusion_proof(
    tree: MerkleTree,
    checkpoint: Checkpoint,
    *,
    sequence: int,
    entry_hash: str,
    canonical: bytes | None = None,
) -> InclusionProof:
    """The proof of entry ``sequence`` (hash ``entry_hash``) against ``checkpoint``.

    ``tree`` holds the chain's entry hashes from sequence 0, at least up to the checkpoint;
    the proof is refused unless it would verify (the tree must reproduce the signed root).
    """
    if not 0 <= sequence < checkpoint.tree_size:
        raise ValueError(
            f"sequence {sequence} is not covered by a checkpoint of {checkpoint.tree_size} entries"
        )
    if not _HEX_HASH.match(entry_hash):
        raise ValueError("entry_hash must be 64 lowercase hex digits")
    if tree.size < checkpoint.tree_size or tree.root(checkpoint.tree_size) != checkpoint.root_hash:
        raise ChainIntegrityError(
            0,
            f"the stored entries no longer produce the Merkle root signed for {checkpoint.tree_size} entries",
            IntegrityProblem.CHECKPOINT_MISMATCH,
        )
    if tree.leaf_hash_at(sequence) != leaf_hash(bytes.fromhex(entry_hash)):
        raise ValueError(f"entry_hash is not the hash of entry {sequence} in the tree")
    if canonical is not None and hashlib.sha256(canonical).hexdigest() != entry_hash:
        raise ValueError(f"the canonical bytes given do not hash to entry {sequence}'s hash")
    return InclusionProof(
        sequence=sequence,
        entry_hash=entry_hash,
        tree_size=checkpoint.tree_size,
        path=tuple(p.hex() for p in tree.inclusion_proof(sequence, checkpoint.tree_size)),
        checkpoint=checkpoint.note,
        canonical=canonical.decode("utf-8") if canonical is not None else None,
    )


def check_proof_offline(
    proof: InclusionProof, public_key: Ed25519PublicKey | bytes, key_name: str
) -> Checkpoint:
    """Check every claim of ``proof``; return its verified checkpoint or raise :class:`ProofError`."""
    try:
        checkpoint = parse_and_verify_checkpoint(proof.checkpoint, public_key, key_name)
    except NoteError as exc:
        raise ProofError(f"checkpoint: {exc}") from None
    if proof.tree_size != checkpoint.tree_size:
        raise ProofError(
            f"tree_size: the proof claims {proof.tree_size} but the checkpoint signs {checkpoint.tree_size}"
        )
    if not 0 <= proof.sequence < checkpoint.tree_size:
        raise ProofError(
            f"sequence: {proof.sequence} is not among the checkpoint's {checkpoint.tree_size} entries"
        )
    if not _HEX_HASH.match(proof.entry_hash):
        raise ProofError("entry_hash: must be 64 lowercase hex digits")
    if not all(_HEX_HASH.match(p) for p in proof.path):
        raise ProofError("path: every element must be 64 lowercase hex digits")
    if proof.canonical is not None:
        _check_canonical(proof)
    leaf = bytes.fromhex(proof.entry_hash)
    path = [bytes.fromhex(p) for p in proof.path]
    if not verify_inclusion(leaf, proof.sequence, checkpoint.tree_size, path, checkpoint.root_hash):
        raise ProofError("path: the audit path does not lead from the entry to the signed root")
    if proof.sequence == checkpoint.tree_size - 1 and proof.entry_hash != checkpoint.head_hash:
        raise ProofError("entry_hash: the last entry of the checkpoint is not its signed chain head")
    return checkpoint


def verify_proof_offline(proof: InclusionProof, public_key: Ed25519PublicKey | bytes, key_name: str) -> bool:
    """True when ``proof`` holds (see :func:`check_proof_offline` for why it does not)."""
    try:
        check_proof_offline(proof, public_key, key_name)
    except ProofError:
        return False
    return True


def _check_canonical(proof: InclusionProof) -> None:
    assert proof.canonical is not None
    try:
        canonical = proof.canonical.encode("utf-8")
    except UnicodeEncodeError:
        raise ProofError("canonical: not valid Unicode") from None
    if hashlib.sha256(canonical).hexdigest() != proof.entry_hash:
        raise ProofError("canonical: the entry's bytes do not hash to entry_hash")
    try:
        sequence = msgspec.json.decode(canonical, type=_Sequence).seq
    except msgspec.MsgspecError:
        raise ProofError("canonical: not an audit entry") from None
    if sequence != proof.sequence:
        raise ProofError(f"canonical: the entry is sequence {sequence}, not {proof.sequence}")


class _Sequence(msgspec.Struct):
    seq: int
