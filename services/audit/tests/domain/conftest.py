"""Shared builders for the audit domain tests: real chains of real entries, and real keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit.domain import (
    GENESIS_PREV_HASH,
    AuditEntry,
    Checkpoint,
    MerkleTree,
    make_entry,
    parse_and_verify_checkpoint,
    sign_checkpoint,
)

ORIGIN = "mts1b.test/audit"

ChainFactory = Callable[..., list[AuditEntry]]


def build_chain(
    n: int,
    *,
    start: int = 0,
    prev: str = GENESIS_PREV_HASH,
    salt: str = "",
    base: list[AuditEntry] | None = None,
) -> list[AuditEntry]:
    """``base`` followed by entries ``start``..``n - 1``, each linked to the one before."""
    entries = list(base or [])
    for seq in range(start, n):
        data: dict[str, Any] = {"reason": f"r{seq}{salt}", "qty": seq, "px": seq / 4, "ok": seq % 2 == 0}
        entry = make_entry(
            seq, 1_700_000_000_000_000 + seq, "mts1b-oms", "order_rejected", f"ord-{seq}", data, prev
        )
        entries.append(entry)
        prev = entry.hash
    return entries


@pytest.fixture
def make_chain() -> ChainFactory:
    return build_chain


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def checkpoint_of(signing_key: Ed25519PrivateKey) -> Callable[[list[AuditEntry], int], Checkpoint]:
    """A signed and re-verified checkpoint of the first ``size`` entries of a chain."""

    def checkpoint(entries: list[AuditEntry], size: int) -> Checkpoint:
        tree = MerkleTree(bytes.fromhex(e.hash) for e in entries[:size])
        head = entries[size - 1].hash if size else GENESIS_PREV_HASH
        note = sign_checkpoint(ORIGIN, size, tree.root(), head, signing_key, ORIGIN)
        return parse_and_verify_checkpoint(note, signing_key.public_key(), ORIGIN)

    return checkpoint
