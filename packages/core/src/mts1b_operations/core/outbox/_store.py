from __future__ import annotations

import re
from typing import Final

import asyncpg
import msgspec
from opentelemetry.propagate import inject

from mts1b_operations.core import schemas

__all__ = [
    "NOTIFY_CHANNEL",
    "RELAY_LOCK_CLASS",
    "WRITER_LOCK_CLASS",
    "OutboxEvent",
    "enqueue",
    "enqueue_many",
]

NOTIFY_CHANNEL: Final = "mts_outbox"  # the insert trigger (core migration 0001) notifies here with the source

# First keys of pg_advisory_xact_lock(int, int); the second key is hashtext(source).
WRITER_LOCK_CLASS: Final = 0x6D74_736F  # "mtso"
RELAY_LOCK_CLASS: Final = 0x6D74_7372  # "mtsr"

_SUBJECT = re.compile(r"^[^\s*>.]+(\.[^\s*>.]+)*$")
_RESERVED_HEADERS: Final = frozenset({"nats-msg-id"})
_HEADERS = msgspec.json.Encoder()

# The lock comes first (the CTE is read before the row, hence before nextval assigns the id):
# writers of one source then get their ids in commit order, so the relay, which publishes in id
# order, never sees id n+1 committed while n is still in flight.
_INSERT = f"""
WITH writer AS (SELECT pg_advisory_xact_lock({WRITER_LOCK_CLASS}, hashtext($2)))
INSERT INTO outbox (event_id, source, subject, payload, headers)
SELECT $1, $2, $3, $4, $5::jsonb FROM writer
ON CONFLICT (event_id) DO NOTHING
"""  # noqa: S608 - constants only


def _check(source: str, subject: str, event_id: str, headers: dict[str, str] | None) -> None:
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source: a non-empty service name is required (got {source!r})")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise ValueError(f"subject: {subject!r} is not a publishable NATS subject (no wildcards or spaces)")
    if not isinstance(event_id, str) or not event_id.strip():
        raise ValueError(
            f"event_id: a non-empty id is required, it becomes the Nats-Msg-Id (got {event_id!r})"
        )
    for key, value in (headers or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise ValueError(f"headers: keys and values must be non-empty strings (got {key!r}: {value!r})")
        if key.lower() in _RESERVED_HEADERS:
            raise ValueError(f"headers: {key!r} is set from event_id and may not be given")


def _payload_bytes(payload: msgspec.Struct | bytes) -> bytes:
    if isinstance(payload, msgspec.Struct):
        return schemas.encode(payload)
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    raise TypeError(f"payload: expected a msgspec.Struct or bytes, got {type(payload).__name__}")


class OutboxEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event for :func:`enqueue_many`; the fields mean what :func:`enqueue`'s arguments mean."""

    subject: str
    payload: msgspec.Struct | bytes
    event_id: str
    headers: dict[str, str] | None = None


def _require_transaction(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError(
            "enqueue() must run inside the caller's transaction (async with conn.transaction(): ...), "
            "so the event commits or rolls back with the state it describes"
        )


def _row(source: str, event: OutboxEvent, carried: dict[str, str]) -> tuple[str, str, str, bytes, str]:
    _check(source, event.subject, event.event_id, event.headers)
    headers = {**carried, **(event.headers or {})}
    return (
        event.event_id,
        source,
        event.subject,
        _payload_bytes(event.payload),
        _HEADERS.encode(headers).decode(),
    )


async def enqueue_many(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    *,
    source: str,
    events: list[OutboxEvent],
) -> None:
    """:func:`enqueue` for a batch, in order, in one round trip (a duplicate event id is ignored).

    Every event is checked before anything is written; the ids are assigned in list order.
    """
    carried: dict[str, str] = {}
    inject(carried)
    rows = [_row(source, event, carried) for event in events]
    _require_transaction(conn)
    if rows:
        await conn.executemany(_INSERT, rows)


async def enqueue(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    *,
    source: str,
    subject: str,
    payload: msgspec.Struct | bytes,
    event_id: str,
    headers: dict[str, str] | None = None,
) -> bool:
    """Record an event to publish, inside the caller's transaction; True if new, False if a duplicate.

    The event is published (by the ``source`` service's :class:`OutboxRelay`) only if the
    transaction commits, with ``event_id`` as its Nats-Msg-Id; an ``event_id`` already waiting is
    ignored. The current trace context is stored with it so the publish joins the caller's trace.
    Writers of one source are serialised from here to their commit, so enqueue last in the
    transaction and do not wait on other locks after it.
    """
    _check(source, subject, event_id, headers)
    data = _payload_bytes(payload)
    _require_transaction(conn)
    carried: dict[str, str] = {}
    inject(carried)
    carried.update(headers or {})
    status = await conn.execute(_INSERT, event_id, source, subject, data, _HEADERS.encode(carried).decode())
    return bool(status == "INSERT 0 1")
