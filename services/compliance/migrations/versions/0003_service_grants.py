"""grants: the compliance service's role may use reg_reports and reg_files

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00

mts_compliance_rw (mts_compliance logs in as a member) reads and writes reg_reports and
reg_files and reads its version table.

The group role is created by core's 0003 (or deploy/postgres/init-roles.sql) and is cluster-wide:
the downgrade revokes, never drops. A later migration that adds a table grants it here too
(docs/operations/postgres-roles.md).
"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

GROUP = "mts_compliance_rw"
TABLES = "reg_reports, reg_files"
VERSION_TABLE = "alembic_version_compliance"


def upgrade() -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO {GROUP}")
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {GROUP}', "
        f"pg_get_serial_sequence('reg_reports', 'id')); END $do$"
    )
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {GROUP}', "
        f"pg_get_serial_sequence('reg_files', 'id')); END $do$"
    )
    op.execute(f"GRANT SELECT ON {VERSION_TABLE} TO {GROUP}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON {VERSION_TABLE} FROM {GROUP}")  # noqa: S608 - constants only
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM {GROUP}', "
        f"pg_get_serial_sequence('reg_reports', 'id')); END $do$"
    )
    op.execute(
        f"DO $do$ BEGIN EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM {GROUP}', "
        f"pg_get_serial_sequence('reg_files', 'id')); END $do$"
    )
    op.execute(f"REVOKE SELECT, INSERT, UPDATE, DELETE ON {TABLES} FROM {GROUP}")
