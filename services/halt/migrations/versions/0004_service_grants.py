"""grants: the halt service's role may use the halt tables, and nothing of another service

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00

mts_halt_rw (mts_halt logs in as a member) reads and writes halts, halt_requests,
halt_refusals and halt_watchdog_alerts and reads its version table.

The group role is created by core's 0003 (or deploy/postgres/init-roles.sql) and is cluster-wide:
the downgrade revokes, never drops. A later migration that adds a table grants it here too
(docs/operations/postgres-roles.md).
"""

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

GROUP = "mts_halt_rw"
TABLES = "halts, halt_requests, halt_refusals, halt_watchdog_alerts"
VERSION_TABLE = "alembic_version_halt"


def upgrade() -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO {GROUP}")
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {GROUP}', "
        f"pg_get_serial_sequence('halt_requests', 'request_id')); END $do$"
    )
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {GROUP}', "
        f"pg_get_serial_sequence('halt_refusals', 'refusal_id')); END $do$"
    )
    op.execute(f"GRANT SELECT ON {VERSION_TABLE} TO {GROUP}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON {VERSION_TABLE} FROM {GROUP}")  # noqa: S608 - constants only
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM {GROUP}', "
        f"pg_get_serial_sequence('halt_requests', 'request_id')); END $do$"
    )
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM {GROUP}', "
        f"pg_get_serial_sequence('halt_refusals', 'refusal_id')); END $do$"
    )
    op.execute(f"REVOKE SELECT, INSERT, UPDATE, DELETE ON {TABLES} FROM {GROUP}")
