"""`mts operators add | list | revoke` against a real, migrated Postgres database."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from mts1b_operations.cli import ExitCode
from mts1b_operations.cli.main import cli
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import free_port
from mts1b_operations.core.operators import AuthenticationError, authenticate


async def mts(*args: str, env: dict[str, str | None] | None = None) -> Result:
    # In a worker thread: the commands run their own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


@pytest_asyncio.fixture
async def dsn(database_url: str) -> str:
    await asyncio.to_thread(upgrade_all, database_url, [])
    return database_url


@pytest_asyncio.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    opened = await create_pool(dsn)
    yield opened
    await opened.close()


async def test_add_prints_the_token_once_and_stores_only_its_hash(dsn: str, pool: asyncpg.Pool) -> None:
    result = await mts("operators", "add", "alice", "--role", "admin", "--database-url", dsn)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Registered operator alice (role admin, never expires)." in result.stdout
    token = lines[lines.index("Token:") + 1]
    assert token.startswith("mts_")
    assert "shown once and is not stored" in result.stderr
    assert token not in result.stderr

    operator = await authenticate(pool, token)
    assert (operator.name, operator.role) == ("alice", "admin")
    assert operator.created_by.startswith("cli")
    stored = await pool.fetchval("SELECT token_hash FROM operators WHERE name = 'alice'")
    assert stored == hashlib.sha256(token.encode()).hexdigest()


async def test_add_json_with_expiry(dsn: str, pool: asyncpg.Pool) -> None:
    before = datetime.now(UTC)
    args = ["add", "bob", "--role", "viewer", "--expires-in", "90d", "--created-by", "operator:alice"]
    result = await mts("operators", *args, "--json", env={"MTS_DATABASE_URL": dsn})
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["name"] == "bob"
    assert body["actor"] == "operator:bob"
    assert body["role"] == "viewer"
    assert body["status"] == "active"
    assert body["created_by"] == "operator:alice"
    assert body["revoked_at"] is None
    assert "not stored" in body["warning"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert (
        before + timedelta(days=90) - timedelta(seconds=5)
        <= expires
        <= datetime.now(UTC) + timedelta(days=90)
    )
    assert body["token"].startswith(body["token_prefix"])
    assert (await authenticate(pool, body["token"])).name == "bob"


async def test_list_shows_roles_and_statuses_but_never_a_token(dsn: str, pool: asyncpg.Pool) -> None:
    tokens = []
    for name, role, extra in [
        ("amy", "admin", []),
        ("max", "operator", []),
        ("zoe", "viewer", ["--expires-in", "1d"]),
    ]:
        added = await mts("operators", "add", name, "--role", role, *extra, "--json", "--database-url", dsn)
        assert added.exit_code == 0, added.output
        tokens.append(json.loads(added.stdout)["token"])
    assert (await mts("operators", "revoke", "max", "--database-url", dsn)).exit_code == 0
    await pool.execute(
        "UPDATE operators SET created_at = now() - interval '2 days', expires_at = now() - interval '1 hour' "
        "WHERE name = 'zoe'"
    )

    listed = await mts("operators", "list", "--json", "--database-url", dsn)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["operators"]
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [
        ("amy", "admin", "active"),
        ("max", "operator", "revoked"),
        ("zoe", "viewer", "expired"),
    ]
    assert all("token" not in row for row in rows)

    table = await mts("operators", "list", "--database-url", dsn)
    assert table.exit_code == 0, table.output
    for word in ("amy", "max", "zoe", "active", "revoked", "expired", "admin", "viewer", "created by"):
        assert word in table.stdout
    for token in tokens:
        assert token not in listed.stdout
        assert token not in table.stdout


async def test_list_when_empty_says_how_to_add_the_first_admin(dsn: str) -> None:
    result = await mts("operators", "list", "--database-url", dsn)
    assert result.exit_code == 0, result.output
    assert "mts operators add NAME --role admin" in result.stdout
    assert json.loads((await mts("operators", "list", "--json", "--database-url", dsn)).stdout) == {
        "operators": []
    }


async def test_revoke_stops_the_token_and_is_idempotent(dsn: str, pool: asyncpg.Pool) -> None:
    added = await mts("operators", "add", "carl", "--role", "operator", "--json", "--database-url", dsn)
    token = json.loads(added.stdout)["token"]
    assert (await authenticate(pool, token)).name == "carl"

    revoked = await mts("operators", "revoke", "carl", "--database-url", dsn)
    assert revoked.exit_code == 0, revoked.output
    assert "Revoked operator 'carl'" in revoked.stdout
    with pytest.raises(AuthenticationError) as caught:
        await authenticate(pool, token)
    assert caught.value.code == "token_revoked"

    again = await mts("operators", "revoke", "carl", "--json", "--database-url", dsn)
    assert again.exit_code == 0, again.output
    body = json.loads(again.stdout)
    assert body["already_revoked"] is True
    assert body["status"] == "revoked"


async def test_revoke_an_unknown_name_exits_1_naming_it(dsn: str) -> None:
    result = await mts("operators", "revoke", "ghost", "--database-url", dsn)
    assert result.exit_code == ExitCode.FAILURE
    assert "no operator named 'ghost'" in result.stderr


async def test_a_taken_name_exits_1_and_keeps_the_first(dsn: str, pool: asyncpg.Pool) -> None:
    first = await mts("operators", "add", "dora", "--role", "viewer", "--json", "--database-url", dsn)
    token = json.loads(first.stdout)["token"]
    second = await mts("operators", "add", "dora", "--role", "admin", "--database-url", dsn)
    assert second.exit_code == ExitCode.FAILURE
    assert "an operator named 'dora' already exists" in second.stderr
    assert "mts_" not in second.stdout
    assert (await authenticate(pool, token)).role == "viewer"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Name", "--role", "admin"], "must be 1 to 64 characters of lowercase letters"),
        (["x.y", "--role", "admin"], "must be 1 to 64 characters of lowercase letters"),
        (["eve", "--role", "root"], "'root' is not one of 'viewer', 'operator', 'admin'"),
        (["eve"], "Missing option '--role'"),
        (["eve", "--role", "admin", "--expires-in", "soon"], "must be a positive duration like 90d"),
        (["eve", "--role", "admin", "--expires-in", "0d"], "must be a positive duration like 90d"),
    ],
)
async def test_bad_arguments_exit_2_naming_them(dsn: str, args: list[str], message: str) -> None:
    result = await mts("operators", "add", *args, "--database-url", dsn)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.stderr
    listed = await mts("operators", "list", "--json", "--database-url", dsn)
    assert json.loads(listed.stdout) == {"operators": []}


async def test_no_database_url_is_a_usage_error() -> None:
    result = await mts("operators", "list", env={"MTS_DATABASE_URL": None})
    assert result.exit_code == ExitCode.USAGE
    assert "pass --database-url or set MTS_DATABASE_URL" in result.stderr


async def test_an_unmigrated_database_says_to_run_db_upgrade(database_url: str) -> None:
    result = await mts("operators", "list", "--database-url", database_url)
    assert result.exit_code == ExitCode.FAILURE
    assert "run `mts db upgrade` first" in result.stderr


async def test_an_unreachable_database_exits_3() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/mts"
    result = await mts(
        "operators", "add", "fay", "--role", "admin", "--connect-timeout", "0.5", "--database-url", dsn
    )
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert "unreachable" in result.stderr
    assert "mts_" not in result.stdout


async def test_help_has_an_example_for_every_command() -> None:
    for command in ([], ["add"], ["list"], ["revoke"]):
        result = await mts("operators", *command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout
        assert "mts operators" in result.stdout
