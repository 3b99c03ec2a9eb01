"""Reading a trades file: CSV and parquet, normalised, in file order; bad input names column and row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from mts1b_operations.devstack.replay import TRADE_COLUMNS, TradeFileError, read_trades

CSV = """symbol,ts,price,size,side,trade_id,venue
AAPL,2025-01-06T14:30:00Z,190.5,100,buy,t1,X
MSFT,2025-01-06T15:30:00.250+01:00,410.25,20,-1,t2,X
AAPL,2025-01-06 14:30:01,190.4,50,,t3,X
"""


def test_a_csv_file_is_read_in_file_order_with_utc_times_and_sides(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(CSV)
    trades = read_trades(path)
    assert trades.columns == list(TRADE_COLUMNS)
    assert trades["symbol"].to_list() == ["AAPL", "MSFT", "AAPL"]
    assert trades["ts"].to_list() == [
        datetime(2025, 1, 6, 14, 30, tzinfo=UTC),
        datetime(2025, 1, 6, 14, 30, 0, 250000, tzinfo=UTC),
        datetime(2025, 1, 6, 14, 30, 1, tzinfo=UTC),
    ]
    assert trades["side"].to_list() == [1, -1, None]
    assert trades["price"].to_list() == [190.5, 410.25, 190.4]
    assert trades["trade_id"].to_list() == ["t1", "t2", "t3"]


def test_a_parquet_file_with_naive_datetimes_and_no_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "trades.parquet"
    pl.DataFrame(
        {
            "symbol": ["SPY", "SPY"],
            "ts": [datetime(2025, 1, 6, 14, 31), datetime(2025, 1, 6, 14, 30)],  # naive: read as UTC
            "price": [520.0, 519.5],
            "size": [1, 2],
        }
    ).write_parquet(path)
    trades = read_trades(path)
    assert trades["ts"].to_list() == [
        datetime(2025, 1, 6, 14, 31, tzinfo=UTC),
        datetime(2025, 1, 6, 14, 30, tzinfo=UTC),
    ]  # file order, not time order
    assert trades["side"].to_list() == [None, None]
    assert trades["trade_id"].to_list() == [None, None]
    assert trades["price"].dtype == pl.Float64


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("symbol,ts,price\nA,2025-01-06T14:30:00Z,1\n", r"size: required column is missing"),
        ("symbol,ts,price,size\nA,yesterday,1,1\n", r"ts: row 0: 'yesterday' is not a timestamp"),
        (
            "symbol,ts,price,size\nA,2025-01-06T14:30:00Z,1,1\nA,2025-01-06T14:30:00Z,-2,1\n",
            r"price: row 1: ",
        ),
        ("symbol,ts,price,size\nA,2025-01-06T14:30:00Z,1,zero\n", r"size: row 0: 'zero' is not a positive"),
        ("symbol,ts,price,size,side\nA,2025-01-06T14:30:00Z,1,1,up\n", r"side: row 0: 'up' is not 1, -1"),
        ("symbol,ts,price,size\nA.B,2025-01-06T14:30:00Z,1,1\n", r"symbol: row 0: 'A.B' is not a single"),
        ("symbol,ts,price,size\nA,1736173800,1,1\n", r"ts: expected ISO-8601 text or a datetime column"),
    ],
)
def test_bad_content_names_the_column_and_row(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TradeFileError, match=message) as caught:
        read_trades(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_and_an_unknown_type_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TradeFileError, match="no such file"):
        read_trades(tmp_path / "nope.csv")
    other = tmp_path / "trades.json"
    other.write_text("[]")
    with pytest.raises(TradeFileError, match=r"unsupported file type '\.json'"):
        read_trades(other)
