"""The SDK's AuditClient and its offline proof checker, against the service's own app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit import AuditChain, check_proof_offline
from mts1b_operations.audit.domain import InclusionProof, parse_verifier_key, verifier_key_string
from mts1b_operations.client import (
    AuditClient,
    AuditProof,
    BadRequestError,
    ClientConfig,
    NotFoundError,
    ProofCheckError,
    check_audit_proof,
)
from mts1b_operations.core.runtime import ServiceContext, create_app

from .conftest import append, tamper_with_entry


@pytest_asyncio.fixture
async def audit(context: ServiceContext, viewer_token: str) -> AsyncIterator[AuditClient]:
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    config = ClientConfig(audit_url="http://audit.test", token=viewer_token)
    async with AuditClient.from_config(config, transport=transport) as client:
        yield client


async def test_trail_and_entries(audit: AuditClient, chain: AuditChain) -> None:
    await append(chain, 5)
    trail = await audit.trail("ord-1")
    assert [e.data["i"] for e in trail.entries] == [1, 3]
    assert all(e.hash_matches() for e in trail.entries)
    page = await audit.entries(1, 2)
    assert [e.sequence for e in page.entries] == [1, 2]
    assert page.next_from_sequence == 3
    assert [e.sequence async for e in audit.iter_entries(page_size=2)] == [0, 1, 2, 3, 4]


async def test_bad_input_comes_back_as_a_bad_request_naming_the_field(audit: AuditClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        await audit.entries(limit=5000)
    assert caught.value.field == "limit"
    with pytest.raises(BadRequestError) as missing:
        await audit.trail("")
    assert missing.value.field == "subject_id"


async def test_verify_returns_a_broken_chain_as_a_result(
    audit: AuditClient,
    chain: AuditChain,
    audit_db: str,
) -> None:
    await append(chain, 4)
    intact = await audit.verify()
    assert (intact.ok, intact.verified, intact.head_sequence) == (True, 4, 3)
    seen: list[tuple[int, int]] = []
    streamed = await audit.verify(1, progress=lambda done, total: seen.append((done, total)))
    assert streamed.ok
    assert seen[0] == (0, 3)
    assert seen[-1] == (3, 3)

    await tamper_with_entry(audit_db, 3)
    for broken in (await audit.verify(), await audit.verify(progress=lambda *_: None)):
        assert broken.ok is False
        assert broken.sequence == 3
        assert broken.kind == "hash_mismatch"


async def test_every_proof_checks_with_both_checkers(audit: AuditClient, chain: AuditChain) -> None:
    await append(chain, 9)
    await chain.checkpoint()
    checkpoint = await audit.latest_checkpoint()
    assert checkpoint is not None
    assert checkpoint.tree_size == 9
    name, public_key = parse_verifier_key(checkpoint.verifier_key)
    for sequence in range(9):
        proof = await audit.proof(sequence)
        checked = check_audit_proof(proof, checkpoint.verifier_key)
        assert (checked.sequence, checked.tree_size, checked.head_hash) == (sequence, 9, checkpoint.head_hash)
        assert checked.root_hash == checkpoint.merkle_root
        domain_proof = InclusionProof(
            sequence=proof.sequence,
            entry_hash=proof.entry_hash,
            tree_size=proof.tree_size,
            path=tuple(proof.path),
            checkpoint=proof.checkpoint,
            canonical=proof.canonical,
        )
        check_proof_offline(domain_proof, public_key, name)


def _altered(proof: AuditProof, **changes: object) -> AuditProof:
    return msgspec.structs.replace(proof, **changes)


async def test_a_doctored_proof_fails_naming_the_check(audit: AuditClient, chain: AuditChain) -> None:
    await append(chain, 6)
    await chain.checkpoint()
    proof = await audit.proof(2)
    key = proof.verifier_key
    flipped = ("0" if proof.path[0][0] != "0" else "1") + proof.path[0][1:]
    impostor = verifier_key_string(Ed25519PrivateKey.generate().public_key(), parse_verifier_key(key)[0])
    signature_line = proof.checkpoint.rstrip("\n").rsplit("\n", 1)[1]
    cases: list[tuple[AuditProof, str | None, str]] = [
        (_altered(proof, path=[flipped, *proof.path[1:]]), key, "path"),
        (_altered(proof, path=proof.path[:-1]), key, "path"),
        (_altered(proof, sequence=3), key, "canonical"),
        (_altered(proof, sequence=3, canonical=None), key, "path"),
        (_altered(proof, tree_size=proof.tree_size + 1), key, "tree_size"),
        (
            _altered(proof, canonical=proof.canonical.replace('"i":2', '"i":7') if proof.canonical else None),
            key,
            "canonical",
        ),
        (_altered(proof, checkpoint=proof.checkpoint.replace("\n6\n", "\n7\n", 1)), key, "checkpoint"),
        (
            _altered(
                proof, checkpoint=proof.checkpoint.replace(signature_line, signature_line[:-6] + "AAAAA=")
            ),
            key,
            "checkpoint",
        ),
        (proof, impostor, "checkpoint"),
        (proof, "not-a-key", "verifier_key"),
    ]
    for doctored, verifier, check in cases:
        with pytest.raises(ProofCheckError) as caught:
            check_audit_proof(doctored, verifier)
        assert caught.value.check == check, (caught.value, doctored)
    assert check_audit_proof(proof).sequence == 2  # the untouched proof holds (with the served key)


async def test_missing_things_are_none_or_not_found(audit: AuditClient, chain: AuditChain) -> None:
    assert await audit.latest_checkpoint() is None
    with pytest.raises(NotFoundError) as caught:
        await audit.proof(0)
    assert caught.value.field == "sequence"


async def test_a_revoked_viewer_is_refused(audit: AuditClient, pool: asyncpg.Pool) -> None:
    from mts1b_operations.client import AuthenticationError
    from mts1b_operations.core.operators import list_operators, revoke_operator

    [viewer] = await list_operators(pool)
    await revoke_operator(pool, viewer.name)
    with pytest.raises(AuthenticationError):
        await audit.trail("x")
