"""The replay against real NATS: a file's trades land exactly and in order; scenarios stream live."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from mts1b_operations.core.bus import MSG_ID_HEADER, Bus
from mts1b_operations.core.schemas import Bar, NewsItem, Quote, Trade, decode
from mts1b_operations.core.testing import stream_messages
from mts1b_operations.devstack.replay import (
    FLASH_CRASH,
    MarketPublisher,
    SyntheticOptions,
    run_file,
    run_synthetic,
    trade_messages,
)

from .conftest import Recorder, until

TRADES = pl.DataFrame(
    {
        "symbol": ["AAPL", "MSFT", "AAPL", "NVDA", "AAPL", "MSFT"],
        "ts": [
            "2025-01-06T14:30:00Z",
            "2025-01-06T14:30:00.5Z",
            "2025-01-06T14:29:59Z",  # out of time order on purpose: file order wins
            "2025-01-06T14:30:01Z",
            "2025-01-06T14:30:02Z",
            "2025-01-06T14:30:02Z",
        ],
        "price": [190.5, 410.25, 190.45, 120.0, 190.6, 410.3],
        "size": [100.0, 20.0, 5.0, 300.0, 1.0, 7.0],
        "side": [1, -1, None, 1, -1, 1],
        "trade_id": ["a", "b", "c", "d", "e", "f"],
    }
)


def expected_trades() -> list[Trade]:
    return [
        Trade(
            symbol=row["symbol"],
            ts=datetime.fromisoformat(row["ts"]).astimezone(UTC),
            price=row["price"],
            size=row["size"],
            side=row["side"],
            trade_id=row["trade_id"],
        )
        for row in TRADES.iter_rows(named=True)
    ]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
async def test_a_file_replay_publishes_exactly_its_trades_in_order(
    bus: Bus, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"trades.{kind}"
    if kind == "csv":
        TRADES.write_csv(path)
    else:
        TRADES.write_parquet(path)
    stats = await run_file(bus, path, asyncio.Event(), run_id="file-run")
    assert stats.published == TRADES.height

    stored = await stream_messages(bus, "MARKETDATA")
    assert [m.subject for m in stored] == [f"mts.v1.marketdata.trade.{s}" for s in TRADES["symbol"]]
    assert [decode(m.data or b"", Trade) for m in stored] == expected_trades()
    assert [(m.headers or {}).get(MSG_ID_HEADER) for m in stored] == [f"file-run-{i}" for i in range(6)]


async def test_republishing_with_the_same_msg_ids_adds_nothing(bus: Bus, tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    TRADES.write_csv(path)
    await run_file(bus, path, asyncio.Event(), run_id="once")
    trades = TRADES.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    again = MarketPublisher(bus)
    await again.publish_all(list(trade_messages(trades, [f"once-{i}" for i in range(6)])))
    assert again.duplicates == 6
    assert len(await stream_messages(bus, "MARKETDATA")) == 6


async def test_a_rate_cap_spaces_the_messages(bus: Bus, tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    TRADES.write_csv(path)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await run_file(bus, path, asyncio.Event(), rate=20.0)
    assert loop.time() - began >= 5 / 20.0  # six messages, five gaps of 1/20 s


async def test_a_scenario_streams_trades_quotes_bars_news_and_history(bus: Bus, recorder: Recorder) -> None:
    stop = asyncio.Event()
    options = SyntheticOptions(scenario=FLASH_CRASH, seed=4, speed=40.0, history_days=3)
    start = datetime.now(UTC)
    task = asyncio.create_task(run_synthetic(bus, options, stop, start=start, run_id="live"))
    try:
        # The crash starts 60 market seconds in: 1.5 s of wall time at 40x, but the replay waits
        # for each PubAck, so on a loaded machine its ~1,500 messages before it take far longer.
        await until(
            lambda: len(recorder.on("mts.v1.news.item.")) >= 10, within=90, what="the crash's news burst"
        )
    finally:
        stop.set()
        stats = await asyncio.wait_for(task, 30)
    assert stats.dropped == 0
    # Published is not yet heard: the recorder's subscription is still catching up.
    await until(lambda: len(recorder.messages) == stats.published, within=30, what="every message heard")
    trades = [decode(m.data, Trade) for m in recorder.on("mts.v1.marketdata.trade.")]
    quotes = [decode(m.data, Quote) for m in recorder.on("mts.v1.marketdata.quote.")]
    bars = [decode(m.data, Bar) for m in recorder.on("mts.v1.marketdata.bar.")]
    news = [decode(m.data, NewsItem) for m in recorder.on("mts.v1.news.item.")]
    assert {t.side for t in trades} == {1, -1}
    assert {q.symbol for q in quotes} == {"AAPL", "MSFT", "NVDA", "SPY", "TSLA"}
    assert sum(1 for b in bars if b.interval == "1d") == 15  # 3 days of history for 5 symbols
    assert any(b.interval == "1m" for b in bars)
    assert all(n.sentiment is not None for n in news)
    assert len(await stream_messages(bus, "NEWS")) == len(news)


async def test_the_replay_process_streams_and_exits_0_on_sigterm(
    nats_url: str, recorder: Recorder, tmp_path: Path
) -> None:
    log = tmp_path / "replay.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mts1b_operations.devstack.replay", "--scenario", "calm", "--seed", "2",
            "--speed", "5", "--history-days", "1",
            env={**os.environ, "MTS_NATS_URL": nats_url}, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    try:
        await until(
            lambda: len(recorder.on("mts.v1.marketdata.quote.")) >= 10,
            within=30,
            what="quotes from the process",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
    text = log.read_text()
    assert code == 0, text
    assert "replay ready: scenario calm" in text
    assert "mts-replay stopped" in text


def test_the_replay_process_refuses_a_bad_file_before_publishing(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("symbol,ts,price\nA,2025-01-06T14:30:00Z,1\n")
    result = subprocess.run(
        [sys.executable, "-m", "mts1b_operations.devstack.replay", "--file", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "MTS_NATS_URL": "nats://127.0.0.1:1"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "--file" in result.stderr
    assert "size: required column is missing" in result.stderr
