"""outbox: events committed with the state they describe, awaiting publish to NATS

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE outbox (
            id          bigserial   PRIMARY KEY,
            event_id    text        NOT NULL UNIQUE CHECK (event_id <> ''),
            source      text        NOT NULL CHECK (source <> ''),
            subject     text        NOT NULL CHECK (subject <> ''),
            payload     bytea       NOT NULL,
            headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE outbox IS 'events awaiting publish to NATS; a row is deleted once published'"
    )
    # The relay's query: one source's rows in id order. Published rows are deleted, so every row is
    # pending and the index needs no predicate.
    op.execute("CREATE INDEX outbox_source_id_idx ON outbox (source, id)")
    op.execute(
        """
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('mts_outbox', NEW.source);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE outbox")
    op.execute("DROP FUNCTION outbox_notify()")
