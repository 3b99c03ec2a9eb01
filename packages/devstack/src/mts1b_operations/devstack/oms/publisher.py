"""Everything the paper OMS says on NATS, published in order by one worker through core.bus.

Order events (mts.v1.oms.order.*) use their event id as Nats-Msg-Id and carry the reason of a
refusal or cancellation in the ``Mts-Reason`` header (OrderEvent has no field for it).
Snapshots (positions, NAV, greeks: mts.v1.portfolio.*; strategy P&L and signals:
mts.v1.strategy.*) get an id of this instance's own. Callers enqueue without waiting; a
publish is retried by core.bus, and while NATS is away snapshots are skipped rather than
queued (the next one supersedes them), order events never.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, BusError
from mts1b_operations.core.schemas import Payload, StrategySignal

from .book import BookEvent, PaperBook

__all__ = ["REASON_HEADER", "OmsPublisher", "Outgoing"]

log = logging.getLogger(__name__)

REASON_HEADER: Final = "Mts-Reason"
_MAX_HEADER: Final = 1024


@dataclass(frozen=True)
class Outgoing:
    subject: str
    payload: Payload
    msg_id: str
    reason: str | None = None


def _header_value(reason: str) -> str:
    return " ".join(reason.split())[:_MAX_HEADER]


class OmsPublisher:
    def __init__(self, bus: Bus, *, instance: str, max_backlog: int = 5000, deadline: float = 30.0) -> None:
        self._bus = bus
        self._instance = instance
        self._max_backlog = max_backlog
        self._deadline = deadline
        self._queue: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._seq = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.failed = 0
        self.skipped_snapshots = 0

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="oms-publisher")

    def _put(self, item: Outgoing) -> None:
        self._queue.append(item)
        self._idle.clear()
        self._ready.set()

    def order_events(self, events: Iterable[BookEvent]) -> None:
        for event in events:
            self._put(
                Outgoing(
                    subjects.oms_order(event.event.event), event.event, event.event.event_id, event.reason
                )
            )

    def _msg_id(self, kind: str) -> str:
        return f"{self._instance}-{kind}-{next(self._seq)}"

    def snapshot(self, book: PaperBook, ts: datetime, signals: Iterable[StrategySignal] = ()) -> bool:
        """Positions, NAV and greeks of every fund, P&L of every strategy, and ``signals``.

        Skipped (False) while NATS is unreachable or the backlog is long: the next one supersedes it.
        """
        if not self._bus.is_connected or self.backlog > self._max_backlog:
            self.skipped_snapshots += 1
            return False
        for fund_id in book.fund_ids:
            for position in book.positions(fund_id, ts):
                self._put(Outgoing(subjects.portfolio_position(fund_id), position, self._msg_id("pos")))
            self._put(Outgoing(subjects.portfolio_nav(fund_id), book.nav(fund_id, ts), self._msg_id("nav")))
            self._put(
                Outgoing(subjects.portfolio_greeks(fund_id), book.greeks(fund_id, ts), self._msg_id("grk"))
            )
        for pnl in book.strategy_pnl(ts):
            self._put(Outgoing(subjects.strategy_pnl(pnl.strategy_id), pnl, self._msg_id("pnl")))
        for signal in signals:
            self._put(Outgoing(subjects.strategy_signal(signal.strategy_id), signal, self._msg_id("sig")))
        return True

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            while self._queue:
                item = self._queue[0]
                headers = {REASON_HEADER: _header_value(item.reason)} if item.reason else None
                try:
                    await self._bus.publish(
                        item.subject,
                        item.payload,
                        msg_id=item.msg_id,
                        headers=headers,
                        deadline=self._deadline,
                    )
                    self.published += 1
                except BusError as exc:
                    self.failed += 1
                    log.warning("dropped %s after retrying: %s", item.subject, exc)
                self._queue.popleft()
            self._ready.clear()
            self._idle.set()

    async def drain(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 - a bound on the flush
        """Wait until everything queued is published (at most ``timeout`` s), then stop the worker."""
        drained = True
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except TimeoutError:
                drained = False
                log.warning("%d message(s) not published at shutdown", self.backlog)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return drained
