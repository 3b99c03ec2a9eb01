"""A rotated signing key: verify trusts the retired keys' checkpoints, and fails on an unknown key.

After a rotation the chain holds checkpoints of two keys. With the old public key configured as
retired, verify from sequence 0 checks both sets (so a damaged old checkpoint still fails); without
it, or for a checkpoint signed by a key nobody configured, verify fails naming the key id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from mts1b_operations.audit import (
    AuditChain,
    ChainIntegrityError,
    IntegrityProblem,
    _config,
    check_proof_offline,
)
from mts1b_operations.audit.domain import MerkleTree, key_id, sign_checkpoint, verifier_key_string
from mts1b_operations.core.settings import SettingsError

KEY_NAME = "mts1b-operations/audit"


class Rotated:
    """A chain of 8 entries: 5 signed by the old key, then the new key signed 5 and 8."""

    def __init__(self, url: str, old: Ed25519PrivateKey, new: Ed25519PrivateKey) -> None:
        self.url, self.old, self.new = url, old, new
        self.old_vkey = verifier_key_string(old.public_key(), KEY_NAME)
        self.new_vkey = verifier_key_string(new.public_key(), KEY_NAME)
        self.old_id = key_id(KEY_NAME, old.public_key()).hex()
        self.new_id = key_id(KEY_NAME, new.public_key()).hex()


@pytest_asyncio.fixture
async def rotated(chain_url: str, append_many: Any) -> AsyncIterator[Rotated]:
    old_key, new_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with AuditChain(chain_url, signing_key=old_key) as before:
        await append_many(before, 5)
        assert (await before.checkpoint()).tree_size == 5
        assert await before.verify()
    # The restart with the new key: it signs the whole chain first, as the service's signer does.
    async with AuditChain(chain_url, signing_key=new_key, retired_keys=[old_key.public_key()]) as after:
        assert (await after.checkpoint()).tree_size == 5
        await append_many(after, 3, start=5)
        assert (await after.checkpoint()).tree_size == 8
    yield Rotated(chain_url, old_key, new_key)


async def _problem(chain: AuditChain, from_sequence: int = 0) -> ChainIntegrityError:
    with pytest.raises(ChainIntegrityError) as caught:
        await chain.verify(from_sequence)
    return caught.value


async def _insert_checkpoint(
    admin: asyncpg.Connection, size: int, by: Ed25519PrivateKey, *, as_id: str
) -> None:
    """What a DBA could do: store a checkpoint of the first ``size`` entries, correct but for its key."""
    rows = await admin.fetch("SELECT hash FROM audit_entries WHERE sequence < $1 ORDER BY sequence", size)
    hashes = [str(r["hash"]) for r in rows]
    root = MerkleTree(bytes.fromhex(h) for h in hashes).root()
    note = sign_checkpoint(KEY_NAME, size, root, hashes[-1], by, KEY_NAME)
    await admin.execute(
        "INSERT INTO audit_checkpoints (tree_size, key_id, head_hash, merkle_root, note, signed_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        size,
        as_id,
        hashes[-1],
        root.hex(),
        note,
        datetime.now(UTC),
    )


async def test_verify_from_zero_passes_across_a_rotation_with_the_old_key_retired(rotated: Rotated) -> None:
    async with AuditChain(rotated.url, signing_key=rotated.new, retired_keys=[rotated.old_vkey]) as chain:
        assert chain.retired_keys == (rotated.old_vkey,)
        assert await chain.verify(0)
        assert await chain.verify(6)
        # Old entries are still provable, against the new key's checkpoint of the whole chain.
        proof = await chain.prove(0)
        assert check_proof_offline(proof, rotated.new.public_key(), KEY_NAME).tree_size == 8
    # A reader holding the public keys only (an auditor) verifies the same.
    async with AuditChain(
        rotated.url, verifier_key=rotated.new_vkey, retired_keys=[rotated.old_vkey]
    ) as reader:
        assert await reader.verify(0)


async def test_the_retired_keys_checkpoints_are_checked_not_just_tolerated(
    rotated: Rotated, admin: asyncpg.Connection
) -> None:
    await admin.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL")
    note = await admin.fetchval("SELECT note FROM audit_checkpoints WHERE key_id = $1", rotated.old_id)
    await admin.execute(
        "UPDATE audit_checkpoints SET note = $1 WHERE key_id = $2",
        note.replace("\n5\n", "\n4\n"),
        rotated.old_id,
    )
    async with AuditChain(rotated.url, signing_key=rotated.new, retired_keys=[rotated.old_vkey]) as chain:
        problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (4, IntegrityProblem.CHECKPOINT_MISMATCH)
    assert "does not verify" in problem.reason


async def test_without_the_retired_key_verify_fails_naming_the_unknown_key_id(rotated: Rotated) -> None:
    async with AuditChain(rotated.url, signing_key=rotated.new) as chain:
        problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (4, IntegrityProblem.UNKNOWN_KEY)
    assert f"signed by unknown key id {rotated.old_id}" in problem.reason
    assert "MTS_AUDIT_RETIRED_PUBLIC_KEYS" in problem.reason
    assert rotated.new_id in problem.reason, "the known key ids are listed"
    # From the old key's side it is the new key that is unknown.
    async with AuditChain(rotated.url, verifier_key=rotated.old_vkey) as reader:
        problem = await _problem(reader)
    assert problem.kind == IntegrityProblem.UNKNOWN_KEY
    assert f"unknown key id {rotated.new_id}" in problem.reason


@pytest.mark.parametrize("claimed", ["forger", "current"])
async def test_a_checkpoint_forged_with_a_random_key_fails(
    rotated: Rotated, admin: asyncpg.Connection, claimed: str
) -> None:
    forger = Ed25519PrivateKey.generate()
    forger_id = key_id(KEY_NAME, forger.public_key()).hex()
    # Its root and head are right: only the key gives it away, whichever key_id its row claims.
    await _insert_checkpoint(admin, 7, forger, as_id=forger_id if claimed == "forger" else rotated.new_id)
    async with AuditChain(rotated.url, signing_key=rotated.new, retired_keys=[rotated.old_vkey]) as chain:
        problem = await _problem(chain)
        assert (problem.sequence, problem.kind) == (6, IntegrityProblem.UNKNOWN_KEY)
        assert f"signed by unknown key id {forger_id}" in problem.reason
        assert await chain.checkpoint()  # signing goes on: only verify refuses the forged one
        with pytest.raises(ChainIntegrityError, match=forger_id):
            await chain.verify(7)


async def test_a_row_that_claims_another_known_key_than_its_note_fails(
    rotated: Rotated, admin: asyncpg.Connection
) -> None:
    await _insert_checkpoint(admin, 6, rotated.old, as_id=rotated.new_id)
    async with AuditChain(rotated.url, signing_key=rotated.new, retired_keys=[rotated.old_vkey]) as chain:
        problem = await _problem(chain)
    assert (problem.sequence, problem.kind) == (5, IntegrityProblem.CHECKPOINT_MISMATCH)
    assert "disagree with its signed note" in problem.reason


async def test_a_chain_without_any_key_still_ignores_the_checkpoints(rotated: Rotated) -> None:
    async with AuditChain(rotated.url) as keyless:
        assert await keyless.verify()


async def test_the_environment_supplies_the_retired_keys_with_the_signing_key(
    rotated: Rotated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = tmp_path / "audit.key"
    seed.write_bytes(rotated.new.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    retired = tmp_path / "retired.vkeys"
    retired.write_text(f"\n{rotated.old_vkey}\n\n")
    monkeypatch.setenv("MTS_AUDIT_SIGNING_KEY", str(seed))
    async with AuditChain(rotated.url) as chain:
        with pytest.raises(ChainIntegrityError, match=f"unknown key id {rotated.old_id}"):
            await chain.verify()
    monkeypatch.setenv("MTS_AUDIT_RETIRED_PUBLIC_KEYS", f"{retired}, {retired}")
    async with AuditChain(rotated.url) as chain:
        assert await chain.verify()
        assert chain.retired_keys == (rotated.old_vkey,)
    # Keys given explicitly are the whole configuration: the environment adds none.
    async with AuditChain(rotated.url, signing_key=rotated.new) as explicit:
        assert explicit.retired_keys == ()
    monkeypatch.setenv("MTS_AUDIT_RETIRED_PUBLIC_KEYS", str(tmp_path / "missing.vkeys"))
    with pytest.raises(SettingsError, match=r"MTS_AUDIT_RETIRED_PUBLIC_KEYS: .*missing\.vkeys: cannot read"):
        await AuditChain(rotated.url).verify()


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("mts1b-operations/audit+00000000+AAAA", "retired_keys: expected a list"),
        (["not a key"], r"retired_keys\[0\]: verifier key"),
        ([b"short"], r"retired_keys\[0\]: public_key"),
        ([None], r"retired_keys\[0\]: expected a public key"),
        ([verifier_key_string(Ed25519PrivateKey.generate().public_key(), "other")], "key of 'other'"),
    ],
)
def test_bad_retired_keys_are_refused_naming_the_argument(keys: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AuditChain("postgresql://db/x", retired_keys=keys)


def _vkey(name: str = KEY_NAME) -> str:
    return verifier_key_string(Ed25519PrivateKey.generate().public_key(), name)


def test_the_setting_reads_comma_separated_files_of_verifier_keys(tmp_path: Path) -> None:
    one, two, three = _vkey(), _vkey(), _vkey()
    first, second = tmp_path / "a.vkey", tmp_path / "b.vkeys"
    first.write_text(one)
    second.write_text(f"{two}\n\n  {three}  \n{one}\n")
    keys = _config.retired_keys_from_env(
        {"MTS_AUDIT_RETIRED_PUBLIC_KEYS": f" {first} ,{second}"}, key_name=KEY_NAME
    )
    assert [verifier_key_string(k, KEY_NAME) for k in keys] == [one, two, three]
    for unset in ({}, {"MTS_AUDIT_RETIRED_PUBLIC_KEYS": "  "}):
        assert _config.retired_keys_from_env(unset, key_name=KEY_NAME) == ()


@pytest.mark.parametrize(
    ("content", "value", "message"),
    [
        (None, "{dir}/missing", "{dir}/missing: cannot read the retired public keys"),
        (None, "{dir}", "{dir}: cannot read the retired public keys"),
        ("", "{file},", "has an empty file name in its comma-separated list"),
        ("", "{file}", "{file}: holds no key; expected verifier keys <name>+<key id>+<base64 key>"),
        ("\n  \n", "{file}", "{file}: holds no key"),
        ("{good}\nnot-a-key\n", "{file}", "{file} line 2: expected <name>+<8 hex digits>+<base64 key>"),
        ("{other}", "{file}", "{file} line 1: a key of 'other.example', not of 'mts1b-operations/audit'"),
        (b"\xff" * 32, "{file}", "{file}: not text (expected verifier keys"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable_and_the_file(
    tmp_path: Path, content: str | bytes | None, value: str, message: str
) -> None:
    key_file = tmp_path / "retired.vkeys"
    fill = {"dir": str(tmp_path), "file": str(key_file)}
    if isinstance(content, bytes):
        key_file.write_bytes(content)
    elif content is not None:
        key_file.write_text(content.format(good=_vkey(), other=_vkey("other.example")))
    with pytest.raises(SettingsError) as caught:
        _config.retired_keys_from_env(
            {"MTS_AUDIT_RETIRED_PUBLIC_KEYS": value.format(**fill)}, key_name=KEY_NAME
        )
    assert caught.value.variable == "MTS_AUDIT_RETIRED_PUBLIC_KEYS"
    assert str(caught.value).startswith(f"MTS_AUDIT_RETIRED_PUBLIC_KEYS: {message.format(**fill)}")


def test_a_private_seed_given_as_a_retired_key_is_not_echoed(tmp_path: Path) -> None:
    seed = tmp_path / "audit.key"
    secret = b"mts1b-operations/audit+deadbeef+"  # 32 ASCII bytes: it decodes as text
    seed.write_bytes(secret)
    with pytest.raises(SettingsError) as caught:
        _config.retired_keys_from_env({"MTS_AUDIT_RETIRED_PUBLIC_KEYS": str(seed)}, key_name=KEY_NAME)
    assert f"{seed} line 1:" in str(caught.value)
    assert secret.decode() not in str(caught.value)
