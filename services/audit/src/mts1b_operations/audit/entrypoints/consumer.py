"""The recorder: durable JetStream consumers that append every operations fact to the chain.

One :class:`~mts1b_operations.core.bus.DurableConsumer` per stream (see ``_filters``): on
OPERATIONS it takes halt facts, watchdog alerts and operations commands; other streams join
when ``MTS_AUDIT_EXTRA_SUBJECTS`` names subjects they capture. Each message becomes one
``append`` (see ``_facts`` for the mapping) whose ``source_event_id`` is the message's own id,
so a redelivery finds the entry already there and adds none.

Nothing is dropped: a payload the chain refuses is recorded raw; a failure to write (Postgres
down) naks the message for a later redelivery, practically without limit (``MAX_DELIVER``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final, Protocol

from mts1b_operations.core.bus import Bus, ConsumerSpec, Delivery, DurableConsumer, TransientError
from mts1b_operations.core.db import TRANSIENT_ERRORS

from ..domain import AuditInputError
from ._facts import fact_record, is_never_audited
from ._filters import ConsumerPlan, plan_consumers

__all__ = ["MAX_DELIVER", "NAK_DELAYS", "AuditRecorder", "FactSink"]

log = logging.getLogger(__name__)

# A fact must not be given up because Postgres was down for a while: at the longest delay this
# is years of retries, far beyond the OPERATIONS stream's 30-day retention.
MAX_DELIVER: Final = 1_000_000
NAK_DELAYS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class FactSink(Protocol):
    """Where facts go: ``AuditChain.append``'s signature."""

    async def append(
        self,
        *,
        actor: str,
        action: str,
        subject_id: str,
        data: dict[str, Any],
        source_event_id: str | None = None,
    ) -> Any: ...


class AuditRecorder:
    """Starts one durable consumer per planned stream; :meth:`handle` records one message."""

    def __init__(
        self,
        bus: Bus,
        chain: FactSink,
        *,
        extra_subjects: Sequence[str] = (),
        ack_wait: float = 30.0,
    ) -> None:
        self._bus = bus
        self._chain = chain
        self._extra_subjects = tuple(extra_subjects)
        self._ack_wait = ack_wait
        self._consumers: list[DurableConsumer] = []

    @property
    def consumers(self) -> tuple[DurableConsumer, ...]:
        return tuple(self._consumers)

    async def plan(self) -> list[ConsumerPlan]:
        """The consumers the current streams and the configured extra subjects call for."""
        infos = await self._bus.js.streams_info()
        streams = {info.config.name: tuple(info.config.subjects or ()) for info in infos if info.config.name}
        return plan_consumers(streams, self._extra_subjects)

    async def start(self) -> None:
        for plan in await self.plan():
            spec = ConsumerSpec(
                stream=plan.stream,
                durable=plan.durable,
                filter_subjects=plan.filter_subjects,
                max_deliver=MAX_DELIVER,
                nak_delays=NAK_DELAYS,
                ack_wait=self._ack_wait,
                description="mts1b-audit: records every fact of these subjects in the audit chain",
            )
            consumer = DurableConsumer(self._bus, spec, self.handle)
            await consumer.start()
            self._consumers.append(consumer)
            log.info("recording %s from stream %s", ", ".join(plan.filter_subjects), plan.stream)

    async def stop(self) -> None:
        consumers, self._consumers = self._consumers, []
        for consumer in reversed(consumers):
            await consumer.stop()

    async def handle(self, delivery: Delivery) -> None:
        """Append the entry for ``delivery`` (once, however often it is delivered)."""
        if is_never_audited(delivery.subject):
            log.debug("not recording %s (never audited)", delivery.subject)
            return
        record = fact_record(delivery)
        try:
            try:
                await self._chain.append(**record.as_append_kwargs())
            except AuditInputError as exc:
                log.warning(
                    "recording %s (stream %s seq %d) raw: the chain refused its payload: %s",
                    delivery.subject, delivery.stream, delivery.stream_sequence, exc,
                )  # fmt: skip
                await self._chain.append(**record.unrecordable(delivery, str(exc)).as_append_kwargs())
        except TRANSIENT_ERRORS as exc:
            raise TransientError(f"Postgres unavailable: {type(exc).__name__}: {exc}") from exc
