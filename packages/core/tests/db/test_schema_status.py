"""schema_status / check_schema_current: one clear line when the database is not where the code is."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from mts1b_operations.core.db import (
    MigrationError,
    MigrationSet,
    SchemaBehindError,
    check_schema_current,
    create_pool,
    discover_migrations,
    downgrade,
    schema_status,
    upgrade,
    upgrade_all,
)

REVISION = '''"""{message}"""

from alembic import op

revision: str = "{revision}"
down_revision: str | None = {down!r}


def upgrade() -> None:
    op.execute("CREATE TABLE {table} (id bigint PRIMARY KEY)")


def downgrade() -> None:
    op.execute("DROP TABLE {table}")
'''


def _scratch_set(root: Path, revisions: int, *, env_table: str = "alembic_version_scratch") -> MigrationSet:
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(
        f"from mts1b_operations.core.db import run_migrations\n\nrun_migrations({env_table!r})\n"
    )
    for n in range(1, revisions + 1):
        down = None if n == 1 else f"{n - 1:04d}"
        text = REVISION.format(message=f"step {n}", revision=f"{n:04d}", down=down, table=f"scratch_{n}")
        (root / "versions" / f"{n:04d}_step.py").write_text(text)
    return MigrationSet("scratch", root)


async def _expect(pool: asyncpg.Pool, mset: MigrationSet, message: str) -> None:
    with pytest.raises(SchemaBehindError) as info:
        await check_schema_current(pool, mset)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


async def test_core_is_current_after_upgrade_and_behind_after_downgrade(database_url: str) -> None:
    core = discover_migrations()["core"]
    (core_head,) = core.script().get_heads()
    pool = await create_pool(database_url, max_size=2)
    try:
        await _expect(
            pool,
            core,
            f"database schema for 'core' has never been migrated but the code needs {core_head}: "
            "run `mts db upgrade core`",
        )
        await asyncio.to_thread(upgrade_all, database_url)
        await check_schema_current(pool, core)
        for mset in discover_migrations().values():
            await check_schema_current(pool, mset)
            (head,) = mset.script().get_heads()
            assert await schema_status(pool, mset) == (head, head)
        await asyncio.to_thread(downgrade, database_url, core, "base")
        assert await schema_status(pool, core) == (None, core_head)
        with pytest.raises(SchemaBehindError) as info:
            await check_schema_current(pool, core)
        assert (info.value.name, info.value.current, info.value.head) == ("core", None, core_head)
        assert "run `mts db upgrade core`" in str(info.value)
        await check_schema_current(pool, discover_migrations()["halt"])  # other sets unaffected
    finally:
        await pool.close()


async def test_behind_and_ahead_name_both_revisions(database_url: str, tmp_path: Path) -> None:
    newer = _scratch_set(tmp_path / "newer", revisions=2)
    older = MigrationSet("scratch", tmp_path / "older")
    shutil.copytree(newer.location, older.location)
    (older.location / "versions" / "0002_step.py").unlink()

    pool = await create_pool(database_url, max_size=2)
    try:
        await asyncio.to_thread(upgrade, database_url, newer, "0001")
        assert await schema_status(pool, newer) == ("0001", "0002")
        assert await schema_status(database_url, newer) == ("0001", "0002"), "a DSN works as well as a pool"
        await _expect(
            pool,
            newer,
            "database schema for 'scratch' is at 0001 but the code needs 0002: run `mts db upgrade scratch`",
        )
        await check_schema_current(pool, older)

        await asyncio.to_thread(upgrade, database_url, newer)
        await check_schema_current(pool, newer)
        await _expect(
            pool,
            older,
            "database schema for 'scratch' is at 0002, newer than this code knows "
            "(its newest is 0001): deploy the code that wrote 0002, or downgrade the schema with that code",
        )
        await asyncio.to_thread(downgrade, database_url, newer, "0001")
        await check_schema_current(pool, older)
        assert await pool.fetchval("SELECT to_regclass('scratch_2')") is None
    finally:
        await pool.close()


async def test_env_with_the_wrong_version_table_is_refused(database_url: str, tmp_path: Path) -> None:
    mset = _scratch_set(tmp_path / "m", revisions=1, env_table="alembic_version_halt")
    with pytest.raises(
        MigrationError, match="uses version table 'alembic_version_halt' but its migration set"
    ):
        await asyncio.to_thread(upgrade, database_url, mset)


async def test_an_unknown_revision_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    mset = _scratch_set(tmp_path / "m", revisions=1)
    with pytest.raises(MigrationError, match=r"^upgrade of 'scratch' to '0042' failed"):
        await asyncio.to_thread(upgrade, database_url, mset, "0042")
