"""The watchdog-alerts consumer: tracks every alert and applies the auto-halt policy.

One durable consumer (``halt-auto-policy`` on the OPERATIONS stream, subjects
``mts.v1.operations.watchdog.*``). For each alert: fold it into the
(watchdog, subject) row and commit (:func:`policy.track`; a redelivered message is recognised
and not counted twice), so a resume's pre-flight check sees the watchdog firing before any halt
it causes exists; then request the halts the policy decides (:func:`policy.decide`) and mark
their rules as having acted in this episode. A failure of Postgres or NATS naks the message;
its redelivery decides again from the stored state and finds the halt it made (the library's
request is idempotent). A halt the library refuses as invalid (an alert about a fund the
registry does not know) is logged, recorded as a refusal by the library and not asked again in
the same episode: it would be refused again.

After the commit, a halt in mode cancel_open / flatten sends its OMS command (best effort: the
halt itself is already in force and mirrored to the order gates).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import ConsumerSpec, Delivery, DurableConsumer
from mts1b_operations.core.schemas import WatchdogAlert, decode

from ..alerts import AlertTracker, StreamPosition
from ..domain import Halt, HaltRequest, HaltValidationError
from ..policy import HaltAction, HaltPolicy, decide, track

if TYPE_CHECKING:
    import asyncpg

    from mts1b_operations.core.bus import Bus

    from .. import HaltManager

__all__ = ["ALERTS_CONSUMER", "AutoHaltPolicy", "HaltFollowUp", "alerts_consumer"]

log = logging.getLogger(__name__)

ALERTS_CONSUMER: Final = ConsumerSpec(
    stream="OPERATIONS",
    durable="halt-auto-policy",
    filter_subjects=(subjects.WATCHDOG_ALL,),
    max_deliver=20,
    ack_wait=60.0,
    nak_delays=(0.5, 1.0, 2.0, 5.0, 10.0),
    batch=32,
    max_ack_pending=64,
    description="mts1b-halt: watchdog alerts -> alert tracking and the auto-halt policy",
)

HaltFollowUp = Callable[[Halt], Awaitable[object]]
"""What to do once a halt is in force (the service sends its OMS command)."""


def halt_request(action: HaltAction) -> HaltRequest:
    return HaltRequest(
        severity=action.severity,
        reason=action.reason,
        requested_by=action.requested_by,
        fund_id=action.fund_id,
        strategy_id=action.strategy_id,
        mode=action.mode,
        triggered_by_watchdog=action.triggered_by_watchdog,
        watchdog_subject_id=action.alert_subject_id,
    )


class AutoHaltPolicy:
    """The handler of the watchdog-alerts consumer (see the module doc)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        manager: HaltManager,
        tracker: AlertTracker,
        policy: HaltPolicy,
        follow_up: HaltFollowUp | None = None,
    ) -> None:
        self._pool = pool
        self._manager = manager
        self._tracker = tracker
        self._policy = policy
        self._follow_up = follow_up

    async def handle(self, delivery: Delivery) -> None:
        alert = decode(delivery.data, WatchdogAlert)  # a bad payload is poison: terminated, logged
        position = StreamPosition(delivery.stream, delivery.stream_sequence, delivery.timestamp)
        async with self._pool.acquire() as conn, conn.transaction():
            previous, fresh = await self._tracker.lock(conn, alert.watchdog, alert.subject_id, position)
            state = track(previous, alert) if fresh else previous
            if fresh and state is not None:
                await self._tracker.save(conn, state, position)
        # Committed before any halt is requested: once a halt exists, the pre-flight check of a
        # resume already sees its watchdog firing.
        if state is None or state.alert_id != alert.alert_id:
            log.info(
                "alert %s (stream seq %d) superseded by a later one; skipped",
                alert.alert_id,
                position.sequence,
            )
            return
        actions = decide(self._policy.rules, alert, state)
        if not actions:
            return
        handled: list[str] = []
        halts: list[Halt] = []
        for action in actions:
            outcome = await self._act(action)
            handled.append(action.rule)
            if outcome is not None:
                halts.append(outcome)
        # A redelivery (after a crash before this point) decides again from the stored state and
        # finds the halt already in force: the library's request is idempotent.
        async with self._pool.acquire() as conn, conn.transaction():
            await self._tracker.mark_acted(conn, state, handled)
        for halt in halts:
            await self._after(halt)

    async def _act(self, action: HaltAction) -> Halt | None:
        try:
            halt = await self._manager.request(halt_request(action))
        except HaltValidationError as exc:
            log.error(
                "rule %s: halt refused as invalid, not retried: %s (alert subject %r)",
                action.rule, exc, action.alert_subject_id,
            )  # fmt: skip
            return None
        log.warning(
            "rule %s: %s %s in force (halt %s, requested by %s)",
            action.rule, halt.severity, halt.scope, halt.halt_id, action.requested_by,
        )  # fmt: skip
        return halt

    async def _after(self, halt: Halt) -> None:
        if self._follow_up is None:
            return
        try:
            await self._follow_up(halt)
        except Exception:
            log.exception("halt %s: follow-up (OMS command) failed; the halt stays in force", halt.halt_id)


def alerts_consumer(
    bus: Bus, handler: AutoHaltPolicy, spec: ConsumerSpec = ALERTS_CONSUMER
) -> DurableConsumer:
    return DurableConsumer(bus, spec, handler.handle)
