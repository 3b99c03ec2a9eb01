"""Validation of symbols and bars queries: every refusal names its parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mts1b_operations.marketdata.domain import (
    MAX_LIMIT,
    InvalidParameterError,
    bars_query,
    bucket_ceil,
    bucket_floor,
    parse_interval,
    validate_symbol,
)

NOW = datetime(2024, 3, 5, 14, 37, 12, tzinfo=UTC)


def query(**kw: object) -> object:
    args: dict[str, object] = {"start": None, "end": None, "limit": 100, "now": NOW, **kw}
    symbol = args.pop("symbol", "AAPL")
    interval = args.pop("interval", "1h")
    return bars_query(symbol, interval, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol", ["AAPL", "BRK-B", "ES=F", "x", "A" * 128, "fx:EUR_USD"])
def test_valid_symbols_pass(symbol: str) -> None:
    assert validate_symbol(symbol) == symbol


@pytest.mark.parametrize("symbol", ["", "A" * 129, "BRK.B", "a b", "AAPL\n", "ÄPFEL", "a/b", "*", ">"])
def test_malformed_symbols_name_the_parameter(symbol: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        validate_symbol(symbol)
    assert caught.value.parameter == "symbol"


def test_unknown_interval_names_it() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_interval("2m")
    assert caught.value.parameter == "interval"
    assert "1m, 5m, 15m, 1h, 1d" in str(caught.value)


def test_buckets_are_utc_aligned() -> None:
    ts = datetime(2024, 3, 5, 14, 37, 12, tzinfo=UTC)
    assert bucket_floor(ts, "1m") == datetime(2024, 3, 5, 14, 37, tzinfo=UTC)
    assert bucket_floor(ts, "5m") == datetime(2024, 3, 5, 14, 35, tzinfo=UTC)
    assert bucket_floor(ts, "15m") == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert bucket_floor(ts, "1h") == datetime(2024, 3, 5, 14, tzinfo=UTC)
    assert bucket_floor(ts, "1d") == datetime(2024, 3, 5, tzinfo=UTC)
    # A time with an offset falls in the UTC bucket, not the local one.
    local = datetime(2024, 3, 6, 1, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert bucket_floor(local, "1d") == datetime(2024, 3, 6, tzinfo=UTC)
    assert bucket_ceil(datetime(2024, 3, 5, tzinfo=UTC), "1d") == datetime(2024, 3, 5, tzinfo=UTC)
    assert bucket_ceil(ts, "1d") == datetime(2024, 3, 6, tzinfo=UTC)


def test_defaults_end_with_the_bucket_in_progress() -> None:
    q = query(interval="1h")
    assert q.end == datetime(2024, 3, 5, 15, tzinfo=UTC)  # type: ignore[attr-defined]
    assert q.end_given is False  # type: ignore[attr-defined]


def test_inverted_range_names_end() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        query(start=NOW, end=NOW - timedelta(hours=1))
    assert caught.value.parameter == "end"
    assert "inverted" in caught.value.problem
    with pytest.raises(InvalidParameterError) as caught:
        query(start=NOW, end=NOW)
    assert caught.value.parameter == "end"


def test_start_in_the_future_without_end_names_start() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        query(start=NOW + timedelta(days=3))
    assert caught.value.parameter == "start"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start", datetime(1969, 12, 31, 23, 59, tzinfo=UTC)),
        ("end", datetime(2100, 1, 1, tzinfo=UTC)),
        ("start", datetime(1, 1, 1, tzinfo=UTC)),
        ("end", datetime(9999, 12, 31, tzinfo=UTC)),
    ],
)
def test_absurd_instants_name_the_parameter(name: str, value: datetime) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        query(**{name: value})
    assert caught.value.parameter == name
    assert "1970-01-01 to 2100-01-01" in caught.value.problem


@pytest.mark.parametrize("limit", [0, -1, -5000])
def test_bad_limit_names_it(limit: int) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        query(limit=limit)
    assert caught.value.parameter == "limit"


def test_limit_is_capped() -> None:
    assert query(limit=MAX_LIMIT * 10).limit == MAX_LIMIT  # type: ignore[attr-defined]


def test_naive_times_are_utc() -> None:
    q = query(start=datetime(2024, 3, 1), end=datetime(2024, 3, 2))
    assert q.start == datetime(2024, 3, 1, tzinfo=UTC)  # type: ignore[attr-defined]
    assert q.end == datetime(2024, 3, 2, tzinfo=UTC)  # type: ignore[attr-defined]


def test_window_covers_the_newest_limit_buckets() -> None:
    q = query(interval="1h", end=datetime(2024, 3, 5, 10, 30, tzinfo=UTC), limit=3)
    # Bars starting before 10:30 → buckets 08:00, 09:00, 10:00; the 10:00 bucket read in full.
    assert q.window == (  # type: ignore[attr-defined]
        datetime(2024, 3, 5, 8, tzinfo=UTC),
        datetime(2024, 3, 5, 11, tzinfo=UTC),
    )
    q = query(
        interval="1h", start=datetime(2024, 3, 5, 9, 10, tzinfo=UTC), end=datetime(2024, 3, 5, 12, tzinfo=UTC)
    )
    # A bucket starting before `start` is outside the range.
    assert q.window[0] == datetime(2024, 3, 5, 10, tzinfo=UTC)  # type: ignore[attr-defined]


def test_closed_ranges() -> None:
    assert query(end=datetime(2024, 3, 5, 14, tzinfo=UTC)).is_closed(NOW)  # type: ignore[attr-defined]
    assert not query(end=datetime(2024, 3, 5, 14, 30, tzinfo=UTC)).is_closed(NOW)  # type: ignore[attr-defined]
