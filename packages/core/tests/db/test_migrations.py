"""Per-service alembic environments, applied programmatically to a real Postgres."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from mts1b_operations.core.db import (
    MigrationError,
    MigrationSet,
    async_url,
    discover_migrations,
    downgrade,
    locate_migrations,
    upgrade,
    upgrade_all,
)
from mts1b_operations.core.db._alembic_env import MIGRATION_LOCK_KEY
from mts1b_operations.core.testing import eventually

ALL_SETS = ["core", "audit", "compliance", "halt", "marketdata-api", "watchdogs"]
VERSION_TABLES = {f"alembic_version_{name.replace('-', '_')}" for name in ALL_SETS}


def _heads() -> dict[str, list[str]]:
    """What each set's code expects: later issues add revisions, so never hard-code them."""
    sets = discover_migrations()
    return {sets[name].version_table: sets[name].script().get_heads() for name in ALL_SETS}


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def _versions(url: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(url)
    try:
        return {
            table: [r["version_num"] for r in await conn.fetch(f'SELECT version_num FROM "{table}"')]
            for table in sorted(VERSION_TABLES)
        }
    finally:
        await conn.close()


async def _schema_snapshot(url: str) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await conn.close()


def test_discover_finds_core_first_then_every_service_sorted() -> None:
    sets = discover_migrations()
    assert list(sets) == ALL_SETS
    for name, mset in sets.items():
        assert mset.name == name
        assert (mset.location / "env.py").is_file()
        assert len(mset.script().get_heads()) == 1, f"{name} has one head"
    assert sets["marketdata-api"].version_table == "alembic_version_marketdata_api"
    assert sets["core"].location.name == "_migrations"
    assert sets["halt"].location == Path(__file__).resolve().parents[4] / "services" / "halt" / "migrations"


async def test_upgrade_all_on_a_fresh_database(database_url: str) -> None:
    applied = await asyncio.to_thread(upgrade_all, database_url)
    assert applied == ALL_SETS
    assert {"outbox"} | VERSION_TABLES <= await _tables(database_url)
    assert await _versions(database_url) == _heads()
    conn = await asyncpg.connect(database_url)
    try:
        trigger = await conn.fetchval("SELECT tgname FROM pg_trigger WHERE tgrelid = 'outbox'::regclass")
        assert trigger == "outbox_notify"
        assert (
            await conn.fetchval("SELECT to_regclass('outbox_source_id_idx')::text") == "outbox_source_id_idx"
        )
    finally:
        await conn.close()


async def test_upgrade_all_twice_is_a_no_op(database_url: str) -> None:
    await asyncio.to_thread(upgrade_all, database_url)
    schema, versions = await _schema_snapshot(database_url), await _versions(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO outbox (event_id, source, subject, payload) VALUES ('e1', 'halt', 'a.b', 'x')"
        )
    finally:
        await conn.close()
    assert await asyncio.to_thread(upgrade_all, database_url) == ALL_SETS
    assert await _schema_snapshot(database_url) == schema
    assert await _versions(database_url) == versions
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1, "data untouched"
    finally:
        await conn.close()


async def test_upgrade_all_with_names_applies_core_and_those(database_url: str) -> None:
    assert await asyncio.to_thread(upgrade_all, database_url, ["halt"]) == ["core", "halt"]
    tables = await _tables(database_url)
    assert {"outbox", "alembic_version_core", "alembic_version_halt"} <= tables
    assert not (VERSION_TABLES - {"alembic_version_core", "alembic_version_halt"}) & tables
    with pytest.raises(ValueError, match=r"^names: unknown migration set\(s\) \['nope'\]"):
        upgrade_all(database_url, ["halt", "nope"])


async def test_concurrent_upgrades_in_one_process_both_succeed(database_url: str) -> None:
    results = await asyncio.gather(
        asyncio.to_thread(upgrade_all, database_url), asyncio.to_thread(upgrade_all, database_url)
    )
    assert list(results) == [ALL_SETS, ALL_SETS]
    assert await _versions(database_url) == _heads()


async def test_concurrent_upgrades_from_two_processes_serialize(database_url: str) -> None:
    gate, observer = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        # Hold the migration lock so both processes are certainly racing when it is released.
        await gate.execute("BEGIN")
        await gate.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        script = "import sys; from mts1b_operations.core.db import upgrade_all; upgrade_all(sys.argv[1])"
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                script,
                database_url,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]

        async def both_waiting() -> bool:
            assert all(proc.returncode is None for proc in procs), (
                "an upgrade exited before the lock was free"
            )
            # Outside a transaction: pg_stat_activity is a snapshot per transaction.
            waiting = await observer.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            )
            return bool(waiting == 2)

        await eventually(both_waiting, within=60, what="both upgrades to wait on the migration lock")
        await gate.execute("COMMIT")
        outcomes = [await proc.communicate() for proc in procs]
    finally:
        await gate.close()
        await observer.close()
    for proc, (_, stderr) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, stderr.decode()
    assert {"outbox"} | VERSION_TABLES <= await _tables(database_url)
    assert await _versions(database_url) == _heads()


