"""Signed checkpoints: stored, published through the outbox, signed by the background signer,
and inclusion proofs anyone can check offline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from mts1b_operations.audit import (
    AuditChain,
    ChainIntegrityError,
    CheckpointSigner,
    CheckpointUnavailableError,
    EntryNotFoundError,
    check_proof_offline,
    verify_proof_offline,
)
from mts1b_operations.audit.adapters import postgres as store
from mts1b_operations.audit.domain import MerkleTree, ProofError, parse_and_verify_checkpoint
from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import MSG_ID_HEADER, connect_bus
from mts1b_operations.core.testing import eventually


async def test_a_checkpoint_signs_the_merkle_root_and_head_and_is_stored_and_enqueued(
    chain: AuditChain, signing_key: Ed25519PrivateKey, admin: asyncpg.Connection, append_many: Any
) -> None:
    entries = await append_many(chain, 7)
    record = await chain.checkpoint()
    tree = MerkleTree(bytes.fromhex(e.hash) for e in entries)
    assert (record.tree_size, record.sequence, record.head_hash) == (7, 6, entries[-1].hash)
    assert record.merkle_root == tree.root().hex()
    checkpoint = parse_and_verify_checkpoint(record.note, signing_key.public_key(), chain.key_name)
    assert (checkpoint.tree_size, checkpoint.root_hash, checkpoint.head_hash) == (
        7,
        tree.root(),
        entries[-1].hash,
    )
    assert checkpoint.origin == chain.origin

    row = await admin.fetchrow("SELECT * FROM audit_checkpoints")
    assert (row["tree_size"], row["note"], row["key_id"]) == (7, record.note, record.key_id)
    event_row = await admin.fetchrow(
        "SELECT subject, payload FROM outbox WHERE event_id = $1", f"audit-checkpoint-{record.key_id}-7"
    )
    assert event_row["subject"] == subjects.audit_checkpoint()
    assert schemas.decode(event_row["payload"], schemas.AuditCheckpoint) == record.event()

    # Nothing moved: the same checkpoint, not a second one.
    assert await chain.checkpoint() == record
    assert await chain.latest_checkpoint() == record
    assert await admin.fetchval("SELECT count(*) FROM audit_checkpoints") == 1

    # The tree grows incrementally and still gives the root of the whole chain.
    entries += await append_many(chain, 6, start=7)
    grown = await chain.checkpoint()
    assert grown.merkle_root == MerkleTree(bytes.fromhex(e.hash) for e in entries).root().hex()
    assert await chain.latest_checkpoint() == grown


async def test_checkpoints_need_a_key_and_entries(
    chain: AuditChain, keyless_chain: AuditChain, append_many: Any
) -> None:
    with pytest.raises(CheckpointUnavailableError, match="empty"):
        await chain.checkpoint()
    assert await chain.latest_checkpoint() is None
    await append_many(keyless_chain, 2)
    with pytest.raises(CheckpointUnavailableError, match="MTS_AUDIT_SIGNING_KEY"):
        await keyless_chain.checkpoint()
    with pytest.raises(CheckpointUnavailableError, match="no key"):
        await keyless_chain.prove(0)


async def test_the_key_comes_from_the_environment_and_a_verifier_key_trusts_its_checkpoints(
    chain_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    admin: asyncpg.Connection,
    append_many: Any,
) -> None:
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    monkeypatch.setenv("MTS_AUDIT_SIGNING_KEY", str(key_file))
    async with AuditChain(chain_url) as signer:
        entries = await append_many(signer, 5)
        record = await signer.checkpoint()
        vkey = signer.verifier_key
    assert vkey is not None
    parse_and_verify_checkpoint(record.note, key.public_key(), "mts1b-operations/audit")

    monkeypatch.delenv("MTS_AUDIT_SIGNING_KEY")
    async with AuditChain(chain_url, verifier_key=vkey) as reader:
        proof = await reader.prove(2)
        assert check_proof_offline(proof, key.public_key(), reader.key_name).tree_size == 5
        await append_many(reader, 1, start=5)
        with pytest.raises(CheckpointUnavailableError, match="entry 5 is not signed yet"):
            await reader.prove(5)
        assert await reader.verify()
        await admin.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
        await admin.execute("ALTER TABLE audit_head DISABLE TRIGGER ALL")
        await admin.execute("DELETE FROM audit_entries WHERE sequence >= 4")
        await admin.execute("UPDATE audit_head SET next_sequence = 4, head_hash = $1", entries[3].hash)
        with pytest.raises(ChainIntegrityError) as caught:
            await reader.verify()
        assert caught.value.sequence == 4

    monkeypatch.setenv("MTS_AUDIT_SIGNING_KEY", str(tmp_path / "missing.key"))
    with pytest.raises(ValueError, match="MTS_AUDIT_SIGNING_KEY"):
        await AuditChain(chain_url).checkpoint()


async def test_no_checkpoint_over_entries_that_do_not_verify(
    chain: AuditChain, admin: asyncpg.Connection, append_many: Any
) -> None:
    await append_many(chain, 3)
    await admin.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
    await admin.execute("UPDATE audit_entries SET hash = repeat('a', 64) WHERE sequence = 1")
    with pytest.raises(ChainIntegrityError) as caught:
        await chain.checkpoint()
    assert caught.value.sequence == 1
    assert await admin.fetchval("SELECT count(*) FROM audit_checkpoints") == 0


async def test_an_inclusion_proof_checks_offline(
    chain: AuditChain, signing_key: Ed25519PrivateKey, append_many: Any
) -> None:
    entries = await append_many(chain, 11)
    await chain.checkpoint()
    entries += await append_many(chain, 2, start=11)
    for sequence in (0, 5, 10):
        proof = await chain.prove(sequence)
        assert proof.tree_size == 11
        assert (proof.sequence, proof.entry_hash) == (sequence, entries[sequence].hash)
        assert proof.canonical == entries[sequence].canonical.decode()
        # Through JSON and back, as a client would receive it.
        received = msgspec.json.decode(msgspec.json.encode(proof), type=type(proof))
        assert verify_proof_offline(received, signing_key.public_key(), chain.key_name)
    # Not yet covered: the signing chain signs a new checkpoint first.
    late = await chain.prove(12)
    assert late.tree_size == 13
    assert verify_proof_offline(late, signing_key.public_key(), chain.key_name)

    forged = msgspec.structs.replace(late, entry_hash=entries[11].hash)
    with pytest.raises(ProofError):
        check_proof_offline(forged, signing_key.public_key(), chain.key_name)
    assert not verify_proof_offline(late, Ed25519PrivateKey.generate().public_key(), chain.key_name)
    with pytest.raises(EntryNotFoundError):
        await chain.prove(13)
    with pytest.raises(ValueError, match="sequence"):
        await chain.prove(-1)


async def test_a_proof_is_refused_for_an_entry_changed_after_it_was_signed(
    chain: AuditChain, admin: asyncpg.Connection, append_many: Any
) -> None:
    entries = await append_many(chain, 4)
    await chain.checkpoint()
    forged = entries[2].canonical.replace(b'"i":2', b'"i":7')
    await admin.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
    await admin.execute(
        "UPDATE audit_entries SET canonical = $1, hash = encode(sha256($1), 'hex') WHERE sequence = 2", forged
    )
    with pytest.raises(ChainIntegrityError) as caught:
        await chain.prove(2)
    assert caught.value.sequence == 2


async def test_the_signer_signs_when_the_head_moved_and_at_most_once_per_interval(
    chain: AuditChain, admin: asyncpg.Connection, append_many: Any
) -> None:
    signer = CheckpointSigner(chain, interval=0.25)
    assert await signer.tick() is None, "an empty chain has nothing to sign"
    await signer.start()
    try:
        started = time.monotonic()
        await append_many(chain, 1)

        async def signed_once() -> bool:
            return signer.signed >= 1

        await eventually(signed_once, what="the first checkpoint")
        for i in range(40):
            await append_many(chain, 5, start=1 + 5 * i)
        count = await admin.fetchval("SELECT count(*) FROM audit_checkpoints")
        # Measured after the count: a checkpoint signed while it was read counts in both.
        elapsed = time.monotonic() - started
        assert 1 <= count <= elapsed / 0.25 + 1, (count, elapsed)
    finally:
        await signer.stop()
    assert not signer.running
    assert signer.last_error is None
    # Stopped: catch up once by hand, then nothing to do until the head moves.
    caught_up = await signer.tick()
    assert caught_up is not None
    assert caught_up.tree_size == 201
    assert await signer.tick() is None
    await append_many(chain, 1, start=201)
    moved = await signer.tick()
    assert moved is not None
    assert moved.tree_size == 202
    with pytest.raises(ValueError, match="interval"):
        CheckpointSigner(chain, interval=0)


async def test_the_signer_survives_a_chain_without_a_key(keyless_chain: AuditChain, append_many: Any) -> None:
    await append_many(keyless_chain, 1)
    signer = CheckpointSigner(keyless_chain, interval=1)
    assert await signer.tick() is None
    assert isinstance(signer.last_error, CheckpointUnavailableError)


async def test_with_a_nats_url_the_chain_relays_its_events_to_jetstream(
    chain_url: str, nats_url: str, signing_key: Ed25519PrivateKey, append_many: Any
) -> None:
    async with AuditChain(chain_url, nats_url, signing_key=signing_key) as chain:
        entries = await append_many(chain, 3)
        record = await chain.checkpoint()
        bus = await connect_bus(nats_url, name="audit-chain-test", connect_deadline=10)
        try:

            async def published() -> bool:
                try:
                    ops = (await bus.js.stream_info("OPERATIONS")).state.messages
                    cps = (await bus.js.stream_info("AUDIT_CHECKPOINTS")).state.messages
                except Exception:
                    return False
                return bool(ops == 3 and cps == 1)

            await eventually(published, what="the relay to publish 3 appended events and 1 checkpoint")
            for seq, entry in enumerate(entries, start=1):
                msg = await bus.js.get_msg("OPERATIONS", seq)
                assert msg.subject == subjects.audit_appended()
                assert (msg.headers or {})[MSG_ID_HEADER] == f"audit-{entry.sequence}"
                event = schemas.decode(msg.data or b"", schemas.AuditAppended)
                assert (event.sequence, event.hash) == (entry.sequence, entry.hash)
            msg = await bus.js.get_msg("AUDIT_CHECKPOINTS", 1)
            assert schemas.decode(msg.data or b"", schemas.AuditCheckpoint) == record.event()
        finally:
            await bus.close()


async def test_verify_uses_a_spread_of_checkpoints_when_there_are_many(
    chain: AuditChain, admin: asyncpg.Connection, append_many: Any
) -> None:
    for i in range(30):
        await append_many(chain, 1, start=i)
        await chain.checkpoint()
    key = await admin.fetchval("SELECT DISTINCT key_id FROM audit_checkpoints")
    assert await admin.fetchval("SELECT count(*) FROM audit_checkpoints") == 30
    assert [c.tree_size for c in await store.fetch_checkpoints(admin, key, chain_length=30)] == list(
        range(1, 31)
    )
    spread = [c.tree_size for c in await store.fetch_checkpoints(admin, key, chain_length=30, slices=5)]
    assert spread == [5, 11, 17, 23, 29, 30], "the largest of each fifth, and the latest"
    assert await store.fetch_checkpoints(admin, "0badc0de", chain_length=30) == []
