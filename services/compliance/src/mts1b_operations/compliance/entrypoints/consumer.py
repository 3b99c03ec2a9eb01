"""The order-events consumer: every order event of the OMS stream, reported for the funds that ask.

One durable consumer (``compliance-order-events`` on the OMS stream, ``mts.v1.oms.order.*``).
A message is acked only once its reports and their facts are committed (or it calls for none:
a fund without reporting, or one the registry does not know, which is logged). A payload that
is not an OrderEvent is terminated, logged and counted (``mts_compliance_undecodable_order_events``).
Postgres unavailable: the message is nak'ed and redelivered, practically without limit, so no
event is lost while Postgres restarts; a redelivery stores nothing twice (the store's key).
An adapter that raises (a bug: adapters hold a missing field as a rejected report instead) naks
the message as well, logged at each delivery, until the adapter is fixed.
"""

from __future__ import annotations

import logging
from typing import Final

import asyncpg

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import (
    Bus,
    ConsumerSpec,
    Delivery,
    DurableConsumer,
    PoisonMessageError,
    TransientError,
)
from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.schemas import OrderEvent, SchemaError, decode

from .._metrics import compliance_metrics
from ..reporting import Reporter

__all__ = ["ORDER_EVENTS_CONSUMER", "OrderEventsHandler", "order_events_consumer"]

log = logging.getLogger(__name__)

_POSTGRES_UNAVAILABLE: Final[tuple[type[BaseException], ...]] = (asyncpg.InterfaceError, *TRANSIENT_ERRORS)

ORDER_EVENTS_CONSUMER: Final = ConsumerSpec(
    stream="OMS",
    durable="compliance-order-events",
    filter_subjects=(subjects.OMS_ORDER_ALL,),
    # Nothing may be given up because Postgres was down a while: far beyond the stream's retention.
    max_deliver=1_000_000,
    ack_wait=60.0,
    nak_delays=(0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
    batch=64,
    max_ack_pending=256,
    description="mts1b-compliance: order events -> regulatory reports",
)


class OrderEventsHandler:
    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter

    async def handle(self, delivery: Delivery) -> None:
        try:
            event = decode(delivery.data, OrderEvent)
        except SchemaError as exc:
            compliance_metrics().undecodable_events.inc()
            log.error(
                "order event on %s (stream seq %d) is not an OrderEvent and is not reported: %s",
                delivery.subject, delivery.stream_sequence, exc,
            )  # fmt: skip
            raise PoisonMessageError(f"not an OrderEvent: {exc}") from exc
        try:
            stored = await self._reporter.report(event)
        except _POSTGRES_UNAVAILABLE as exc:
            raise TransientError(f"Postgres unavailable: {type(exc).__name__}: {exc}") from exc
        metrics = compliance_metrics()
        for view in stored:
            metrics.reports_stored.labels(view.regime, view.status).inc()


def order_events_consumer(
    bus: Bus, handler: OrderEventsHandler, spec: ConsumerSpec = ORDER_EVENTS_CONSUMER
) -> DurableConsumer:
    return DurableConsumer(bus, spec, handler.handle)
