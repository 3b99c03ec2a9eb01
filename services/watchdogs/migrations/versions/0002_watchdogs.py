"""watchdog_config and watchdog_state: each watchdog's parameters, pause and alerting state

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00

``watchdog_config`` holds only what an operator changed: ``params`` maps each parameter set to
its value (the rest keep their defaults; a missing row means all defaults). ``watchdog_state``
holds the pause (a pause is always time-boxed: ``paused_until`` is set whenever ``status`` is
``paused``), the latest evaluation and the subjects whose alert is firing, written in the
transaction that enqueues the alert, so a restart neither repeats nor forgets an alert.
"""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_NAMES = (
    "'predictive_health', 'drift_monitor', 'vpin', 'news_spike', 'position_anomaly', "
    "'db_watchdog', 'strategy_watchdog', 'theta_watchdog', 'dependency_watchdog', 'portfolio_vol_dd'"
)


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE watchdog_config (
            name       text        PRIMARY KEY CHECK (name IN ({_NAMES})),
            params     jsonb       NOT NULL CHECK (jsonb_typeof(params) = 'object'),
            updated_at timestamptz NOT NULL DEFAULT now(),
            updated_by text        NOT NULL CHECK (updated_by <> '')
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE watchdog_state (
            name              text        PRIMARY KEY CHECK (name IN ({_NAMES})),
            status            text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'paused')),
            paused_until      timestamptz,
            paused_by         text,
            pause_reason      text,
            last_value        double precision,
            last_subject      text,
            last_evaluated_at timestamptz,
            last_alert_at     timestamptz,
            firing            jsonb       NOT NULL DEFAULT '{{}}'::jsonb
                                          CHECK (jsonb_typeof(firing) = 'object'),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            CHECK ((status = 'paused') = (paused_until IS NOT NULL))
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE watchdog_config IS "
        "'parameters an operator set per watchdog (validated overrides of the defaults); "
        "no row means the defaults'"
    )
    op.execute(
        "COMMENT ON TABLE watchdog_state IS "
        "'per watchdog: time-boxed pause, latest evaluation, and the firing subjects "
        "(subject_id -> episode), written with the alert it enqueued'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE watchdog_state")
    op.execute("DROP TABLE watchdog_config")
