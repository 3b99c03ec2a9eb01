"""halts: every halt ever requested, the requests behind each, and the refused attempts

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00
"""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE halts (
            halt_id               text        PRIMARY KEY CHECK (halt_id <> ''),
            scope_key             text        NOT NULL,
            severity              text        NOT NULL
                                  CHECK (severity IN ('FIRM_HALT', 'FUND_HALT', 'STRATEGY_HALT')),
            mode                  text        NOT NULL
                                  CHECK (mode IN ('block_new', 'cancel_open', 'flatten')),
            fund_id               text        NULL,
            strategy_id           text        NULL,
            reason                text        NOT NULL CHECK (reason <> ''),
            requested_by          text        NOT NULL CHECK (requested_by <> ''),
            triggered_by_watchdog text        NULL,
            watchdog_subject_id   text        NULL,
            requested_at          timestamptz NOT NULL DEFAULT now(),
            request_count         integer     NOT NULL DEFAULT 1 CHECK (request_count >= 1),
            active                boolean     NOT NULL DEFAULT true,
            resumed_at            timestamptz NULL,
            resumed_by            text        NULL,
            cosigned_by           text        NULL,
            resume_reason         text        NULL,
            forced                boolean     NOT NULL DEFAULT false,
            CHECK (
                (severity = 'FIRM_HALT' AND scope_key = 'firm' AND fund_id IS NULL AND strategy_id IS NULL)
                OR (severity = 'FUND_HALT' AND fund_id IS NOT NULL AND strategy_id IS NULL
                    AND scope_key = 'fund.' || fund_id)
                OR (severity = 'STRATEGY_HALT' AND fund_id IS NOT NULL AND strategy_id IS NOT NULL
                    AND scope_key = 'strategy.' || strategy_id)
            ),
            CHECK (active = (resumed_at IS NULL)),
            CHECK (active OR (resumed_by IS NOT NULL AND cosigned_by IS NOT NULL)),
            CHECK (resumed_at IS NULL OR resumed_at >= requested_at)
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE halts IS 'halts of trading; active until resumed with an operator''s cosign'"
    )
    # At most one halt in force per scope: concurrent identical requests meet here, and the losers
    # join the winner (INSERT ... ON CONFLICT (scope_key) WHERE active DO NOTHING).
    op.execute("CREATE UNIQUE INDEX halts_one_active_per_scope ON halts (scope_key) WHERE active")
    op.execute("CREATE INDEX halts_requested_at_idx ON halts (requested_at DESC, halt_id)")
    op.execute(
        """
        CREATE TABLE halt_requests (
            request_id            bigserial   PRIMARY KEY,
            halt_id               text        NOT NULL REFERENCES halts (halt_id),
            request_no            integer     NOT NULL CHECK (request_no >= 1),
            requested_by          text        NOT NULL CHECK (requested_by <> ''),
            reason                text        NOT NULL CHECK (reason <> ''),
            mode                  text        NOT NULL
                                  CHECK (mode IN ('block_new', 'cancel_open', 'flatten')),
            triggered_by_watchdog text        NULL,
            watchdog_subject_id   text        NULL,
            requested_at          timestamptz NOT NULL DEFAULT now(),
            UNIQUE (halt_id, request_no)
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE halt_requests IS "
        "'every request for a halt: request_no 1 created it, later ones found it already in force'"
    )
    op.execute(
        """
        CREATE TABLE halt_refusals (
            refusal_id    bigserial   PRIMARY KEY,
            action        text        NOT NULL CHECK (action IN ('request', 'resume')),
            halt_id       text        NULL REFERENCES halts (halt_id),
            scope_key     text        NULL,
            requested_by  text        NULL,
            cosigned_by   text        NULL,
            code          text        NOT NULL CHECK (code <> ''),
            field         text        NULL,
            problem       text        NOT NULL CHECK (problem <> ''),
            refused_at    timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    )
    op.execute("COMMENT ON TABLE halt_refusals IS 'halt requests and resumes that were refused, and why'")
    op.execute("CREATE INDEX halt_refusals_halt_idx ON halt_refusals (halt_id, refusal_id)")


def downgrade() -> None:
    op.execute("DROP TABLE halt_refusals")
    op.execute("DROP TABLE halt_requests")
    op.execute("DROP TABLE halts")
