"""halt_oms_resends: a halt's OMS command still owed to order management, so a restart resumes it

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00

One row per command the service re-sends in the background (its halt's cancel_all / flatten
that was not acked by every OMS); done_at and outcome are set once it is acked, its halt is
lifted, or its window (from created_at) has passed. At most one pending row per (halt, command).
Granted to mts_halt_rw like the other halt tables (0004).
"""

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

GROUP = "mts_halt_rw"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE halt_oms_resends (
            command_id text        PRIMARY KEY CHECK (command_id <> ''),
            halt_id    text        NOT NULL REFERENCES halts (halt_id),
            command    text        NOT NULL CHECK (command IN ('cancel_all', 'flatten')),
            payload    jsonb       NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            done_at    timestamptz,
            outcome    text        CHECK (outcome IN ('acked', 'lifted', 'expired')),
            CHECK ((done_at IS NULL) = (outcome IS NULL))
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE halt_oms_resends IS "
        "'OMS commands of halts re-sent until acked; payload: the OmsCommand; pending while done_at is null'"
    )
    op.execute(
        "CREATE UNIQUE INDEX halt_oms_resends_one_pending ON halt_oms_resends (halt_id, command) "
        "WHERE done_at IS NULL"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON halt_oms_resends TO {GROUP}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT, INSERT, UPDATE, DELETE ON halt_oms_resends FROM {GROUP}")
    op.execute("DROP TABLE halt_oms_resends")
