"""bars: OHLCV bars as published on the bus, one row per (symbol, interval, start)

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-03 00:00:00
"""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        r"""
        CREATE TABLE bars (
            symbol       text             NOT NULL CHECK (symbol ~ '^[A-Za-z0-9_\-:=@^~]{1,128}$'),
            bar_interval text             NOT NULL CHECK (bar_interval IN ('1m', '5m', '15m', '1h', '1d')),
            starts_at    timestamptz      NOT NULL,
            ends_at      timestamptz      NOT NULL,
            open         double precision NOT NULL CHECK (open > 0),
            high         double precision NOT NULL CHECK (high > 0),
            low          double precision NOT NULL CHECK (low > 0),
            close        double precision NOT NULL CHECK (close > 0),
            volume       double precision NOT NULL CHECK (volume >= 0),
            vwap         double precision NULL CHECK (vwap > 0),
            trade_count  bigint           NULL CHECK (trade_count >= 0),
            updated_at   timestamptz      NOT NULL DEFAULT now(),
            PRIMARY KEY (symbol, bar_interval, starts_at),
            CHECK (ends_at > starts_at),
            CHECK (low <= high),
            CHECK (open BETWEEN low AND high),
            CHECK (close BETWEEN low AND high)
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE bars IS 'OHLCV bars from mts.v1.marketdata.bar.*; coarser ones are also "
        "aggregated from finer ones at query time (mts1b-marketdata-api)'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS bars")
