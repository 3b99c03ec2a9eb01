"""Inclusion proofs checked offline with nothing but the public key."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mts1b_operations.audit.domain import (
    AuditEntry,
    ChainIntegrityError,
    Checkpoint,
    InclusionProof,
    MerkleTree,
    ProofError,
    check_proof_offline,
    make_inclusion_proof,
    parse_and_verify_checkpoint,
    sign_checkpoint,
    verify_proof_offline,
)

ORIGIN = "mts1b.test/audit"
ChainFactory = Callable[..., list[AuditEntry]]
CheckpointOf = Callable[[list[AuditEntry], int], Checkpoint]


def tree_of(entries: list[AuditEntry]) -> MerkleTree:
    return MerkleTree(bytes.fromhex(e.hash) for e in entries)


def proofs(
    entries: list[AuditEntry], checkpoint: Checkpoint, *, canonical: bool = True
) -> list[InclusionProof]:
    tree = tree_of(entries)
    return [
        make_inclusion_proof(
            tree,
            checkpoint,
            sequence=e.sequence,
            entry_hash=e.hash,
            canonical=e.canonical if canonical else None,
        )
        for e in entries[: checkpoint.tree_size]
    ]


def test_every_entry_proves_offline_even_after_a_json_round_trip(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf, signing_key: Ed25519PrivateKey
) -> None:
    entries = make_chain(23)
    checkpoint = checkpoint_of(entries, 21)
    raw_public_key = signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    for proof in proofs(entries, checkpoint):
        wire = msgspec.json.decode(msgspec.json.encode(proof), type=InclusionProof)
        assert wire == proof
        assert verify_proof_offline(wire, signing_key.public_key(), ORIGIN)
        assert verify_proof_offline(wire, raw_public_key, ORIGIN)
        assert check_proof_offline(wire, raw_public_key, ORIGIN).tree_size == 21


def test_a_proof_without_the_entry_text_still_proves(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf, signing_key: Ed25519PrivateKey
) -> None:
    entries = make_chain(5)
    for proof in proofs(entries, checkpoint_of(entries, 5), canonical=False):
        assert proof.canonical is None
        assert verify_proof_offline(proof, signing_key.public_key(), ORIGIN)


def reason(proof: InclusionProof, key: Ed25519PrivateKey, name: str = ORIGIN) -> str:
    assert not verify_proof_offline(proof, key.public_key(), name)
    with pytest.raises(ProofError) as caught:
        check_proof_offline(proof, key.public_key(), name)
    return str(caught.value)


def test_every_kind_of_tampering_is_rejected(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf, signing_key: Ed25519PrivateKey
) -> None:
    entries = make_chain(13)
    proof = proofs(entries, checkpoint_of(entries, 13))[6]
    replace = msgspec.structs.replace
    other = entries[7]
    flipped_path = (proof.path[0][:-1] + ("0" if proof.path[0][-1] != "0" else "1"), *proof.path[1:])
    assert "checkpoint" in reason(proof, Ed25519PrivateKey.generate())
    assert "checkpoint" in reason(proof, signing_key, "other.example/log")
    assert "path" in reason(replace(proof, path=flipped_path), signing_key)
    assert "path" in reason(replace(proof, path=proof.path[:-1]), signing_key)
    assert "path" in reason(replace(proof, sequence=7, canonical=None), signing_key)
    assert "canonical" in reason(replace(proof, sequence=7), signing_key)
    assert "tree_size" in reason(replace(proof, tree_size=12), signing_key)
    assert "sequence" in reason(replace(proof, sequence=13, canonical=None), signing_key)
    assert "canonical" in reason(replace(proof, entry_hash=other.hash), signing_key)
    assert "path" in reason(replace(proof, entry_hash=other.hash, canonical=None), signing_key)
    assert "canonical" in reason(replace(proof, canonical=other.canonical.decode()), signing_key)
    assert "entry_hash" in reason(replace(proof, entry_hash="XYZ", canonical=None), signing_key)
    assert "path" in reason(replace(proof, path=("nothex",)), signing_key)
    body, _, signature = proof.checkpoint.rpartition("\n\n")
    assert "checkpoint" in reason(
        replace(proof, checkpoint=body.replace("\n13\n", "\n14\n") + "\n\n" + signature), signing_key
    )


def test_the_last_entry_must_be_the_signed_head(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf, signing_key: Ed25519PrivateKey
) -> None:
    entries = make_chain(4)
    checkpoint = checkpoint_of(entries, 4)
    # A checkpoint signed with the right root but a wrong head: the proof of the last entry fails.
    note = sign_checkpoint(ORIGIN, 4, checkpoint.root_hash, "c" * 64, signing_key, ORIGIN)
    lying = parse_and_verify_checkpoint(note, signing_key.public_key(), ORIGIN)
    last = proofs(entries, lying)[3]
    assert "chain head" in reason(last, signing_key)
    assert verify_proof_offline(proofs(entries, lying)[2], signing_key.public_key(), ORIGIN)


def test_a_proof_is_not_made_from_a_tree_that_lost_the_signed_root(
    make_chain: ChainFactory, checkpoint_of: CheckpointOf
) -> None:
    entries = make_chain(8)
    checkpoint = checkpoint_of(entries, 8)
    forged = make_chain(8, salt="-forged")
    with pytest.raises(ChainIntegrityError):
        make_inclusion_proof(tree_of(forged), checkpoint, sequence=2, entry_hash=forged[2].hash)
    with pytest.raises(ValueError, match="not covered"):
        make_inclusion_proof(tree_of(entries), checkpoint, sequence=8, entry_hash=entries[7].hash)
    with pytest.raises(ValueError, match="not the hash of entry 2"):
        make_inclusion_proof(tree_of(entries), checkpoint, sequence=2, entry_hash=entries[3].hash)
