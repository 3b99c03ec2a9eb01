"""The KV bucket ``mts_halts``: one key per scope with a halt in force, for order gates to read locally.

Keys are ``firm``, ``fund.<fund_id>`` and ``strategy.<strategy_id>``; a character of an id that
a KV key cannot hold (ids may use ``:@^~``, keys may not) is written ``=XX`` (its hex), and ``=``
itself as ``=3D``, so ids of the usual ``[A-Za-z0-9_-]`` appear unchanged. The value is the JSON of
the halt's ``HaltRequested`` payload.

Puts and deletes travel through the transactional outbox as publishes to the bucket's subject
(``$KV.mts_halts.<key>``, with ``KV-Operation: DEL`` for a delete). The outbox publishes in commit
order, so the bucket follows Postgres in order even across processes and outages;
:func:`reconcile` repairs whatever else happened to the bucket (lost, purged, edited by hand).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import asyncpg
import msgspec
from nats.js.errors import NotFoundError
from nats.js.kv import KV_DEL, KV_OP, KeyValue

from mts1b_operations.core import schemas
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.outbox import enqueue

from ..domain import Halt, requested_event

__all__ = [
    "BUCKET",
    "KV_STREAM",
    "ReconcileReport",
    "enqueue_delete",
    "enqueue_put",
    "escape_id",
    "kv_key",
    "kv_subject",
    "kv_value",
    "open_bucket",
    "read_bucket",
    "reconcile",
]

log = logging.getLogger(__name__)

BUCKET: Final = "mts_halts"
KV_STREAM: Final = f"KV_{BUCKET}"
_SUBJECT_PREFIX: Final = f"$KV.{BUCKET}."
_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_ROUNDS: Final = 5


def escape_id(value: str) -> str:
    """``value`` with every character a KV key cannot carry written as ``=XX`` (UTF-8 bytes in hex)."""
    if all(ch in _SAFE for ch in value):
        return value
    return "".join(ch if ch in _SAFE else "".join(f"={b:02X}" for b in ch.encode()) for ch in value)


def kv_key(scope_key: str) -> str:
    """The bucket key of a scope (``firm``, ``fund.<id>``, ``strategy.<id>``)."""
    kind, _, ident = scope_key.partition(".")
    return kind if not ident else f"{kind}.{escape_id(ident)}"


def kv_subject(scope_key: str) -> str:
    return _SUBJECT_PREFIX + kv_key(scope_key)


def kv_value(halt: Halt) -> bytes:
    return schemas.encode(requested_event(halt))


async def enqueue_put(conn: asyncpg.pool.PoolConnectionProxy, halt: Halt, *, source: str) -> None:
    """Within the caller's transaction: put the halt's key once the transaction commits."""
    await enqueue(
        conn,
        source=source,
        subject=kv_subject(halt.scope),
        payload=kv_value(halt),
        event_id=f"{halt.halt_id}:kv:put",
    )


async def enqueue_delete(conn: asyncpg.pool.PoolConnectionProxy, halt: Halt, *, source: str) -> None:
    """Within the caller's transaction: delete the halt's key once the transaction commits."""
    await enqueue(
        conn,
        source=source,
        subject=kv_subject(halt.scope),
        payload=b"",
        event_id=f"{halt.halt_id}:kv:del",
        headers={KV_OP: KV_DEL},
    )


async def open_bucket(bus: Bus) -> KeyValue:
    """The bucket, created (file storage, one value per key) if it does not exist yet."""
    return await bus.kv(BUCKET, history=1, description="halts in force, one key per scope (mts1b-halt)")


async def read_bucket(bus: Bus, kv: KeyValue) -> dict[str, bytes]:
    """Every live key of the bucket and its value.

    The stream lists the subjects it holds (one message each: history is 1), then each key is
    read; deleted keys keep a marker message and read as not found. (nats-py's ``keys()`` and
    ``watchall()`` can report an empty bucket when entries arrive before their start marker.)
    """
    info = await bus.js.stream_info(KV_STREAM, subjects_filter=f"{_SUBJECT_PREFIX}>")
    entries: dict[str, bytes] = {}
    for subject in info.state.subjects or {}:
        key = subject.removeprefix(_SUBJECT_PREFIX)
        try:
            entry = await kv.get(key)
        except NotFoundError:  # deleted, purged, or gone since the listing
            continue
        entries[key] = entry.value or b""
    return entries


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`reconcile` changed: keys put, keys deleted, keys already right."""

    put: list[str]
    deleted: list[str]
    unchanged: int
    rounds: int


async def reconcile(
    bus: Bus, kv: KeyValue, load_active: Callable[[], Awaitable[list[Halt]]]
) -> ReconcileReport:
    """Make the bucket hold exactly the halts in force in Postgres.

    Postgres is read again after the bucket is written; if a halt was requested or resumed
    meanwhile (its own outbox publish may have landed before this round's write), the round
    is repeated, so a concurrent change is never undone.
    """
    put: list[str] = []
    deleted: list[str] = []
    unchanged = 0
    desired = {kv_key(h.scope): kv_value(h) for h in await load_active()}
    for round_no in range(1, _MAX_ROUNDS + 1):
        current = await read_bucket(bus, kv)
        unchanged = 0
        for key, value in desired.items():
            if current.get(key) == value:
                unchanged += 1
                continue
            await kv.put(key, value)
            put.append(key)
        for key in current.keys() - desired.keys():
            await kv.delete(key)
            deleted.append(key)
        again = {kv_key(h.scope): kv_value(h) for h in await load_active()}
        if again == desired:
            return ReconcileReport(put=put, deleted=deleted, unchanged=unchanged, rounds=round_no)
        desired = again
    log.warning(
        "halt KV reconcile: halts kept changing for %d rounds; the outbox will finish the job", _MAX_ROUNDS
    )
    return ReconcileReport(put=put, deleted=deleted, unchanged=unchanged, rounds=_MAX_ROUNDS)
