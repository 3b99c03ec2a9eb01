"""Loading the Ed25519 checkpoint-signing key (MTS_AUDIT_SIGNING_KEY).

The only function of the domain package that touches the file system, and only to read the
one file it is handed.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ._errors import SigningKeyError

__all__ = ["SEED_BYTES", "load_signing_key", "signing_key_from_bytes"]

SEED_BYTES = 32


def load_signing_key(seed_file: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key: a file of exactly 32 raw seed bytes, or an unencrypted PEM.

    Anything else raises :class:`SigningKeyError` naming the file and what was wrong.
    """
    try:
        content = Path(seed_file).read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{seed_file}: cannot read the signing key ({exc.strerror or exc})") from None
    return signing_key_from_bytes(content, source=str(seed_file))


def signing_key_from_bytes(content: bytes, *, source: str = "signing key") -> Ed25519PrivateKey:
    """An Ed25519 private key from 32 raw seed bytes or an unencrypted PEM (PKCS#8 or traditional)."""
    if len(content) == SEED_BYTES:
        return Ed25519PrivateKey.from_private_bytes(content)
    if content.lstrip().startswith(b"-----BEGIN"):
        try:
            key = load_pem_private_key(content, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{source}: not a readable unencrypted PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{source}: the PEM holds a {type(key).__name__}, not an Ed25519 key")
        return key
    raise SigningKeyError(
        f"{source}: expected a {SEED_BYTES}-byte raw Ed25519 seed or a PEM private key, "
        f"found {len(content)} bytes of something else"
    )
