"""What the drill watches on NATS: the open orders of each fund, and the halt gate's view.

The OMS stream keeps every order event, so the drill learns the open orders without asking
the OMS: an ephemeral consumer replays the last ``lookback`` seconds of ``mts.v1.oms.order.*``
and then follows it live. An order is open from its ``accepted`` (or ``routed``) event until a
``filled`` (in full) or ``canceled`` one, so a new order the gate refuses is never counted.
Every event is stamped with the drill's monotonic clock on arrival, so a stage is timed by when
the drill *saw* it, the way an operator would.

:class:`GateWatch` is a client SDK :class:`HaltGate` on the same connection: the moment it sees
a fund's key appear in (or leave) the ``mts_halts`` bucket is when an order gate anywhere
would start (or stop) refusing that fund's orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import HaltRequested, OrderEvent, SchemaError, decode

if TYPE_CHECKING:
    from nats.aio.subscription import Subscription

    from mts1b_operations.client import HaltGate
    from mts1b_operations.core.bus import Bus

__all__ = ["Arrival", "GateWatch", "OrderTracker"]

_STREAM: Final = "OMS"
_TERMINAL: Final = frozenset({"filled", "canceled"})
# An order is open once the OMS took it (a "new" that is refused at once never was).
_WORKING: Final = frozenset({"accepted", "routed", "modified"})


@dataclass(frozen=True, slots=True)
class Arrival:
    event: OrderEvent
    at: float
    """``time.monotonic()`` when the drill received it."""
    was_open: bool
    """The order was open (seen, not yet filled or canceled) before this event."""


@dataclass
class OrderTracker:
    """Open orders per fund, replayed from the OMS stream and followed live."""

    bus: Bus
    lookback: float
    open: dict[str, OrderEvent] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    """Every event received once the replay caught up (the live part), in arrival order."""
    _processed: int = 0
    _synced: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _sub: Subscription | None = None
    _consumer: str | None = None

    async def start(self, timeout: float) -> None:  # noqa: ASYNC109 - a bound on the replay
        """Replay the last ``lookback`` seconds and follow live; returns once the replay caught up."""
        inbox = self.bus.nc.new_inbox()
        self._sub = await self.bus.nc.subscribe(inbox, cb=self._on_message)
        config = ConsumerConfig(
            deliver_subject=inbox,
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=datetime.now(UTC) - timedelta(seconds=self.lookback),
            ack_policy=AckPolicy.NONE,
            filter_subject=subjects.OMS_ORDER_ALL,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=30.0,
            description="mts cmd drill: open orders",
        )
        info = await self.bus.js.add_consumer(_STREAM, config=config, timeout=timeout)
        self._consumer = info.name
        deadline = time.monotonic() + timeout
        while True:
            state = await self.bus.js.consumer_info(_STREAM, info.name, timeout=timeout)
            delivered = (
                state.delivered.consumer_seq if state.delivered and state.delivered.consumer_seq else 0
            )
            if not state.num_pending and self._processed >= delivered:
                self._synced = True
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the OMS stream's last {self.lookback:g} s were not replayed in {timeout:g} s"
                )
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()
            self._sub = None
        if self._consumer is not None and self.bus.is_connected:
            with contextlib.suppress(Exception):
                await self.bus.js.delete_consumer(_STREAM, self._consumer)
            self._consumer = None

    async def _on_message(self, msg: Msg) -> None:
        self._processed += 1
        try:
            event = decode(msg.data, OrderEvent)
        except SchemaError:
            return
        was_open = event.order_id in self.open
        if event.event in _TERMINAL and (
            event.event == "canceled" or event.fill_quantity is None or event.fill_quantity >= event.quantity
        ):
            self.open.pop(event.order_id, None)
        elif event.event in _WORKING or was_open:
            self.open[event.order_id] = event
        if self._synced:
            self.arrivals.append(Arrival(event, time.monotonic(), was_open))
            self._changed.set()

    def open_orders(self, fund_id: str) -> list[OrderEvent]:
        return [event for event in self.open.values() if event.fund_id == fund_id]

    def cancels_since(self, fund_id: str, since: float) -> list[Arrival]:
        """Cancellations of orders that were open (not refusals of new ones), received after ``since``."""
        return [
            a
            for a in self.arrivals
            if a.at >= since and a.was_open and a.event.event == "canceled" and a.event.fund_id == fund_id
        ]

    def first_accepted_since(
        self, fund_id: str, since: float, *, strategies: set[str] | None = None
    ) -> Arrival | None:
        """The first order of the fund (of one of ``strategies``, when given) accepted after ``since``."""
        for a in self.arrivals:
            event = a.event
            wanted = strategies is None or event.strategy_id in strategies
            if wanted and a.at >= since and event.event == "accepted" and event.fund_id == fund_id:
                return a
        return None

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Whether ``condition`` held within ``timeout`` seconds (checked on every order event)."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
        return True


class GateWatch:
    """When a client SDK HaltGate saw each bucket key change (monotonic time), key by key."""

    def __init__(self, gate: HaltGate) -> None:
        self.gate = gate
        self.closed_at: dict[str, float] = {}
        self.opened_at: dict[str, float] = {}
        self._remove = gate.add_listener(self._on_change)

    def _on_change(self, key: str, halt: HaltRequested | None) -> None:
        now = time.monotonic()
        if halt is None:
            self.opened_at[key] = now
        else:
            self.closed_at[key] = now

    def forget(self, key: str) -> None:
        self.closed_at.pop(key, None)
        self.opened_at.pop(key, None)

    async def wait_closed(self, key: str, timeout: float) -> float | None:  # noqa: ASYNC109
        return await self._wait(self.closed_at, key, timeout)

    async def wait_opened(self, key: str, timeout: float) -> float | None:  # noqa: ASYNC109
        return await self._wait(self.opened_at, key, timeout)

    async def _wait(self, seen: dict[str, float], key: str, within: float) -> float | None:
        with contextlib.suppress(TimeoutError):
            await self.gate.wait_for(lambda _: key in seen, within)
        return seen.get(key)

    def close(self) -> None:
        self._remove()
