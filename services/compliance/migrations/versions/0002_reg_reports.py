"""reg_reports and reg_files: every regulatory report built from an order event, and the files cut from them

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00

A report's idempotency key is (regime, report_key) among the reports in force: a repair that
keeps the adapter's key supersedes the old row first, then inserts the new one under the same
key (docs/decisions/0004-compliance-reporting.md).
"""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE reg_files (
            id              bigserial   PRIMARY KEY,
            regime          text        NOT NULL CHECK (regime <> ''),
            fund_id         text        NOT NULL CHECK (fund_id <> ''),
            name            text        NOT NULL UNIQUE CHECK (name <> ''),
            trade_date      date        NOT NULL,
            sequence        integer     NOT NULL CHECK (sequence >= 1),
            content         bytea       NOT NULL,
            media_type      text        NOT NULL DEFAULT 'application/octet-stream',
            sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            record_count    integer     NOT NULL CHECK (record_count >= 0),
            deadline        timestamptz NOT NULL,
            status          text        NOT NULL DEFAULT 'pending'
                                        CHECK (status IN ('pending', 'submitted', 'failed')),
            attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            last_error      text,
            last_attempt_at timestamptz,
            destination     text,
            submitted_at    timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now(),
            UNIQUE (regime, fund_id, trade_date, sequence),
            CHECK ((status = 'submitted') = (submitted_at IS NOT NULL))
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE reg_files IS 'submission files cut from pending reports, numbered per "
        "(regime, fund, trade date); status is the transport''s outcome'"
    )
    op.execute("CREATE INDEX reg_files_unsubmitted_idx ON reg_files (id) WHERE status <> 'submitted'")
    op.execute("CREATE INDEX reg_files_fund_idx ON reg_files (fund_id, regime, id)")
    op.execute(
        """
        CREATE TABLE reg_reports (
            id              bigserial   PRIMARY KEY,
            regime          text        NOT NULL CHECK (regime <> ''),
            fund_id         text        NOT NULL CHECK (fund_id <> ''),
            report_key      text        NOT NULL CHECK (report_key <> ''),
            event_type      text        NOT NULL,
            order_id        text        NOT NULL,
            source_event_id text        NOT NULL,
            source_event    jsonb       NOT NULL,
            trade_date      date        NOT NULL,
            event_time      timestamptz NOT NULL,
            record          jsonb       NOT NULL,
            line            text        NOT NULL,
            status          text        NOT NULL CHECK (status IN (
                                'rejected', 'pending', 'filed', 'submitted', 'accepted', 'failed',
                                'superseded')),
            problems        jsonb       NOT NULL DEFAULT '[]',
            file_id         bigint      REFERENCES reg_files (id),
            repaired_from   bigint      REFERENCES reg_reports (id),
            repair_reason   text,
            actor           text        NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            CHECK ((status IN ('filed', 'submitted', 'accepted')) <= (file_id IS NOT NULL))
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE reg_reports IS 'one regulatory record per (regime, report_key) in force; "
        "source_event is the order event it was built from, so a repair can rebuild it'"
    )
    op.execute(
        "CREATE UNIQUE INDEX reg_reports_key_in_force_idx ON reg_reports (regime, report_key) "
        "WHERE status <> 'superseded'"
    )
    op.execute("CREATE INDEX reg_reports_key_idx ON reg_reports (regime, report_key)")
    op.execute("CREATE INDEX reg_reports_fund_idx ON reg_reports (fund_id, regime, id)")
    op.execute("CREATE INDEX reg_reports_status_idx ON reg_reports (status, id)")
    op.execute(
        "CREATE INDEX reg_reports_pending_idx ON reg_reports (regime, fund_id, trade_date, id) "
        "WHERE status = 'pending'"
    )
    op.execute("CREATE INDEX reg_reports_file_idx ON reg_reports (file_id) WHERE file_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP TABLE reg_reports")
    op.execute("DROP TABLE reg_files")
