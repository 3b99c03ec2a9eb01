"""Last value per subject from a JetStream stream, kept current: quotes per symbol, NAV per fund.

Each service instance needs *every* message (its cache is its own), so this is not a durable
work-sharing consumer but an ordered consumer of the instance's own: it starts with the last
message of every subject (``DeliverPolicy.LAST_PER_SUBJECT``) — the warm start that lets a
restarted instance answer at once — and then follows new messages. nats-py's ordered consumer
recreates itself after a gap or a lost connection, resuming after the last stream sequence seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Final

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from mts1b_operations.core.bus import Bus

__all__ = ["LastValueFeed", "MessageHandler"]

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, Mapping[str, str]], None]
"""Called with (subject, data, headers) for every message, in stream order; must not block."""

# The server drops the ephemeral consumer this long after the instance went away.
_INACTIVE_THRESHOLD: Final = 300.0
# The server sends a heartbeat this often when idle; two missed ones make nats-py recreate the
# consumer (after a NATS restart, say), so the feed resumes within a few seconds.
_IDLE_HEARTBEAT: Final = 1.0
_NO_HEADERS: Final[Mapping[str, str]] = {}


class LastValueFeed:
    """Hands the last message of every subject matching ``subject``, then each new one, to ``handle``.

    :meth:`start` returns once the messages present at subscription time have been handled (the
    warm start), or after ``warm_timeout`` seconds with a warning. A message the handler fails on
    is logged and skipped: one bad payload must not stop the feed.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        name: str,
        stream: str,
        subject: str,
        handle: MessageHandler,
        warm_timeout: float = 15.0,
    ) -> None:
        self._bus = bus
        self.name = name
        self.stream = stream
        self.subject = subject
        self._handle = handle
        self._warm_timeout = warm_timeout
        self._sub: JetStreamContext.PushSubscription | None = None
        self._handled = 0
        self._target: int | None = None
        self._warm = asyncio.Event()

    @property
    def warm(self) -> bool:
        return self._warm.is_set()

    @property
    def handled(self) -> int:
        """Messages handed to the handler so far."""
        return self._handled

    async def _on_message(self, msg: Msg) -> None:
        try:
            self._handle(msg.subject, msg.data, msg.headers or _NO_HEADERS)
        except Exception as exc:
            log.warning("%s: skipping a message on %s: %s", self.name, msg.subject, exc)
        self._handled += 1
        if self._target is not None and self._handled >= self._target:
            self._warm.set()

    async def start(self) -> None:
        if self._sub is not None:
            raise RuntimeError(f"{self.name} already started")
        self._sub = sub = await self._bus.js.subscribe(
            self.subject,
            stream=self.stream,
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            inactive_threshold=_INACTIVE_THRESHOLD,
            idle_heartbeat=_IDLE_HEARTBEAT,
        )
        info = await sub.consumer_info()
        # What the warm start comprises: messages delivered already plus those still pending.
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        self._target = (info.num_pending or 0) + (delivered or 0)
        if self._handled >= self._target:
            self._warm.set()
        try:
            await asyncio.wait_for(self._warm.wait(), self._warm_timeout)
        except TimeoutError:
            log.warning(
                "%s: warm start incomplete after %gs (%d of %d messages); serving and catching up",
                self.name, self._warm_timeout, self._handled, self._target,
            )  # fmt: skip
        else:
            log.info("%s: warm start done (%d messages from %s)", self.name, self._handled, self.stream)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:
                log.info("%s: unsubscribe failed (%r); the server drops the consumer itself", self.name, exc)
