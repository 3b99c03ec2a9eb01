"""The synthetic market: seeded determinism, what each scenario looks like, bars that add up."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mts1b_operations.core.schemas import encode
from mts1b_operations.devstack.replay import (
    CALM,
    FLASH_CRASH,
    VOL_REGIME,
    MarketBatch,
    MarketGenerator,
    Scenario,
    batch_messages,
    get_scenario,
)

START = datetime(2025, 1, 6, 14, 30, tzinfo=UTC)


def play(scenario: Scenario, seconds: int, *, seed: int = 11, start: datetime = START) -> list[MarketBatch]:
    generator = MarketGenerator(scenario, seed=seed, start=start)
    return [generator.advance(1.0) for _ in range(seconds)]


def frame(batches: list[MarketBatch], kind: str) -> pl.DataFrame:
    frames: list[pl.DataFrame] = [getattr(b, kind) for b in batches]
    return pl.concat(frames)


def within(df: pl.DataFrame, column: str, a: float, b: float, start: datetime = START) -> pl.DataFrame:
    """Rows whose ``column`` lies in [start + a s, start + b s)."""
    return df.filter(
        (pl.col(column) >= start + timedelta(seconds=a)) & (pl.col(column) < start + timedelta(seconds=b))
    )


def buy_share(trades: pl.DataFrame) -> float:
    return float((trades["side"] == 1).mean())  # type: ignore[arg-type]


def test_the_same_seed_gives_the_same_market_and_another_seed_does_not() -> None:
    first, second = play(FLASH_CRASH, 90, seed=5), play(FLASH_CRASH, 90, seed=5)
    for kind in ("trades", "quotes", "news", "bars"):
        assert frame(first, kind).equals(frame(second, kind)), kind
    other = play(FLASH_CRASH, 90, seed=6)
    assert not frame(first, "trades").equals(frame(other, "trades"))
    assert frame(first, "trades").height > 1000


def test_flash_crash_has_one_sided_selling_a_price_collapse_and_a_news_burst() -> None:
    batches = play(FLASH_CRASH, 120)
    trades, news = frame(batches, "trades"), frame(batches, "news")
    crash_start, crash_end = FLASH_CRASH.window("crash")
    calm_trades = within(trades, "ts", 0, crash_start)
    crash_trades = within(trades, "ts", crash_start, crash_end)

    assert 0.4 < buy_share(calm_trades) < 0.6
    assert buy_share(crash_trades) < 0.15  # nearly every aggressor sells
    assert crash_trades.height > 3 * calm_trades.height * (crash_end - crash_start) / crash_start

    before = calm_trades.group_by("symbol").agg(pl.col("price").last().alias("before"))
    low = crash_trades.group_by("symbol").agg(pl.col("price").min().alias("low"))
    drop = before.join(low, on="symbol").with_columns(ratio=pl.col("low") / pl.col("before"))
    assert drop.height == 5
    assert (drop["ratio"] < 0.93).all()  # every symbol fell by more than 7%

    crash_news = within(news, "ts", crash_start, crash_end)
    calm_news = within(news, "ts", 0, crash_start)
    assert crash_news.height >= 15
    assert calm_news.height <= 3
    assert float(crash_news["sentiment"].mean()) < -0.5  # type: ignore[arg-type]


def test_calm_has_balanced_flow_no_news_burst_and_small_moves() -> None:
    batches = play(CALM, 120)
    trades, news = frame(batches, "trades"), frame(batches, "news")
    for a in range(0, 120, 20):
        assert 0.35 < buy_share(within(trades, "ts", a, a + 20)) < 0.65, a
    assert news.height <= 3
    span = trades.group_by("symbol").agg((pl.col("price").max() / pl.col("price").min()).alias("span"))
    assert span["span"].max() < 1.02  # type: ignore[operator]


def test_vol_regime_switches_volatility() -> None:
    batches = play(VOL_REGIME, 180)
    quotes = frame(batches, "quotes").with_columns(mid=(pl.col("bid") + pl.col("ask")) / 2)

    def vol(a: float, b: float) -> float:
        part = within(quotes, "ts", a, b).sort("symbol", "ts")
        returns = part.group_by("symbol", maintain_order=True).agg(pl.col("mid").log().diff().drop_nulls())
        return float(np.std(np.concatenate(returns["mid"].to_list())))

    low_end = VOL_REGIME.window("low-vol")[1]
    high = VOL_REGIME.window("high-vol")
    assert vol(*high) > 3 * vol(0, low_end)


def test_one_minute_bars_aggregate_the_trades_and_a_daily_bar_closes_at_midnight() -> None:
    start = datetime(2025, 1, 6, 23, 57, 30, tzinfo=UTC)
    batches = play(CALM, 210, start=start)  # to 00:01:00
    trades, bars = frame(batches, "trades"), frame(batches, "bars")
    minute = bars.filter(pl.col("interval") == "1m")
    # Bars of 23:57, 23:58, 23:59 and 00:00 closed; the one of 23:57 only covers the last 30 s.
    assert sorted(set(minute["start"].dt.strftime("%H:%M").to_list())) == ["00:00", "23:57", "23:58", "23:59"]
    expected = (
        trades.with_columns(start=pl.col("ts").dt.truncate("1m"))
        .group_by("symbol", "start")
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("size").sum(),
            trade_count=pl.len().cast(pl.Int64),
        )
    )
    joined = minute.join(expected, on=["symbol", "start"], suffix="_want")
    assert joined.height == minute.height == 20
    for column in ("open", "high", "low", "close", "volume", "trade_count"):
        assert (joined[column] == joined[f"{column}_want"]).all(), column

    daily = bars.filter(pl.col("interval") == "1d")
    assert daily.height == 5
    assert (daily["start"] == datetime(2025, 1, 6, tzinfo=UTC)).all()
    before_midnight = trades.filter(pl.col("ts") < datetime(2025, 1, 7, tzinfo=UTC))
    volume = before_midnight.group_by("symbol").agg(pl.col("size").sum())
    assert daily.join(volume, on="symbol").select((pl.col("volume") == pl.col("size")).all()).item()


def test_daily_history_ends_at_the_start_prices_on_weekdays_before_the_start() -> None:
    generator = MarketGenerator(CALM, seed=3, start=START, symbols=("AAA", "BBB"), prices={"AAA": 50.0})
    history = generator.daily_history(30)
    assert history.height == 60
    assert history["start"].max() < datetime(2025, 1, 6, tzinfo=UTC)  # type: ignore[operator]
    assert set(history["start"].dt.weekday().to_list()) <= {1, 2, 3, 4, 5}
    last = history.filter(pl.col("start") == history["start"].max())
    assert dict(zip(last["symbol"], last["close"], strict=True)) == {"AAA": 50.0, "BBB": 100.0}
    assert history.select(
        (
            (pl.col("low") <= pl.min_horizontal("open", "close"))
            & (pl.col("high") >= pl.max_horizontal("open", "close"))
        ).all()
    ).item()
    again = MarketGenerator(CALM, seed=3, start=START, symbols=("AAA", "BBB"), prices={"AAA": 50.0})
    again.advance(10)
    assert again.daily_history(30).equals(history)  # history does not depend on the live stream


def test_every_message_of_a_crash_fits_its_schema() -> None:
    batches = play(FLASH_CRASH, 80)
    messages = [m for b in batches for m in batch_messages(b)]
    kinds = {type(m.payload).__name__ for m in messages}
    assert kinds == {"Trade", "Quote", "NewsItem", "Bar"}
    assert all(encode(m.payload) for m in messages)
    assert len({m.msg_id for m in messages}) == len(messages)
    stamps = [m.ts for m in messages]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": -1}, "seed"),
        ({"symbols": ()}, "symbols"),
        ({"symbols": ("A.B",)}, "symbols"),
        ({"symbols": ("X", "X")}, "symbols"),
        ({"start": datetime(2025, 1, 6)}, "start"),  # naive: the point of the case
        ({"quote_interval": 0.0}, "quote_interval"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"seed": 1, "start": START, **kwargs}
    with pytest.raises(ValueError, match=f"^{field}: "):
        MarketGenerator(CALM, **arguments)  # type: ignore[arg-type]


def test_scenarios_are_found_by_name_and_phases_cycle() -> None:
    assert get_scenario("flash-crash") is FLASH_CRASH
    with pytest.raises(KeyError, match="choose one of calm, flash-crash, vol-regime"):
        get_scenario("crash")
    start, end = FLASH_CRASH.window("crash")
    assert FLASH_CRASH.phase_at(start).name == "crash"
    assert FLASH_CRASH.phase_at(end).name == "recovery"
    assert FLASH_CRASH.phase_at(FLASH_CRASH.cycle + start + 1).name == "crash"
    assert math.isclose(FLASH_CRASH.window("crash", cycle=1)[0], FLASH_CRASH.cycle + start)
