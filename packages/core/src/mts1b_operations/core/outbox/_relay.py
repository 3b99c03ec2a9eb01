from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final, Protocol

import asyncpg
import msgspec
from opentelemetry import context as otel_context
from opentelemetry.propagate import extract
from prometheus_client import Gauge

from ._store import NOTIFY_CHANNEL, RELAY_LOCK_CLASS

__all__ = ["OUTBOX_BACKLOG", "OUTBOX_OLDEST_AGE", "OutboxRelay", "Publisher"]

log = logging.getLogger(__name__)

OUTBOX_BACKLOG: Final = Gauge(
    "mts_outbox_backlog_events", "Events in the outbox waiting to be published to NATS", ["source"]
)
OUTBOX_OLDEST_AGE: Final = Gauge(
    "mts_outbox_oldest_event_age_seconds",
    "Age of the oldest event waiting in the outbox (0 when empty)",
    ["source"],
)

_MAX_BACKOFF: Final = 5.0
# The gauges are refreshed on their own clock too: during a NATS outage the relay loop sits in
# bus.publish retries, which is exactly when the backlog is worth watching.
_METRICS_INTERVAL: Final = 5.0
_HEADERS = msgspec.json.Decoder(dict[str, str])

_CLAIM = """
SELECT id, event_id, subject, payload, headers::text AS headers
FROM outbox WHERE source = $1 ORDER BY id LIMIT $2
FOR UPDATE SKIP LOCKED
"""
_BACKLOG = """
SELECT count(*) AS n,
       extract(epoch FROM clock_timestamp() - (
           SELECT created_at FROM outbox WHERE source = $1 ORDER BY id LIMIT 1))::float8 AS age
FROM outbox WHERE source = $1
"""


class Publisher(Protocol):
    """What the relay needs of :class:`mts1b_operations.core.bus.Bus`."""

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> Any: ...


class OutboxRelay:
    """Publishes one service's outbox rows to JetStream in id order, and deletes what was published.

    A batch is claimed, published one event at a time (each waits for its PubAck, which is what
    keeps the stream in id order) and deleted in one transaction. A crash between publish and
    delete re-publishes those events later with the same Nats-Msg-Id, which JetStream drops as
    duplicates. One relay of a source works at a time (an advisory lock); others stand by.
    LISTEN wakes the relay on every insert; polling every ``poll_interval`` seconds is the safety
    net. NATS or Postgres outages are waited out with back-off; rows are never lost. An event that
    can never be published (say, a subject no stream captures) holds back the ones behind it, as
    strict order demands: the warning log and the backlog gauges show it.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Publisher,
        *,
        source: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"source: a non-empty service name is required (got {source!r})")
        if not 1 <= batch_size <= 10_000:
            raise ValueError(f"batch_size: must be between 1 and 10000 (got {batch_size})")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval: must be > 0 seconds (got {poll_interval})")
        if pool.get_max_size() < 2:
            raise ValueError("pool: the relay keeps one connection for LISTEN, so max_size must be >= 2")
        self._pool = pool
        self._bus = bus
        self.source = source
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._tasks)

    @property
    def listening(self) -> bool:
        """True while the LISTEN connection is up."""
        return self._listening.is_set()

    async def start(self) -> None:
        if self.running:
            raise RuntimeError(f"outbox relay for {self.source!r} is already running")
        self._stopping.clear()
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._listen_loop(), name=f"outbox-listen-{self.source}"),
            asyncio.create_task(self._relay_loop(), name=f"outbox-relay-{self.source}"),
            asyncio.create_task(self._metrics_loop(), name=f"outbox-metrics-{self.source}"),
        ]

    async def stop(self, grace: float = 10.0) -> None:
        """Let the batch in flight finish (up to ``grace`` seconds, then cancel it) and stop."""
        self._stopping.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def relay_once(self) -> int:
        """Publish and delete one batch of this source's rows; returns how many were published.

        Returns 0 when another relay of the source holds the batch lock. If a publish fails, the
        events already published are deleted, the rest stay, and the error is raised.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", RELAY_LOCK_CLASS, self.source
            )
            if not locked:
                return 0
            rows = await conn.fetch(_CLAIM, self.source, self.batch_size)
            published: list[int] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    await self._publish(row)
                except Exception as exc:
                    failure = exc
                    break
                published.append(row["id"])
            if published:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", published)
        if failure is not None:
            raise failure
        return len(published)

    async def backlog(self) -> tuple[int, float | None]:
        """(events of this source waiting, age in seconds of the oldest or None); updates the gauges."""
        row = await self._pool.fetchrow(_BACKLOG, self.source)
        assert row is not None
        count, age = int(row["n"]), row["age"]
        OUTBOX_BACKLOG.labels(self.source).set(count)
        OUTBOX_OLDEST_AGE.labels(self.source).set(age or 0.0)
        return count, age

    async def _publish(self, row: asyncpg.Record) -> None:
        headers = _HEADERS.decode(row["headers"])
        # Publish inside the trace of the request that enqueued the event.
        token = otel_context.attach(extract(headers))
        try:
            await self._bus.publish(row["subject"], row["payload"], msg_id=row["event_id"], headers=headers)
        finally:
            otel_context.detach(token)

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when woken (a NOTIFY) or stopped."""
        wake = asyncio.create_task(self._wake.wait())
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait((wake, stop), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wake.cancel()
            stop.cancel()

    async def _relay_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                while await self.relay_once() == self.batch_size and not self._stopping.is_set():
                    pass
                await self.backlog()
            except Exception as exc:
                failures += 1
                delay = min(_MAX_BACKOFF, 0.1 * 2 ** min(failures, 6))
                log.warning("outbox relay %s: %r; retrying in %.1fs", self.source, exc, delay)
                await self._pause_until_stopped(delay)
                continue
            failures = 0
            await self._pause(self.poll_interval)

    async def _metrics_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.backlog()
            except Exception as exc:
                log.debug("outbox relay %s: backlog gauges not refreshed: %r", self.source, exc)
            await self._pause_until_stopped(_METRICS_INTERVAL)

    async def _pause_until_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if payload == self.source:
            self._wake.set()

    async def _listen_session(self) -> None:
        """Hold one LISTEN connection until it drops or the relay stops."""
        lost = asyncio.Event()

        def on_lost(_conn: object) -> None:
            lost.set()

        async with self._pool.acquire() as conn:
            conn.add_termination_listener(on_lost)
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            self._listening.set()
            self._wake.set()  # rows may have arrived while nobody was listening
            stopped = asyncio.create_task(self._stopping.wait())
            dropped = asyncio.create_task(lost.wait())
            try:
                await asyncio.wait((stopped, dropped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                dropped.cancel()
                self._listening.clear()
            if not conn.is_closed():  # back to the pool clean
                conn.remove_termination_listener(on_lost)
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)

    async def _listen_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._listen_session()
                failures = 0
            except Exception as exc:
                self._listening.clear()
                failures += 1
                delay = min(_MAX_BACKOFF, 0.1 * 2 ** min(failures, 6))
                log.warning(
                    "outbox relay %s: LISTEN connection failed: %r; retrying in %.1fs",
                    self.source,
                    exc,
                    delay,
                )
                await self._pause_until_stopped(delay)
