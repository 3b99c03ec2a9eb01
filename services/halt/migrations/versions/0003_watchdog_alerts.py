"""halt_watchdog_alerts: the latest watchdog alert per (watchdog, subject), for the auto-halt policy

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00
"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE halt_watchdog_alerts (
            watchdog       text        NOT NULL CHECK (watchdog <> ''),
            subject_id     text        NOT NULL CHECK (subject_id <> ''),
            firing         boolean     NOT NULL,
            consecutive    integer     NOT NULL CHECK (consecutive >= 0),
            acted          text[]      NOT NULL DEFAULT '{}',
            alert_id       text        NOT NULL,
            message        text        NOT NULL,
            value          double precision,
            threshold      double precision,
            fired_at       timestamptz NOT NULL,
            since          timestamptz,
            last_stream    text        NOT NULL,
            last_sequence  bigint      NOT NULL,
            last_stored_at timestamptz NOT NULL,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (watchdog, subject_id),
            CHECK (firing = (consecutive > 0)),
            CHECK (firing = (since IS NOT NULL))
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE halt_watchdog_alerts IS "
        "'the auto-halt policy''s view of each watchdog subject: firing or not, consecutive firing "
        "alerts, rules that acted in the current episode; last_* is the latest stream message applied'"
    )
    op.execute("CREATE INDEX halt_watchdog_alerts_firing_idx ON halt_watchdog_alerts (watchdog) WHERE firing")


def downgrade() -> None:
    op.execute("DROP TABLE halt_watchdog_alerts")
