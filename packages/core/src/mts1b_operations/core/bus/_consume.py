"""Durable pull consumers: fetch, hand each message to a handler in its trace, ack or retry."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import APIError, NotFoundError
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import REGISTRY, Counter

from mts1b_operations.core.schemas import SchemaError

from ._errors import ConsumerConfigError, PoisonMessageError, TransientError
from ._publish import MSG_ID_HEADER
from ._tracing import bus_tracer, extract_trace

if TYPE_CHECKING:
    from ._connect import Bus

__all__ = ["ConsumerSpec", "Delivery", "DurableConsumer", "Handler"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
_MAX_FETCH_BACKOFF: Final = 5.0
# Failures that retrying cannot cure: the payload does not decode or does not match its schema.
_POISON: Final[tuple[type[BaseException], ...]] = (PoisonMessageError, msgspec.DecodeError, SchemaError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One message as a handler sees it."""

    subject: str
    data: bytes
    headers: Mapping[str, str]
    msg_id: str | None
    num_delivered: int
    stream_sequence: int
    timestamp: datetime
    stream: str
    durable: str


Handler = Callable[[Delivery], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ConsumerSpec:
    """A durable pull consumer. Times in seconds.

    ``nak_delays[n-1]`` is how long a message waits after its n-th failed delivery (the last
    value repeats). ``max_deliver`` bounds deliveries; the last failed one is terminated.
    """

    stream: str
    durable: str
    filter_subjects: tuple[str, ...] = ()
    max_deliver: int = 5
    ack_wait: float = 30.0
    nak_delays: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0)
    batch: int = 64
    fetch_timeout: float = 5.0
    max_ack_pending: int = 1000
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("stream", "durable"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ValueError(f"{name}: {value!r} is not a JetStream name (letters, digits, _ and -)")
        if isinstance(self.filter_subjects, str):
            raise ValueError("filter_subjects: expected a tuple of subjects, got one str")
        for subject in self.filter_subjects:
            if not isinstance(subject, str) or not subject or " " in subject:
                raise ValueError(f"filter_subjects: {subject!r} is not a NATS subject")
        if not isinstance(self.max_deliver, int) or self.max_deliver < 1:
            raise ValueError(f"max_deliver: {self.max_deliver!r} must be an int >= 1")
        if self.ack_wait <= 0:
            raise ValueError(f"ack_wait: {self.ack_wait!r} must be positive seconds")
        if any(delay < 0 for delay in self.nak_delays):
            raise ValueError(f"nak_delays: {self.nak_delays!r} must all be >= 0 seconds")
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"batch: {self.batch!r} must be an int >= 1")
        if self.fetch_timeout <= 0:
            raise ValueError(f"fetch_timeout: {self.fetch_timeout!r} must be positive seconds")
        if not isinstance(self.max_ack_pending, int) or self.max_ack_pending < self.batch:
            raise ValueError(f"max_ack_pending: {self.max_ack_pending!r} must be an int >= batch")

    def nak_delay(self, num_delivered: int) -> float:
        if not self.nak_delays:
            return 0.0
        return self.nak_delays[min(max(num_delivered, 1), len(self.nak_delays)) - 1]

    def to_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            description=self.description or None,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            filter_subjects=list(self.filter_subjects) or None,
            max_ack_pending=self.max_ack_pending,
        )


@dataclass(frozen=True)
class _Metrics:
    processed: Counter
    failed: Counter
    terminated: Counter


def _counter(name: str, documentation: str) -> Counter:
    try:
        return Counter(name, documentation, ["durable"])
    except ValueError:
        # Already registered in this process (the module was loaded twice): reuse it.
        existing = REGISTRY._names_to_collectors.get(f"{name}_total")
        if not isinstance(existing, Counter):
            raise
        return existing


@functools.cache
def _metrics() -> _Metrics:
    return _Metrics(
        processed=_counter("mts_bus_messages_processed", "Messages handled and acknowledged."),
        failed=_counter("mts_bus_messages_failed", "Handler failures (each failed delivery counts)."),
        terminated=_counter(
            "mts_bus_messages_terminated", "Messages terminated: poison or out of deliveries."
        ),
    )


