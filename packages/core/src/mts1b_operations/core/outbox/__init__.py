"""Transactional outbox: events committed with the state they describe, published to NATS after.

A service writes its state and :func:`enqueue` s the events about it in one Postgres
transaction; its :class:`OutboxRelay` publishes them to JetStream in commit order with the
event id as Nats-Msg-Id and deletes them once acknowledged. Nothing committed is lost when
NATS is down, and nothing is published for a transaction that rolled back.
"""

from ._relay import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OutboxRelay, Publisher
from ._store import NOTIFY_CHANNEL, OutboxEvent, enqueue, enqueue_many

__all__ = [
    "NOTIFY_CHANNEL",
    "OUTBOX_BACKLOG",
    "OUTBOX_OLDEST_AGE",
    "OutboxEvent",
    "OutboxRelay",
    "Publisher",
    "enqueue",
    "enqueue_many",
]
