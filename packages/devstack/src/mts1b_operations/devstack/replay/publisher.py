"""Publish replayed market data through core.bus: JetStream, a Nats-Msg-Id per message, a rate cap.

Every message of a batch goes out in time order (trades before the quote of the same
instant, bars at their end time); within one publisher, order is preserved end to end because
each publish waits for its PubAck before the next one starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import polars as pl

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import Bar, NewsItem, Payload, Quote, Trade

from .generator import MarketBatch

__all__ = ["MarketPublisher", "Message", "Pacer", "bar_messages", "batch_messages", "trade_messages"]

log = logging.getLogger(__name__)

_BEHIND: Final = 0.5
"""A pacer more than this many seconds behind schedule starts afresh instead of bursting."""


class Pacer:
    """Spaces calls to :meth:`wait` at most ``rate`` per second (``None``: no limit)."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"rate: must be > 0 messages per second or None, got {rate!r}")
        self.rate = rate
        self._next: float | None = None

    async def wait(self) -> None:
        if self.rate is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next is None or self._next < now - _BEHIND:
            self._next = now
        delay = self._next - now
        if delay > 0:
            await asyncio.sleep(delay)
        self._next += 1.0 / self.rate


@dataclass(frozen=True, order=True)
class Message:
    ts: datetime
    rank: int
    seq: int
    subject: str = field(compare=False)
    payload: Payload = field(compare=False)
    msg_id: str = field(compare=False)


def _rows(frame: pl.DataFrame) -> Iterator[dict[str, Any]]:
    return frame.iter_rows(named=True)


def trade_messages(trades: pl.DataFrame, msg_ids: list[str]) -> Iterator[Message]:
    for seq, (row, msg_id) in enumerate(zip(_rows(trades), msg_ids, strict=True)):
        side = row["side"]
        trade = Trade(
            symbol=row["symbol"],
            ts=row["ts"],
            price=row["price"],
            size=row["size"],
            side=None if side is None else int(side),  # type: ignore[arg-type]
            trade_id=row["trade_id"],
        )
        yield Message(row["ts"], 0, seq, subjects.marketdata_trade(row["symbol"]), trade, msg_id)


def _quote_messages(quotes: pl.DataFrame) -> Iterator[Message]:
    for seq, row in enumerate(_rows(quotes)):
        quote = Quote(
            symbol=row["symbol"],
            ts=row["ts"],
            bid=row["bid"],
            ask=row["ask"],
            bid_size=row["bid_size"],
            ask_size=row["ask_size"],
        )
        yield Message(row["ts"], 1, seq, subjects.marketdata_quote(row["symbol"]), quote, row["quote_id"])


def _news_messages(news: pl.DataFrame) -> Iterator[Message]:
    for seq, row in enumerate(_rows(news)):
        item = NewsItem(
            news_id=row["news_id"],
            symbol=row["symbol"],
            headline=row["headline"],
            source=row["source"],
            published_at=row["ts"],
            sentiment=row["sentiment"],
        )
        yield Message(row["ts"], 2, seq, subjects.news_item(row["symbol"]), item, row["news_id"])


def bar_messages(bars: pl.DataFrame, run_id: str) -> Iterator[Message]:
    """Bars as messages stamped with their end time; the msg id names run, interval, symbol, start."""
    for seq, row in enumerate(_rows(bars)):
        bar = Bar(
            symbol=row["symbol"],
            interval=row["interval"],
            start=row["start"],
            end=row["end"],
            open=row["open"],
            high=row["high"],
            low=row["low"],
            close=row["close"],
            volume=row["volume"],
            vwap=row["vwap"],
            trade_count=row["trade_count"],
        )
        msg_id = f"{run_id}-B{row['interval']}-{row['symbol']}-{row['start'].isoformat()}"
        yield Message(
            row["end"], 3, seq, subjects.marketdata_bar(row["interval"], row["symbol"]), bar, msg_id
        )


def batch_messages(batch: MarketBatch) -> list[Message]:
    """Every message of a batch, in time order."""
    messages = [
        *trade_messages(batch.trades, batch.trades["trade_id"].to_list()),
        *_quote_messages(batch.quotes),
        *_news_messages(batch.news),
        *bar_messages(batch.bars, batch.run_id),
    ]
    messages.sort()
    return messages


class MarketPublisher:
    """Publishes messages in order, at most ``rate`` per second; counts what went out."""

    def __init__(self, bus: Bus, *, rate: float | None = None, deadline: float = 10.0) -> None:
        if not deadline > 0:
            raise ValueError(f"deadline: must be > 0 seconds, got {deadline!r}")
        self._bus = bus
        self._pacer = Pacer(rate)
        self._deadline = deadline
        self.published = 0
        self.duplicates = 0
        self.by_kind: dict[str, int] = {}

    async def publish(self, message: Message) -> None:
        """Publish one message (retried by core.bus until ``deadline``; PublishError after)."""
        await self._pacer.wait()
        ack = await self._bus.publish(
            message.subject, message.payload, msg_id=message.msg_id, deadline=self._deadline
        )
        self.published += 1
        self.duplicates += int(bool(ack.duplicate))
        kind = type(message.payload).__name__
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    async def publish_all(self, messages: list[Message]) -> int:
        for message in messages:
            await self.publish(message)
        return len(messages)

    async def publish_batch(self, batch: MarketBatch) -> int:
        return await self.publish_all(batch_messages(batch))
