"""The audit service's Ed25519 signing-key seed for the local stack."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["SEED_BYTES", "ensure_signing_key"]

SEED_BYTES = 32


def ensure_signing_key(path: Path) -> bool:
    """Create a file of 32 random bytes, readable by its owner only, unless it exists.

    Returns True when a new seed was written. O_EXCL makes two concurrent callers safe:
    only one creates it, and the mode is set at creation, never widened in between.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        size = path.stat().st_size
        if size != SEED_BYTES:
            raise ValueError(
                f"{path}: an audit signing-key seed must be {SEED_BYTES} bytes, found {size}"
            ) from None
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(SEED_BYTES))
    os.chmod(path, 0o600)  # the umask may have narrowed it further; make it exactly 0600
    return True
