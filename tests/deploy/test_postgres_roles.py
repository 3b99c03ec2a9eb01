"""Least-privilege Postgres roles: deploy/postgres/init-roles.sql plus the grants of the migrations.

The database is prepared as in production: init-roles.sql through psql by a superuser, then every
migration set applied by mts_migrate (the schema owner). Then each service's role is checked to
reach its own tables and nothing else; the audit role can only append, through the chain's
SECURITY DEFINER functions.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from mts1b_operations.audit import AuditChain

from ._pg_helpers import LOGIN_ROLES, SERVICE_ROLES, apply_init_roles, prepare_database, role_url

SIUD = "SIUD"
GROUPS = ("mts_halt_rw", "mts_audit_writer", "mts_watchdogs_rw", "mts_compliance_rw", "mts_marketdata_rw")
ALL_GROUPS_USE = dict.fromkeys(GROUPS, SIUD)
ALL_GROUPS_READ = dict.fromkeys(GROUPS, "S")
# table -> group role -> privileges (S select, I insert, U update, D delete). A table of a new
# migration that is missing here fails the test: decide who may use it, and grant it.
EXPECTED_GRANTS: dict[str, dict[str, str]] = {
    "outbox": ALL_GROUPS_USE,
    "operators": ALL_GROUPS_READ,
    "alembic_version_core": ALL_GROUPS_READ,
    "halts": {"mts_halt_rw": SIUD},
    "halt_requests": {"mts_halt_rw": SIUD},
    "halt_refusals": {"mts_halt_rw": SIUD},
    "halt_watchdog_alerts": {"mts_halt_rw": SIUD},
    "halt_oms_resends": {"mts_halt_rw": SIUD},
    "alembic_version_halt": {"mts_halt_rw": "S"},
    "audit_entries": {"mts_audit_writer": "S", "mts_watchdogs_rw": "S"},
    "audit_head": {"mts_audit_writer": "S", "mts_watchdogs_rw": "S"},
    "audit_checkpoints": {"mts_audit_writer": "S", "mts_watchdogs_rw": "S"},
    "alembic_version_audit": {"mts_audit_writer": "S"},
    "watchdog_config": {"mts_watchdogs_rw": SIUD},
    "watchdog_state": {"mts_watchdogs_rw": SIUD},
    "alembic_version_watchdogs": {"mts_watchdogs_rw": "S"},
    "reg_reports": {"mts_compliance_rw": SIUD},
    "reg_files": {"mts_compliance_rw": SIUD},
    "alembic_version_compliance": {"mts_compliance_rw": "S"},
    "bars": {"mts_marketdata_rw": SIUD},
    "alembic_version_marketdata_api": {"mts_marketdata_rw": "S"},
}
_PRIVILEGE = {"S": "SELECT", "I": "INSERT", "U": "UPDATE", "D": "DELETE"}


async def _grants(admin_url: str) -> dict[str, dict[str, str]]:
    conn = await asyncpg.connect(admin_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
        found: dict[str, dict[str, str]] = {}
        for row in tables:
            table = row["tablename"]
            found[table] = {}
            for group in GROUPS:
                held = ""
                for letter, privilege in _PRIVILEGE.items():
                    if await conn.fetchval("SELECT has_table_privilege($1, $2, $3)", group, table, privilege):
                        held += letter
                if held:
                    found[table][group] = held
        return found
    finally:
        await conn.close()


async def test_init_roles_creates_unprivileged_login_roles_and_runs_twice(database_url: str) -> None:
    await prepare_database(database_url)
    await asyncio.to_thread(apply_init_roles, database_url)  # again, without passwords: a no-op
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
            "FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY rolname",
            list(LOGIN_ROLES),
        )
        assert [r["rolname"] for r in rows] == sorted(LOGIN_ROLES)
        for row in rows:
            assert row["rolcanlogin"], row
            privileged = [k for k in ("rolsuper", "rolcreaterole", "rolcreatedb", "rolbypassrls") if row[k]]
            assert privileged == [], row
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert owner == "mts_migrate"
        for service, role in SERVICE_ROLES.items():
            group = "mts_audit_writer" if service == "audit" else f"{role}_rw"
            assert await conn.fetchval("SELECT pg_has_role($1, $2, 'MEMBER')", role, group), (role, group)
            assert not await conn.fetchval("SELECT pg_has_role($1, 'mts_migrate', 'MEMBER')", role)
    finally:
        await conn.close()


async def test_each_group_is_granted_exactly_its_services_tables(database_url: str) -> None:
    await prepare_database(database_url)
    assert await _grants(database_url) == EXPECTED_GRANTS


async def test_audit_role_can_only_append_through_the_chain_functions(database_url: str) -> None:
    await prepare_database(database_url)
    audit_url = role_url(database_url, "mts_audit")
    async with AuditChain(audit_url) as chain:
        first = await chain.append(actor="operator:ada", action="drill", subject_id="drill-1", data={"n": 1})
        second = await chain.append(actor="operator:ada", action="drill", subject_id="drill-1", data={"n": 2})
        assert (first.sequence, second.sequence) == (0, 1)
        assert await chain.verify()
    conn = await asyncpg.connect(audit_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit_entries") == 2
        for statement in (
            "INSERT INTO audit_entries SELECT * FROM audit_entries LIMIT 1",
            "UPDATE audit_entries SET actor = 'mallory'",
            "DELETE FROM audit_entries",
            "TRUNCATE audit_entries",
            "UPDATE audit_head SET next_sequence = 0",
            "DELETE FROM audit_checkpoints",
            "SELECT * FROM halts",
            "INSERT INTO operators (name, role, token_hash, token_prefix, created_by) "
            "VALUES ('eve', 'admin', repeat('a', 64), 'x', 'eve')",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_halt_role_reaches_its_tables_and_nothing_else(database_url: str) -> None:
    await prepare_database(database_url)
    conn = await asyncpg.connect(role_url(database_url, "mts_halt"))
    try:
        assert await conn.fetchval("SELECT count(*) FROM halts") == 0
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO outbox (event_id, source, subject, payload) VALUES ('e1', 'halt', 'a.b', 'x')"
            )
        assert await conn.fetchval("SELECT count(*) FROM operators") == 0
        for statement in (
            "SELECT * FROM audit_entries",
            "SELECT audit_append(ARRAY[]::bytea[], ARRAY[]::text[], ARRAY[]::text[])",
            "INSERT INTO watchdog_config (name, params, updated_by) VALUES ('db', '{}', 'x')",
            "SELECT * FROM watchdog_state",
            "SELECT * FROM bars",
            "SELECT * FROM reg_reports",
            "UPDATE operators SET revoked_at = now()",
            "CREATE TABLE sneaky (id int)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.execute(statement)
    finally:
        await conn.close()