async def test_every_revision_downgrades(database_url: str) -> None:
    await asyncio.to_thread(upgrade_all, database_url)
    for mset in discover_migrations().values():
        await asyncio.to_thread(downgrade, database_url, mset, "base")
    assert await _tables(database_url) == VERSION_TABLES, "only the (empty) version tables remain"
    assert await _versions(database_url) == {table: [] for table in VERSION_TABLES}
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'outbox_notify'") == 0
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade_all, database_url)
    assert "outbox" in await _tables(database_url)


def test_upgrade_called_from_inside_an_event_loop(database_url: str) -> None:
    async def inside() -> None:
        upgrade(database_url, discover_migrations()["core"])  # no running-loop error

    asyncio.run(inside())
    assert "outbox" in asyncio.run(_tables(database_url))


def test_migration_set_names_are_validated(tmp_path: Path) -> None:
    for bad in ["", "Halt", "halt_svc", "1halt", "x" * 48]:
        with pytest.raises(ValueError, match=r"^name must be"):
            MigrationSet(bad, tmp_path)
    assert MigrationSet("a-b", tmp_path).version_table == "alembic_version_a_b"


def test_locate_prefers_the_packaged_copy(tmp_path: Path) -> None:
    package = tmp_path / "svc" / "src" / "mts1b_operations" / "svc"
    (package / "_migrations").mkdir(parents=True)
    (tmp_path / "svc" / "migrations").mkdir()
    (tmp_path / "svc" / "migrations" / "env.py").write_text("")
    module = package / "migrations_location.py"
    assert locate_migrations(module) == tmp_path / "svc" / "migrations"
    (package / "_migrations" / "env.py").write_text("")
    assert locate_migrations(module) == package / "_migrations"


def test_locate_without_migrations_names_the_places_tried(tmp_path: Path) -> None:
    module = tmp_path / "a" / "b" / "c" / "pkg" / "migrations_location.py"
    with pytest.raises(MigrationError, match=r"no alembic environment .* for 'pkg'; looked in .*_migrations"):
        locate_migrations(module)


async def test_missing_location_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"^migrations for 'ghost' not found: .*env\.py does not exist$"):
        await asyncio.to_thread(upgrade, database_url, MigrationSet("ghost", tmp_path))


def test_offline_mode_renders_the_sql_for_review(capsys: pytest.CaptureFixture[str]) -> None:
    core = discover_migrations()["core"]
    command.upgrade(core.config("postgresql://reviewer@example/db"), "head", sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE alembic_version_core" in sql
    assert "CREATE TABLE outbox" in sql
    assert "CREATE TRIGGER outbox_notify" in sql


def test_async_url_selects_the_asyncpg_driver() -> None:
    assert async_url("postgresql://u:p@h:5/db?x=1") == "postgresql+asyncpg://u:p@h:5/db?x=1"
    assert async_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    with pytest.raises(MigrationError, match=r"^database URL must start with postgresql://"):
        async_url("mysql://u:secret@h/db")
