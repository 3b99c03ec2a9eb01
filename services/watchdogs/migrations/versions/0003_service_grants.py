"""grants: the watchdogs service's role may use watchdog_config and watchdog_state

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00

mts_watchdogs_rw (mts_watchdogs logs in as a member) reads and writes watchdog_config and
watchdog_state and reads its version table. (The db watchdog's reads of the audit tables are
granted by the audit service's migrations, which own those tables.)

The group role is created by core's 0003 (or deploy/postgres/init-roles.sql) and is cluster-wide:
the downgrade revokes, never drops. A later migration that adds a table grants it here too
(docs/operations/postgres-roles.md).
"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

GROUP = "mts_watchdogs_rw"
TABLES = "watchdog_config, watchdog_state"
VERSION_TABLE = "alembic_version_watchdogs"


def upgrade() -> None:
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO {GROUP}")
    op.execute(f"GRANT SELECT ON {VERSION_TABLE} TO {GROUP}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON {VERSION_TABLE} FROM {GROUP}")  # noqa: S608 - constants only
    op.execute(f"REVOKE SELECT, INSERT, UPDATE, DELETE ON {TABLES} FROM {GROUP}")
