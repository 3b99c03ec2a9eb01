"""The audit signing key rotated as docs/operations/rotate-audit-signing-key.md says, as mts_audit.

The new key signs the whole chain at once (a checkpoint commits to every entry from sequence 0),
the retired key's checkpoints stay in the table, and they still verify against the retired
public key (its verifier key string, as GET /v1/audit/checkpoints/latest gave it).
"""

from __future__ import annotations

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit import AuditChain

from ._pg_helpers import prepare_database, role_url


async def test_rotation_keeps_the_retired_keys_checkpoints_verifiable(database_url: str) -> None:
    await prepare_database(database_url)
    audit_url = role_url(database_url, "mts_audit")
    old_key, new_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()

    async with AuditChain(audit_url, signing_key=old_key) as old:
        for n in range(5):
            await old.append(actor="operator:ada", action="drill", subject_id="rot", data={"n": n})
        old_checkpoint = await old.checkpoint()
        retired = old.verifier_key
        assert retired is not None
        assert await old.verify()  # step 1: verify with the key in use before rotating

    async with AuditChain(audit_url, signing_key=new_key, retired_keys=[retired]) as new:
        first = await new.checkpoint()  # what the service does within a second of starting
        assert first.tree_size == old_checkpoint.tree_size == 5
        assert first.key_id != old_checkpoint.key_id
        for n in range(5, 8):
            await new.append(actor="operator:ada", action="drill", subject_id="rot", data={"n": n})
        await new.checkpoint()
        assert await new.verify()
        current = new.verifier_key

    async with AuditChain(audit_url, verifier_key=current, retired_keys=[retired]) as by_retired_key:
        assert await by_retired_key.verify()

    conn = await asyncpg.connect(audit_url)
    try:
        keys = await conn.fetch("SELECT key_id, max(tree_size) AS size FROM audit_checkpoints GROUP BY 1")
    finally:
        await conn.close()
    assert {r["key_id"]: r["size"] for r in keys} == {old_checkpoint.key_id: 5, first.key_id: 8}
