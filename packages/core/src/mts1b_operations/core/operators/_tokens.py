"""Bearer tokens: ``mts_`` + 32 random bytes (urlsafe base64); only their SHA-256 is stored.

A plain SHA-256 is the right hash here, not a slow password KDF (bcrypt, scrypt, argon2): the
tokens are 256 bits from :mod:`secrets`, not human-chosen passwords, so there is no dictionary
to try and a brute force of the hash is hopeless however fast the hash is. A fast, unsalted,
deterministic hash is also what lets a token be found by a unique-index lookup of its hash,
so the comparison happens inside Postgres on the digest rather than on the secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["TOKEN_PREFIX", "display_prefix", "hash_token", "is_well_formed", "new_token"]

TOKEN_PREFIX = "mts_"  # noqa: S105 - a public marker, not a secret
_RANDOM_BYTES = 32
# token_urlsafe(32) is 43 characters of the urlsafe alphabet, unpadded.
_WELL_FORMED = re.compile(r"^mts_[A-Za-z0-9_-]{43}$")
# "mts_" and 8 random characters (48 of the 256 bits): enough to tell tokens apart in a list.
_DISPLAY_LENGTH = len(TOKEN_PREFIX) + 8


def new_token() -> str:
    """A fresh random bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def is_well_formed(token: str) -> bool:
    return bool(_WELL_FORMED.fullmatch(token))


def hash_token(token: str) -> str:
    """The stored form of ``token``: lowercase hex SHA-256."""
    return hashlib.sha256(token.encode("ascii", errors="replace")).hexdigest()


def display_prefix(token: str) -> str:
    """The non-secret start of ``token``, stored to tell tokens apart in listings."""
    return token[:_DISPLAY_LENGTH]
