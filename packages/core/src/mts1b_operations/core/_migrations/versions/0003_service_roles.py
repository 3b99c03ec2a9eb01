"""service roles: NOLOGIN group roles per service, granted what every service needs of core's tables

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00

Each service logs in as its own role (mts_halt, mts_audit, ...; deploy/postgres/init-roles.sql),
a member of one group role that migrations grant to: mts_halt_rw, mts_watchdogs_rw,
mts_compliance_rw, mts_marketdata_rw, and mts_audit_writer (the audit chain's writer, see the
audit service's 0002). The grants live in migrations, run by the schema owner (mts_migrate), so
they follow the tables: a migration that adds a table grants it to its service's group.

Of core's tables every service may use the outbox (enqueue its events; its relay claims them
FOR UPDATE and deletes what was published), read operators (bearer tokens of operator
endpoints) and read core's version table (the schema check at start-up). Registering and
revoking operators is for the schema owner (the `mts operators` commands of an administrator).

The roles are cluster-wide and possibly used by other databases: the downgrade revokes, never drops.
"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

SERVICE_GROUPS = (
    "mts_halt_rw",
    "mts_audit_writer",
    "mts_watchdogs_rw",
    "mts_compliance_rw",
    "mts_marketdata_rw",
)
_GROUPS = ", ".join(SERVICE_GROUPS)


def _create_group(role: str) -> str:
    return f"""
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created by a concurrent migration of another database in the same cluster
END
$do$
"""  # noqa: S608 - constants only


def upgrade() -> None:
    for role in SERVICE_GROUPS:
        op.execute(_create_group(role))
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO {_GROUPS}")
    op.execute(
        f"""
DO $do$
BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {_GROUPS}', pg_get_serial_sequence('outbox', 'id'));
END
$do$
"""
    )
    op.execute(f"GRANT SELECT ON operators, alembic_version_core TO {_GROUPS}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON operators, alembic_version_core FROM {_GROUPS}")  # noqa: S608 - constants only
    op.execute(
        f"""
DO $do$
BEGIN
    EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM {_GROUPS}', pg_get_serial_sequence('outbox', 'id'));
END
$do$
"""
    )
    op.execute(f"REVOKE SELECT, INSERT, UPDATE, DELETE ON outbox FROM {_GROUPS}")
