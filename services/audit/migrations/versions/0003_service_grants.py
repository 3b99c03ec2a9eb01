"""grants: the audit writer reads its version table; the watchdogs service reads the chain

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00

mts_audit logs in as a member of mts_audit_writer (0002): SELECT on the chain's tables and EXECUTE
on the SECURITY DEFINER append functions, nothing else; here it also gets its version table, for
the schema check at start-up. The watchdogs service's db watchdog compares the chain's row count
with its head and its checkpoints: mts_watchdogs_rw may read the three tables (and, like every
role but the owner's functions, never write them).

The roles are cluster-wide: the downgrade revokes, never drops.
"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

WRITER = "mts_audit_writer"
READER = "mts_watchdogs_rw"
CHAIN_TABLES = "audit_entries, audit_head, audit_checkpoints"
VERSION_TABLE = "alembic_version_audit"


def upgrade() -> None:
    op.execute(
        f"""
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER}') THEN
        CREATE ROLE {READER} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created by a concurrent migration of another database in the same cluster
END
$do$
"""  # noqa: S608 - constants only
    )
    op.execute(f"GRANT SELECT ON {VERSION_TABLE} TO {WRITER}")
    op.execute(f"GRANT SELECT ON {CHAIN_TABLES} TO {READER}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON {CHAIN_TABLES} FROM {READER}")  # noqa: S608 - constants only
    op.execute(f"REVOKE SELECT ON {VERSION_TABLE} FROM {WRITER}")  # noqa: S608 - constants only
