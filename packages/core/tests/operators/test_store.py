"""Operator identities in a real Postgres: registration, hashing, revocation, expiry, lookups."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from mts1b_operations.core.db import discover_migrations, downgrade, upgrade
from mts1b_operations.core.operators import (
    ROLES,
    AuthenticationError,
    Operator,
    OperatorExistsError,
    OperatorNotFoundError,
    OperatorValidationError,
    actor_of,
    add_operator,
    authenticate,
    get_operator,
    is_registered_operator,
    list_operators,
    name_of_actor,
    revoke_operator,
    role_at_least,
)


async def _expire(pool: asyncpg.Pool, name: str) -> None:
    # Registration refuses a past expiry, so age the row the way time would.
    await pool.execute(
        "UPDATE operators SET created_at = now() - interval '2 days', "
        "expires_at = now() - interval '1 second' WHERE name = $1",
        name,
    )


async def test_add_returns_a_token_once_and_stores_only_its_hash(pool: asyncpg.Pool) -> None:
    operator, token = await add_operator(pool, "alice", "operator", created_by="cli:root")
    assert token.startswith("mts_")
    assert len(token) == 47
    assert operator.name == "alice"
    assert operator.role == "operator"
    assert operator.actor == "operator:alice"
    assert operator.created_by == "cli:root"
    assert operator.expires_at is None
    assert operator.revoked_at is None
    assert operator.status() == "active"
    assert token.startswith(operator.token_prefix)
    assert len(operator.token_prefix) == 12

    row = await pool.fetchrow("SELECT * FROM operators WHERE name = 'alice'")
    assert row is not None
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    stored = " ".join(str(value) for value in row.values())
    assert token not in stored
    assert token[12:] not in stored, "nothing beyond the display prefix is stored"


async def test_tokens_are_distinct(pool: asyncpg.Pool) -> None:
    tokens = {(await add_operator(pool, f"op{n}", "viewer", created_by="test"))[1] for n in range(5)}
    assert len(tokens) == 5


async def test_authenticate_returns_the_active_operator(pool: asyncpg.Pool) -> None:
    added, token = await add_operator(pool, "bob", "admin", created_by="test")
    assert await authenticate(pool, token) == added


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "token_missing"),
        ("", "token_missing"),
        ("   ", "token_missing"),
        ("hunter2", "token_malformed"),
        ("mts_short", "token_malformed"),
        ("mts_" + "a" * 42 + "!", "token_malformed"),
        ("mts_" + "A" * 43, "token_unknown"),
    ],
)
async def test_authenticate_refuses_bad_tokens_with_a_code(
    pool: asyncpg.Pool, token: str | None, code: str
) -> None:
    await add_operator(pool, "carol", "viewer", created_by="test")
    with pytest.raises(AuthenticationError) as caught:
        await authenticate(pool, token)
    assert caught.value.code == code


async def test_a_forged_token_one_character_off_is_unknown(pool: asyncpg.Pool) -> None:
    _, token = await add_operator(pool, "dave", "admin", created_by="test")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError) as caught:
        await authenticate(pool, forged)
    assert caught.value.code == "token_unknown"


async def test_revoked_token_stops_working_at_once(pool: asyncpg.Pool) -> None:
    _, token = await add_operator(pool, "erin", "operator", created_by="test")
    assert (await authenticate(pool, token)).name == "erin"
    revoked = await revoke_operator(pool, "erin")
    assert revoked.revoked_at is not None
    assert revoked.status() == "revoked"
    with pytest.raises(AuthenticationError, match="'erin' was revoked") as caught:
        await authenticate(pool, token)
    assert caught.value.code == "token_revoked"


async def test_revoking_twice_keeps_the_first_time(pool: asyncpg.Pool) -> None:
    await add_operator(pool, "frank", "operator", created_by="test")
    first = await revoke_operator(pool, "frank")
    second = await revoke_operator(pool, "frank")
    assert second.revoked_at == first.revoked_at


async def test_revoking_an_unknown_name_is_refused(pool: asyncpg.Pool) -> None:
    with pytest.raises(OperatorNotFoundError, match="no operator named 'ghost'"):
        await revoke_operator(pool, "ghost")


async def test_expired_token_is_refused(pool: asyncpg.Pool) -> None:
    expires = datetime.now(UTC) + timedelta(days=1)
    added, token = await add_operator(pool, "gina", "operator", created_by="test", expires_at=expires)
    assert added.expires_at == expires
    assert (await authenticate(pool, token)).name == "gina"
    await _expire(pool, "gina")
    with pytest.raises(AuthenticationError, match="'gina' expired at") as caught:
        await authenticate(pool, token)
    assert caught.value.code == "token_expired"
    operator = await get_operator(pool, "gina")
    assert operator is not None
    assert operator.status() == "expired"


async def test_a_taken_name_is_refused_even_after_revocation(pool: asyncpg.Pool) -> None:
    await add_operator(pool, "hank", "viewer", created_by="test")
    with pytest.raises(OperatorExistsError, match="an operator named 'hank' already exists") as caught:
        await add_operator(pool, "hank", "admin", created_by="test")
    assert not caught.value.revoked
    await revoke_operator(pool, "hank")
    with pytest.raises(OperatorExistsError, match="a revoked operator named 'hank'"):
        await add_operator(pool, "hank", "admin", created_by="test")
    operator = await get_operator(pool, "hank")
    assert operator is not None
    assert operator.role == "viewer", "the refused registration changed nothing"


async def test_add_inside_a_callers_transaction_survives_a_taken_name(pool: asyncpg.Pool) -> None:
    await add_operator(pool, "ivy", "viewer", created_by="test")
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(OperatorExistsError):
            await add_operator(conn, "ivy", "viewer", created_by="test")
        await add_operator(conn, "ivy2", "viewer", created_by="test")  # the transaction is still usable
    assert [op.name for op in await list_operators(pool)] == ["ivy", "ivy2"]


@pytest.mark.parametrize("name", ["", "Alice", "bob smith", "1st", "a.b", "op:x", "x" * 65, "é"])
async def test_bad_names_are_refused_naming_the_field(pool: asyncpg.Pool, name: str) -> None:
    with pytest.raises(OperatorValidationError, match=r"^name: must be 1 to 64 characters") as caught:
        await add_operator(pool, name, "viewer", created_by="test")
    assert caught.value.field == "name"
    assert await list_operators(pool) == []


async def test_other_bad_arguments_name_their_field(pool: asyncpg.Pool) -> None:
    with pytest.raises(OperatorValidationError, match=r"^role: must be one of viewer, operator, admin"):
        await add_operator(pool, "jo", "root", created_by="test")  # type: ignore[arg-type]
    with pytest.raises(OperatorValidationError, match=r"^created_by: "):
        await add_operator(pool, "jo", "viewer", created_by=" ")
    with pytest.raises(OperatorValidationError, match=r"^expires_at: must be in the future"):
        await add_operator(pool, "jo", "viewer", created_by="t", expires_at=datetime.now(UTC) - timedelta(1))
    with pytest.raises(OperatorValidationError, match=r"^expires_at: must be a timezone-aware"):
        await add_operator(pool, "jo", "viewer", created_by="t", expires_at=datetime(2999, 1, 1))
    assert await list_operators(pool) == []


async def test_the_table_itself_refuses_bad_rows(pool: asyncpg.Pool) -> None:
    insert = (
        "INSERT INTO operators (name, role, token_hash, token_prefix, created_by) "
        "VALUES ($1, $2, $3, 'mts_x', 'test')"
    )
    good_hash = "0" * 64
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(insert, "Bad Name", "viewer", good_hash)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(insert, "ok", "superuser", good_hash)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(insert, "ok", "viewer", "not-a-hash")
    await pool.execute(insert, "ok", "viewer", good_hash)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(insert, "ok2", "viewer", good_hash)


async def test_list_and_get(pool: asyncpg.Pool) -> None:
    assert await get_operator(pool, "nobody") is None
    for name, role in [("zed", "viewer"), ("amy", "admin"), ("max", "operator")]:
        await add_operator(pool, name, role, created_by="test")  # type: ignore[arg-type]
    await revoke_operator(pool, "max")
    listed = await list_operators(pool)
    assert [(op.name, op.role, op.status()) for op in listed] == [
        ("amy", "admin", "active"),
        ("max", "operator", "revoked"),
        ("zed", "viewer", "active"),
    ]
    assert await get_operator(pool, "amy") == listed[0]


async def test_is_registered_operator_checks_actor_status_and_role(pool: asyncpg.Pool) -> None:
    await add_operator(pool, "olga", "operator", created_by="test")
    await add_operator(pool, "vic", "viewer", created_by="test")
    await add_operator(pool, "ron", "admin", created_by="test")
    await revoke_operator(pool, "ron")
    await add_operator(pool, "eve", "admin", created_by="test", expires_at=datetime.now(UTC) + timedelta(1))
    await _expire(pool, "eve")

    found = await is_registered_operator(pool, "operator:olga")
    assert isinstance(found, Operator)
    assert found.name == "olga"
    assert await is_registered_operator(pool, "operator:olga", min_role="admin") is None
    assert await is_registered_operator(pool, "operator:vic") is None, "viewer is below operator"
    assert (await is_registered_operator(pool, "operator:vic", min_role="viewer")) is not None
    assert await is_registered_operator(pool, "operator:ron") is None, "revoked"
    assert await is_registered_operator(pool, "operator:eve") is None, "expired"
    assert await is_registered_operator(pool, "operator:nobody") is None
    assert await is_registered_operator(pool, "olga") is None, "not an operator actor"
    assert await is_registered_operator(pool, "watchdog:vpin") is None
    assert await is_registered_operator(pool, "service:halt") is None
    with pytest.raises(OperatorValidationError, match=r"^min_role: "):
        await is_registered_operator(pool, "operator:olga", min_role="boss")  # type: ignore[arg-type]


def test_roles_are_ordered() -> None:
    assert ROLES == ("viewer", "operator", "admin")
    assert role_at_least("admin", "operator")
    assert role_at_least("operator", "operator")
    assert not role_at_least("viewer", "operator")
    assert not role_at_least("operator", "admin")


def test_actor_names() -> None:
    assert actor_of("alice") == "operator:alice"
    assert name_of_actor("operator:alice") == "alice"
    assert name_of_actor("operator:") is None
    assert name_of_actor("operator:Alice") is None
    assert name_of_actor("halt") is None
    with pytest.raises(OperatorValidationError, match=r"^name: "):
        actor_of("Alice")


async def test_migration_downgrades_and_upgrades_again(pool: asyncpg.Pool, database_url: str) -> None:
    core = discover_migrations()["core"]
    await add_operator(pool, "temp", "viewer", created_by="test")
    await asyncio.to_thread(downgrade, database_url, core, "0001")
    assert await pool.fetchval("SELECT to_regclass('operators')") is None
    assert await pool.fetchval("SELECT to_regclass('outbox')::text") == "outbox"
    await asyncio.to_thread(upgrade, database_url, core)
    assert await list_operators(pool) == []
