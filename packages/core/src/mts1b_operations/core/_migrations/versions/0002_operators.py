"""operators: the registered people behind operator actions, with hashed bearer tokens

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
        CREATE TABLE operators (
            name          text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,63}$'),
            role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            token_hash    text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
            token_prefix  text        NOT NULL CHECK (token_prefix <> ''),
            created_at    timestamptz NOT NULL DEFAULT now(),
            expires_at    timestamptz NULL,
            revoked_at    timestamptz NULL,
            created_by    text        NOT NULL CHECK (created_by <> ''),
            CHECK (expires_at IS NULL OR expires_at > created_at)
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE operators IS 'people who may act on the operations plane; "
        "only sha256(token) is stored, never the token'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE operators")
