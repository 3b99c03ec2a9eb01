"""baseline of the compliance service's schema (empty; later revisions add its tables)

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
