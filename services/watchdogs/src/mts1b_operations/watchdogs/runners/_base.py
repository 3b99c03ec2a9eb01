"""What every runner shares: parameters swapped live, pause, the alert book, and publishing.

A runner ingests its inputs (NATS messages through a durable consumer, or a periodic probe),
keeps its windows in memory, calls the maths, and queues one :class:`Evaluation` per subject it
re-evaluated. :meth:`Runner.publish_queued` folds the queue into the alert book
(:mod:`..alerting`) and, when that calls for notifications or changes the firing subjects,
writes the state row and enqueues the ``WatchdogAlert`` s in one Postgres transaction (the
service's outbox relay publishes them on ``mts.v1.operations.watchdog.<kind>`` with the alert id
as Nats-Msg-Id). If that transaction fails the queue is kept, the message is redelivered (the
window already holds it: a redelivered stream sequence is not ingested twice) and the queue is
published on the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import ABC
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery, TransientError
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.outbox import enqueue
from mts1b_operations.core.schemas import WatchdogAlert

from ..alerting import AlertBook, AlertPolicy, Evaluation, Notification, SubjectState, inhibited, is_silenced
from ..config import KIND_OF, AlertParams

if TYPE_CHECKING:
    import asyncpg

    from ..store import StoredState, WatchdogStore

__all__ = ["Clock", "Runner", "RunnerEnv", "Subscription", "utc_now"]

log = logging.getLogger(__name__)

P = TypeVar("P", bound=AlertParams)
Clock = Callable[[], datetime]
_MAX_MESSAGE = 8192
_MAX_QUEUE = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def _no_dependencies() -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerEnv:
    """What the runtime hands every runner."""

    pool: asyncpg.Pool
    store: WatchdogStore
    source: str = "watchdogs"
    """The outbox source: the service's name, whose relay publishes the alerts."""
    funds: FundsRegistry = field(default_factory=FundsRegistry.empty)
    dependencies_down: Callable[[], frozenset[str]] = _no_dependencies
    """Upstreams the dependency watchdog currently reports down (for inhibition)."""
    clock: Clock = utc_now


@dataclass(frozen=True, slots=True)
class Subscription:
    """An input of a runner: a durable consumer on ``stream`` filtered to ``subjects``."""

    stream: str
    subjects: tuple[str, ...]
    handler: Callable[[Delivery], Awaitable[None]]
    suffix: str = ""
    """Appended to the durable name when a runner has several subscriptions."""


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _replay(subject_id: str, state: SubjectState) -> Evaluation:
    """The last evaluation of a subject as its stored state remembers it (after a restart)."""
    return Evaluation(
        subject_id=subject_id,
        value=state.value,
        threshold=state.threshold,
        breached=False,
        cleared=False,
        message=state.message or f"{subject_id} is firing",
    )


def _structure(book: AlertBook) -> dict[str, tuple[Any, ...]]:
    """What of the firing subjects must survive a restart (not the value of each evaluation)."""
    return {s: (st.episode, st.notified, st.repeats) for s, st in book.firing.items()}