class _StoppedError(Exception):
    """The consumer is stopping: leave the fetch loop."""


class _KeepAlive:
    """While a batch is being worked through, tell the server its messages are still in progress.

    Without it, messages held longer than ``ack_wait`` (a slow handler, or the tail of a big
    batch) would be redelivered to another instance while this one still works on them.
    """

    def __init__(self, msgs: Sequence[Msg], interval: float) -> None:
        self._pending = list(msgs)
        self._interval = interval
        self._task = asyncio.create_task(self._run())

    def done(self, msg: Msg) -> None:
        with contextlib.suppress(ValueError):
            self._pending.remove(msg)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for msg in list(self._pending):
                with contextlib.suppress(nats.errors.Error):
                    await msg.in_progress()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class DurableConsumer:
    """Runs ``handler`` for every message of a durable pull consumer, one at a time, in order.

    The handler's return acks the message. ``TransientError`` or any other exception naks it
    with the spec's delay, except on the last allowed delivery, where it is terminated (error
    log naming stream sequence and subject). ``PoisonMessageError`` and decode/schema errors
    terminate at once. Fetch failures (NATS down) are logged and retried with backoff.
    """

    def __init__(self, bus: Bus, spec: ConsumerSpec, handler: Handler) -> None:
        self._bus = bus
        self.spec = spec
        self._handler = handler
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._metrics = _metrics()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def ensure_consumer(self) -> ConsumerInfo:
        """Create the durable consumer, or update it to the spec (the server's create-or-update)."""
        try:
            info: ConsumerInfo = await self._bus.js.add_consumer(
                self.spec.stream, config=self.spec.to_config()
            )
        except NotFoundError as exc:
            raise ConsumerConfigError(
                self.spec.stream, self.spec.durable, "the stream does not exist"
            ) from exc
        except APIError as exc:
            raise ConsumerConfigError(self.spec.stream, self.spec.durable, f"refused: {exc}") from exc
        return info

    async def info(self) -> ConsumerInfo:
        info: ConsumerInfo = await self._bus.js.consumer_info(self.spec.stream, self.spec.durable)
        return info

    async def start(self) -> None:
        """Create/update the consumer, bind to it and start the fetch loop."""
        if self._task is not None:
            raise RuntimeError(f"consumer {self.spec.durable} already started")
        await self.ensure_consumer()
        self._sub = await self._bus.js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(self._sub), name=f"consumer:{self.spec.durable}")
        log.info("consumer %s on %s started", self.spec.durable, self.spec.stream)

    async def stop(self) -> None:
        """Stop fetching, let the message in flight finish, release the rest; idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await asyncio.wait({task})
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("consumer %s: fetch loop had failed", self.spec.durable, exc_info=error)
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()
            self._sub = None
        log.info("consumer %s on %s stopped", self.spec.durable, self.spec.stream)

    async def _pause(self, failures: int) -> None:
        delay = min(_MAX_FETCH_BACKOFF, 0.1 * 2 ** min(failures, 10))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, stop: asyncio.Future[Literal[True]]
    ) -> list[Msg]:
        fetch = asyncio.ensure_future(sub.fetch(self.spec.batch, timeout=self.spec.fetch_timeout))
        await asyncio.wait((fetch, stop), return_when=asyncio.FIRST_COMPLETED)
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
            raise _StoppedError
        msgs = fetch.result()
        if self._stopping.is_set():
            await self._release(msgs)
            raise _StoppedError
        return msgs

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        failures = 0
        seen_reconnects = self._bus.reconnects
        recheck = False
        try:
            while not self._stopping.is_set():
                if recheck or self._bus.reconnects != seen_reconnects:
                    # After an outage the server may have lost the consumer (or be a new one).
                    seen_reconnects = self._bus.reconnects
                    try:
                        await self.ensure_consumer()
                        recheck = False
                    except Exception as exc:
                        failures += 1
                        recheck = True
                        log.warning("consumer %s: cannot ensure consumer: %r", self.spec.durable, exc)
                        await self._pause(failures)
                        continue
                try:
                    msgs = await self._fetch(sub, stop)
                except _StoppedError:
                    break
                except TimeoutError:
                    failures = 0
                    continue
                except nats.errors.ConnectionClosedError:
                    log.error("consumer %s: NATS connection closed; fetch loop ends", self.spec.durable)
                    return
                except Exception as exc:
                    failures += 1
                    recheck = True
                    log.warning(
                        "consumer %s: fetch failed (%d in a row): %r", self.spec.durable, failures, exc
                    )
                    await self._pause(failures)
                    continue
                failures = 0
                await self._work_through(msgs)
        finally:
            stop.cancel()

    async def _work_through(self, msgs: list[Msg]) -> None:
        keep_alive = _KeepAlive(msgs, self.spec.ack_wait / 2)
        try:
            for index, msg in enumerate(msgs):
                if self._stopping.is_set():
                    await self._release(msgs[index:])
                    return
                await self._handle(msg)
                keep_alive.done(msg)
        finally:
            await keep_alive.close()

    async def _release(self, msgs: Sequence[Msg]) -> None:
        """Hand fetched but unhandled messages back at once, for another instance to take."""
        for msg in msgs:
            with contextlib.suppress(nats.errors.Error):
                await msg.nak()

    async def _handle(self, msg: Msg) -> None:
        meta = msg.metadata
        headers: dict[str, str] = dict(msg.headers or {})
        delivery = Delivery(
            subject=msg.subject,
            data=msg.data,
            headers=MappingProxyType(headers),
            msg_id=headers.get(MSG_ID_HEADER),
            num_delivered=meta.num_delivered,
            stream_sequence=meta.sequence.stream,
            timestamp=meta.timestamp,
            stream=meta.stream,
            durable=self.spec.durable,
        )
        durable = self.spec.durable
        with bus_tracer().start_as_current_span(
            f"process {msg.subject}",
            context=extract_trace(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": durable,
                "messaging.message.id": delivery.msg_id or "",
                "messaging.message.delivery_count": delivery.num_delivered,
                "messaging.nats.stream": delivery.stream,
                "messaging.nats.stream_sequence": delivery.stream_sequence,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await self._handler(delivery)
            except _POISON as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"poison: {exc}"))
                self._metrics.failed.labels(durable).inc()
                log.error(
                    "consumer %s: poison message terminated (stream %s seq %d, subject %s): %r",
                    durable, delivery.stream, delivery.stream_sequence, delivery.subject, exc,
                )  # fmt: skip
                await self._settle(msg.term, "term", delivery)
                self._metrics.terminated.labels(durable).inc()
                return
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                self._metrics.failed.labels(durable).inc()
                if delivery.num_delivered >= self.spec.max_deliver:
                    log.error(
                        "consumer %s: giving up after %d deliveries, message terminated "
                        "(stream %s seq %d, subject %s): %r",
                        durable, delivery.num_delivered, delivery.stream, delivery.stream_sequence,
                        delivery.subject, exc,
                    )  # fmt: skip
                    await self._settle(msg.term, "term", delivery)
                    self._metrics.terminated.labels(durable).inc()
                    return
                delay = self.spec.nak_delay(delivery.num_delivered)
                level = logging.INFO if isinstance(exc, TransientError) else logging.WARNING
                log.log(
                    level,
                    "consumer %s: delivery %d of stream %s seq %d (subject %s) failed, retry in %.2fs: %r",
                    durable, delivery.num_delivered, delivery.stream, delivery.stream_sequence,
                    delivery.subject, delay, exc,
                )  # fmt: skip
                await self._settle(functools.partial(msg.nak, delay=delay), "nak", delivery)
                return
            await self._settle(msg.ack, "ack", delivery)
            self._metrics.processed.labels(durable).inc()

    async def _settle(self, action: Callable[[], Awaitable[None]], what: str, delivery: Delivery) -> None:
        try:
            await action()
        except nats.errors.Error as exc:
            # The server redelivers after ack_wait; handlers are idempotent by msg_id.
            log.warning(
                "consumer %s: %s of stream %s seq %d failed: %r",
                self.spec.durable, what, delivery.stream, delivery.stream_sequence, exc,
            )  # fmt: skip
