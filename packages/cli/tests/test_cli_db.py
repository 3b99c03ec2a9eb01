"""`mts db upgrade` and `mts db status` against a real, fresh Postgres database."""

from __future__ import annotations

import asyncio
import json

import asyncpg
from click.testing import CliRunner, Result

from mts1b_operations.cli import ExitCode
from mts1b_operations.cli.main import cli
from mts1b_operations.core.db import discover_migrations
from mts1b_operations.core.embedded import free_port


async def mts(*args: str, env: dict[str, str | None] | None = None) -> Result:
    # In a worker thread: the commands run their own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows}


async def test_upgrade_applies_every_set_core_first_and_is_idempotent(database_url: str) -> None:
    sets = discover_migrations()
    result = await mts("db", "upgrade", "--database-url", database_url, "--json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.output)["applied"]
    assert [row["name"] for row in applied] == list(sets)
    assert applied[0]["name"] == "core"
    assert all(row["before"] is None and row["after"] and row["changed"] for row in applied)
    found = await tables(database_url)
    assert {mset.version_table for mset in sets.values()} <= found
    assert "outbox" in found  # core's table

    again = await mts("db", "upgrade", "--database-url", database_url)
    assert again.exit_code == 0, again.output
    assert again.output.count("already at head") == len(sets)


async def test_upgrade_one_service_applies_core_then_that_one(database_url: str) -> None:
    result = await mts("db", "upgrade", "halt", "--json", env={"MTS_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in json.loads(result.output)["applied"]] == ["core", "halt"]
    found = await tables(database_url)
    assert {"alembic_version_core", "alembic_version_halt"} <= found
    assert "alembic_version_audit" not in found


async def test_upgrade_an_unknown_set_is_refused(database_url: str) -> None:
    result = await mts("db", "upgrade", "nope", "--database-url", database_url)
    assert result.exit_code == ExitCode.USAGE
    assert "unknown migration set 'nope'" in result.output
    assert "halt" in result.output
    assert await tables(database_url) == set()  # nothing was applied


async def test_status_reports_not_migrated_then_current(database_url: str) -> None:
    sets = discover_migrations()
    before = await mts("db", "status", "--database-url", database_url, "--json")
    assert before.exit_code == 0, before.output
    rows = json.loads(before.output)["sets"]
    assert [row["name"] for row in rows] == list(sets)
    assert all(row["current"] is None and row["state"] == "not migrated" for row in rows)
    check = await mts("db", "status", "--database-url", database_url, "--check")
    assert check.exit_code == ExitCode.FAILURE

    assert (await mts("db", "upgrade", "--database-url", database_url)).exit_code == 0
    after = await mts("db", "status", "--database-url", database_url, "--json")
    rows = json.loads(after.output)["sets"]
    assert all(row["current"] == row["head"] and row["state"] == "current" for row in rows)
    assert {row["version_table"] for row in rows} == {mset.version_table for mset in sets.values()}
    check = await mts("db", "status", "--database-url", database_url, "--check")
    assert check.exit_code == 0
    table = await mts("db", "status", "--database-url", database_url)
    assert "version table" in table.output
    assert "alembic_version_core" in table.output


async def test_no_database_url_is_a_configuration_error() -> None:
    result = await mts("db", "status", env={"MTS_DATABASE_URL": None})
    assert result.exit_code == ExitCode.USAGE
    assert "--database-url" in result.output
    assert "MTS_DATABASE_URL" in result.output
    bad = await mts("db", "upgrade", "--database-url", "mysql://x@localhost/db")
    assert bad.exit_code == ExitCode.USAGE
    assert "postgresql://" in bad.output


async def test_unreachable_postgres_exits_3() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/mts"
    result = await mts("db", "upgrade", "--database-url", dsn, "--connect-timeout", "0.5")
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert "unreachable" in result.output