class Runner(ABC, Generic[P]):
    """One watchdog: subclasses set ``name``, implement their inputs and queue evaluations."""

    name: ClassVar[str]

    def __init__(self, env: RunnerEnv, params: P, state: StoredState | None = None) -> None:
        self.env = env
        self.params = params
        self.book = AlertBook.from_firing_json(state.firing) if state is not None else AlertBook()
        self.paused_until: datetime | None = None
        self.paused_by: str | None = None
        self.pause_reason: str | None = None
        if state is not None and state.status == "paused":
            self.paused_until, self.paused_by, self.pause_reason = (
                state.paused_until,
                state.paused_by,
                state.pause_reason,
            )
        self.last_value: float | None = state.last_value if state else None
        self.last_subject: str | None = state.last_subject if state else None
        self.last_evaluated_at: datetime | None = state.last_evaluated_at if state else None
        self.last_alert_at: datetime | None = state.last_alert_at if state else None
        self.evaluation_count = 0
        self.ticks = 0
        """Periodic rounds done (a round that finds nothing to evaluate counts too)."""
        self.marked = self.last_evaluated_at
        self._queue: list[Evaluation] = []
        self._latest: dict[str, Evaluation] = {}
        self._applied: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[Runner[Any], list[Notification]], None]] = []
        self.wake = asyncio.Event()
        """Set on a change of parameters or pause: a periodic runner's wait ends early."""

    # ------------------------------------------------------------------ identity and inputs

    @property
    def kind(self) -> subjects.WatchdogKind:
        return KIND_OF[self.name]

    @property
    def alert_subject(self) -> str:
        return subjects.watchdog_alert(self.kind)

    def subscriptions(self) -> Sequence[Subscription]:
        """The NATS inputs (none for a periodic runner)."""
        return ()

    def interval(self) -> float | None:
        """Seconds between :meth:`tick` s for a periodic runner; None for a message-driven one."""
        return None

    async def tick(self) -> None:
        """One periodic evaluation (periodic runners override it)."""

    async def start(self) -> None:
        """Acquire what the runner needs beyond its subscriptions (periodic runners: clients)."""

    async def stop(self) -> None:
        """Release what :meth:`start` acquired."""

    def describe_inputs(self) -> str:
        """One line saying what the runner consumes, for the status answer and the docs."""
        subs = self.subscriptions()
        if subs:
            return ", ".join(subject for sub in subs for subject in sub.subjects)
        return f"every {self.interval()}s"

    # ------------------------------------------------------------------ configuration and pause

    def configure(self, params: P) -> None:
        """Swap the parameters live; :meth:`reconfigured` resets what they shape."""
        old, self.params = self.params, params
        if old != params:
            self.reconfigured(old, params)
            self.wake.set()

    def reconfigured(self, old: P, new: P) -> None:
        """Called after a parameter change (windows sized by a parameter start over here)."""

    def pause(self, until: datetime | None, *, by: str | None = None, reason: str | None = None) -> None:
        self.paused_until, self.paused_by, self.pause_reason = until, by, reason

    def silenced(self, now: datetime | None = None) -> bool:
        return is_silenced(self.paused_until, now or self.env.clock())

    @property
    def inhibited_by(self) -> Sequence[str]:
        patterns: Sequence[str] = getattr(self.params, "inhibited_by", ())
        return patterns

    def muted(self, subject_id: str, now: datetime) -> bool:
        if self.silenced(now):
            return True
        patterns = self.inhibited_by
        return bool(patterns) and inhibited(subject_id, patterns, self.env.dependencies_down())

    @property
    def policy(self) -> AlertPolicy:
        return AlertPolicy(for_evaluations=self.params.for_, repeat_interval=self.params.repeat_interval)

    def on_notify(self, listener: Callable[[Runner[Any], list[Notification]], None]) -> None:
        """Call ``listener`` after notifications were committed (the runtime re-checks inhibitions)."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ ingest bookkeeping

    def fresh(self, delivery: Delivery) -> bool:
        """True the first time a stream sequence reaches this runner (redeliveries are not re-ingested)."""
        last = self._applied.get(delivery.durable)
        if last is not None and delivery.stream_sequence <= last:
            return False
        self._applied[delivery.durable] = delivery.stream_sequence
        return True

    def queue(self, evaluations: Iterable[Evaluation]) -> None:
        self._queue.extend(evaluations)
        if len(self._queue) > _MAX_QUEUE:
            # Postgres has been out for long: keep the newest; alerts are about the present.
            log.warning(
                "%s: %d evaluations waiting to be committed; dropping the oldest", self.name, len(self._queue)
            )
            del self._queue[: len(self._queue) - _MAX_QUEUE]

    # ------------------------------------------------------------------ publishing

    async def publish_queued(self) -> list[Notification]:
        """Fold the queued evaluations into the alert book; commit state and alerts together."""
        async with self._lock:
            if not self._queue:
                return []
            now = self.env.clock()
            evaluations = list(self._queue)
            book, notifications = self.book.apply(
                evaluations, policy=self.policy, now=now, muted=lambda subject: self.muted(subject, now)
            )
            last = evaluations[-1]
            if notifications or _structure(book) != _structure(self.book):
                await self._commit(book, notifications, last, now)
            self.book = book
            self._queue.clear()
            for evaluation in evaluations:
                self._latest[evaluation.subject_id] = evaluation
            self.evaluation_count += len(evaluations)
            self.last_value, self.last_subject, self.last_evaluated_at = last.value, last.subject_id, now
            if notifications:
                self.last_alert_at = now
        if notifications:
            for listener in self._listeners:
                listener(self, notifications)
        return notifications

    async def publish_or_retry(self) -> None:
        """For message handlers: a failed commit becomes a TransientError (the message is redelivered)."""
        try:
            await self.publish_queued()
        except Exception as exc:
            raise TransientError(f"{self.name}: alert state not committed: {exc!r}") from exc

    async def renotify(self) -> list[Notification]:
        """Notify the episodes that fired while muted and still fire, now that nothing mutes them."""
        now = self.env.clock()
        waiting = [
            self._latest.get(subject) or _replay(subject, state)
            for subject, state in self.book.firing.items()
            if not state.notified and not self.muted(subject, now)
        ]
        if not waiting:
            return []
        self.queue(waiting)
        return await self.publish_queued()

    async def _commit(
        self, book: AlertBook, notifications: list[Notification], last: Evaluation, now: datetime
    ) -> None:
        async with self.env.pool.acquire() as conn, conn.transaction():
            await self.env.store.save_alerting(
                conn,
                self.name,
                firing=book.firing_json(),
                last_value=_finite(last.value),
                last_subject=last.subject_id,
                evaluated_at=now,
                alerted_at=now if notifications else None,
            )
            for notification in notifications:
                await enqueue(
                    conn,
                    source=self.env.source,
                    subject=self.alert_subject,
                    payload=self.alert(notification, now),
                    event_id=notification.alert_id,
                )
        for notification in notifications:
            log.info(
                "%s %s on %s: %s",
                self.name, notification.status, notification.subject_id, notification.evaluation.message,
            )  # fmt: skip

    def alert(self, notification: Notification, now: datetime) -> WatchdogAlert:
        evaluation = notification.evaluation
        message = evaluation.message if notification.status == "firing" else f"resolved: {evaluation.message}"
        start, end = evaluation.window_start, evaluation.window_end
        if start is not None and end is not None and end < start:
            start, end = end, start
        return WatchdogAlert(
            alert_id=notification.alert_id,
            watchdog=self.kind,
            status=notification.status,
            subject_id=notification.subject_id,
            value=_finite(evaluation.value),
            threshold=_finite(evaluation.threshold),
            message=message[:_MAX_MESSAGE] or self.name,
            window_start=start,
            window_end=end,
            fired_at=now,
        )
