"""Coarser bars from finer ones with polars: UTC buckets, OHLCV rules, published bars win."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mts1b_operations.marketdata.domain import BAR_COLUMNS, Bar, aggregate, merge_bars

T0 = datetime(2024, 1, 2, tzinfo=UTC)


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {
        "start": pl.Datetime("us", "UTC"),
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Float64,
        "vwap": pl.Float64,
        "trade_count": pl.Int64,
    }
    return pl.DataFrame({c: [r[c] for r in rows] for c in BAR_COLUMNS}, schema=schema)  # type: ignore[arg-type]


def row(minute: int, o: float, h: float, lo: float, c: float, v: float, vwap: float | None = None,
        n: int | None = 1) -> dict[str, object]:  # fmt: skip
    return {"start": T0 + timedelta(minutes=minute), "open": o, "high": h, "low": lo, "close": c,
            "volume": v, "vwap": vwap if vwap is not None else (h + lo) / 2, "trade_count": n}  # fmt: skip


def test_five_minute_bars_from_one_minute_bars() -> None:
    rows = [
        row(0, 10, 11, 9, 10.5, 100, vwap=10.0, n=3),
        row(1, 10.5, 13, 10, 12, 300, vwap=12.0, n=5),
        row(4, 12, 12.5, 8, 9, 100, vwap=9.0, n=2),
        row(5, 9, 9.5, 8.5, 9.2, 50, vwap=9.1, n=1),  # the next bucket
    ]
    bars = aggregate(frame(list(reversed(rows))), symbol="AAPL", interval="5m")
    assert [b.start for b in bars] == [T0, T0 + timedelta(minutes=5)]
    first = bars[0]
    assert (first.open, first.high, first.low, first.close) == (10, 13, 8, 9)
    assert first.volume == 500
    assert first.vwap == (10.0 * 100 + 12.0 * 300 + 9.0 * 100) / 500
    assert first.trade_count == 10
    assert first.end == T0 + timedelta(minutes=5)
    assert first.source == "aggregated"
    assert first.interval == "5m"
    assert first.symbol == "AAPL"
    assert bars[1].open == 9
    assert bars[1].close == 9.2


def test_daily_bars_follow_the_utc_calendar_day() -> None:
    # 23:59 on Jan 1 and 00:00 on Jan 2 are different UTC days.
    rows = [row(-1, 5, 5, 5, 5, 1), row(0, 6, 6, 6, 6, 1), row(24 * 60 - 1, 7, 7, 7, 7, 1)]
    bars = aggregate(frame(rows), symbol="X", interval="1d")
    assert [(b.start, b.open, b.close) for b in bars] == [
        (T0 - timedelta(days=1), 5, 5),
        (T0, 6, 7),
    ]


def test_missing_vwap_or_trade_count_makes_them_null() -> None:
    rows = [row(0, 1, 1, 1, 1, 10, n=None), row(1, 1, 1, 1, 1, 10)]
    rows[1]["vwap"] = None
    (only,) = aggregate(frame(rows), symbol="X", interval="1h")
    assert only.vwap is None
    assert only.trade_count is None
    zero = aggregate(frame([row(0, 1, 1, 1, 1, 0)]), symbol="X", interval="1h")
    assert zero[0].vwap is None  # no volume: no volume-weighted price


def test_drop_oldest_leaves_out_a_possibly_partial_bucket() -> None:
    rows = [row(m, 1, 1, 1, 1, 1) for m in (0, 5, 10)]
    bars = aggregate(frame(rows), symbol="X", interval="5m", drop_oldest=True)
    assert [b.start for b in bars] == [T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
    assert aggregate(frame([]), symbol="X", interval="5m") == []


def published(start: datetime, close: float) -> Bar:
    return Bar(symbol="X", interval="1h", start=start, end=start + timedelta(hours=1),
               open=close, high=close, low=close, close=close, volume=1)  # fmt: skip


def test_published_bars_win_over_aggregated_ones() -> None:
    agg = aggregate(frame([row(m * 60, 1, 1, 1, 1, 1) for m in range(4)]), symbol="X", interval="1h")
    # A published bar whose start is not aligned still occupies its UTC bucket.
    pub = [published(T0 + timedelta(hours=1, minutes=30), 50.0)]
    merged = merge_bars(pub, agg, interval="1h", limit=10)
    assert [(b.start, b.source) for b in merged] == [
        (T0, "aggregated"),
        (T0 + timedelta(hours=1, minutes=30), "published"),
        (T0 + timedelta(hours=2), "aggregated"),
        (T0 + timedelta(hours=3), "aggregated"),
    ]
    assert [b.start for b in merge_bars(pub, agg, interval="1h", limit=2)] == [
        T0 + timedelta(hours=2),
        T0 + timedelta(hours=3),
    ]


prices = st.floats(min_value=0.01, max_value=1e6, allow_nan=False)


@st.composite
def minute_bars(draw: st.DrawFn) -> list[dict[str, object]]:
    minutes = draw(st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=60, unique=True))
    out = []
    for m in minutes:
        a, b, c, d = draw(prices), draw(prices), draw(prices), draw(prices)
        lo, hi = min(a, b, c, d), max(a, b, c, d)
        out.append(
            row(m, a, hi, lo, d, draw(st.floats(0, 1e6)), vwap=(lo + hi) / 2, n=draw(st.integers(0, 99)))
        )
    return out


@settings(max_examples=60, deadline=None)
@given(rows=minute_bars(), interval=st.sampled_from(["5m", "15m", "1h", "1d"]))
def test_aggregation_keeps_totals_and_extremes(rows: list[dict[str, object]], interval: str) -> None:
    bars = aggregate(frame(rows), symbol="X", interval=interval)  # type: ignore[arg-type]
    ordered = sorted(rows, key=lambda r: r["start"])  # type: ignore[arg-type, return-value]
    total = sum(float(r["volume"]) for r in rows)  # type: ignore[arg-type]
    assert sum(b.volume for b in bars) == pytest.approx(total, rel=1e-12, abs=1e-9)
    assert sum(b.trade_count or 0 for b in bars) == sum(int(r["trade_count"]) for r in rows)  # type: ignore[call-overload]
    assert max(b.high for b in bars) == max(float(r["high"]) for r in rows)  # type: ignore[arg-type]
    assert min(b.low for b in bars) == min(float(r["low"]) for r in rows)  # type: ignore[arg-type]
    assert bars[0].open == ordered[0]["open"]
    assert bars[-1].close == ordered[-1]["close"]
    for b in bars:
        assert b.low <= min(b.open, b.close)
        assert max(b.open, b.close) <= b.high
        assert b.start < b.end
        assert (b.start - T0).total_seconds() % 60 == 0
    assert [b.start for b in bars] == sorted({b.start for b in bars})
