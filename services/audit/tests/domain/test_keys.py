"""Loading the checkpoint-signing key: a raw 32-byte seed or a PEM, and clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from mts1b_operations.audit.domain import SigningKeyError, load_signing_key, signing_key_from_bytes


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_a_raw_seed_file_loads(tmp_path: Path) -> None:
    seed = bytes(range(32))
    path = tmp_path / "seed"
    path.write_bytes(seed)
    assert public_bytes(load_signing_key(path)) == public_bytes(Ed25519PrivateKey.from_private_bytes(seed))


def test_a_pem_file_loads(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    assert public_bytes(load_signing_key(path)) == public_bytes(key)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    with pytest.raises(SigningKeyError, match=str(path)):
        load_signing_key(path)


@pytest.mark.parametrize("content", [b"", b"x" * 31, b"x" * 33, b"0" * 64 + b"\n"])
def test_a_file_of_the_wrong_size_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "seed"
    path.write_bytes(content)
    with pytest.raises(SigningKeyError, match=f"{path}: expected a 32-byte raw Ed25519 seed"):
        load_signing_key(path)


def test_a_pem_of_another_algorithm_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(SigningKeyError, match=f"{path}: the PEM holds .*not an Ed25519 key"):
        load_signing_key(path)


def test_an_encrypted_or_broken_pem_is_named(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "enc.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw")))
    with pytest.raises(SigningKeyError, match=f"{path}: not a readable unencrypted PEM"):
        load_signing_key(path)
    with pytest.raises(SigningKeyError, match="inline: not a readable"):
        signing_key_from_bytes(
            b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", source="inline"
        )
