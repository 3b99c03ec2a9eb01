"""pg_dump, restore into a fresh database, re-verify the chain (docs/operations/backup-restore.md).

Everything as the roles of a deployment: init-roles.sql on both databases, the dump and the
restore as mts_migrate (the schema owner), the verification as mts_audit with the signing key.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit import AuditChain
from mts1b_operations.core.db import discover_migrations, schema_status
from mts1b_operations.core.testing import SharedPostgres

from ._pg_helpers import apply_init_roles, prepare_database, psql_binary, role_url


def _tool(name: str) -> str:
    return str(Path(psql_binary()).with_name(name))


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}"


async def test_dump_restore_and_the_chain_verifies_against_its_checkpoints(
    tmp_path: Path, database_url: str, shared_postgres: SharedPostgres
) -> None:
    await prepare_database(database_url)
    key = Ed25519PrivateKey.generate()
    async with AuditChain(role_url(database_url, "mts_audit"), signing_key=key) as chain:
        for n in range(20):
            await chain.append(actor="operator:ada", action="drill", subject_id=f"d-{n % 3}", data={"n": n})
        signed = await chain.checkpoint()
        head = await chain.head()

    dump = tmp_path / "mts.dump"
    _run([_tool("pg_dump"), "--format=custom", f"--file={dump}", role_url(database_url, "mts_migrate")])

    restored_name = f"mts_restore_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(shared_postgres.url)
    try:
        await admin.execute(f'CREATE DATABASE "{restored_name}" TEMPLATE template0')
    finally:
        await admin.close()
    restored = urlunsplit(urlsplit(shared_postgres.url)._replace(path=f"/{restored_name}"))
    try:
        apply_init_roles(restored)
        _run(
            [_tool("pg_restore"), "--exit-on-error", "--dbname", role_url(restored, "mts_migrate"), str(dump)]
        )

        async with AuditChain(role_url(restored, "mts_audit"), signing_key=key) as chain:
            assert await chain.head() == head
            assert (await chain.latest_checkpoint()) == signed
            assert await chain.verify()
            # and the restored chain takes new entries
            entry = await chain.append(actor="operator:ada", action="drill", subject_id="after", data={})
            assert entry.sequence == head.next_sequence

        for mset in discover_migrations().values():
            current, newest = await schema_status(role_url(restored, "mts_migrate"), mset)
            assert current == newest, mset.name
        conn = await asyncpg.connect(role_url(restored, "mts_halt"))
        try:
            assert await conn.fetchval("SELECT count(*) FROM halts") == 0  # the grants came back too
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(shared_postgres.url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
        finally:
            await admin.close()
