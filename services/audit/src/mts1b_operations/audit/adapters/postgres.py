"""The audit chain's SQL: one append batch per transaction, and the reads.

Tables and functions are those of migration 0002_audit_chain. Writes go only through the
SECURITY DEFINER functions (``audit_lock_head``, ``audit_append``, ``audit_record_checkpoint``),
so a connection logged in as a member of ``mts_audit_writer`` can do all of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import msgspec

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.outbox import OutboxEvent, enqueue, enqueue_many

from ..checkpoints import AuditCheckpointRecord
from ..domain import (
    AuditEntry,
    ChainHead,
    ChainIntegrityError,
    IntegrityProblem,
    entry_from_canonical,
    make_entry,
)

__all__ = [
    "PAGE_SIZE",
    "AppendRequest",
    "BatchWriter",
    "Connection",
    "entries_page",
    "entry_at",
    "fetch_checkpoint",
    "fetch_checkpoints",
    "fetch_hashes",
    "fetch_head",
    "latest_checkpoint",
    "record_checkpoint",
    "stored_page",
    "stored_pages",
    "trail",
]

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_LOCK_HEAD: Final = "SELECT next_sequence, head_hash, head_timestamp_us FROM audit_lock_head()"
_HEAD: Final = "SELECT next_sequence, head_hash FROM audit_head"
_EXISTING: Final = """
SELECT sequence, canonical, hash, source_event_id FROM audit_entries
WHERE source_event_id = ANY($1::text[])
"""
_APPEND: Final = "SELECT audit_append($1::bytea[], $2::text[], $3::text[])"
_HASH_AT: Final = "SELECT hash FROM audit_entries WHERE sequence = $1"
_STORED_PAGE: Final = """
SELECT sequence, timestamp_us, actor, action, subject_id, data::text, prev_hash, hash, canonical
FROM audit_entries WHERE sequence >= $1 AND sequence < $3 ORDER BY sequence LIMIT $2
"""
_NO_END: Final = 2**63 - 1
PAGE_SIZE: Final = 5000
"""Rows per page when reading the chain in order."""
_ENTRIES: Final = """
SELECT sequence, canonical, hash FROM audit_entries WHERE sequence >= $1 ORDER BY sequence LIMIT $2
"""
_ENTRY: Final = "SELECT sequence, canonical, hash FROM audit_entries WHERE sequence = $1"
_TRAIL: Final = """
SELECT sequence, canonical, hash FROM audit_entries WHERE subject_id = $1 ORDER BY sequence LIMIT $2
"""
_HASHES: Final = """
SELECT sequence, hash FROM audit_entries WHERE sequence >= $1 AND sequence < $2 ORDER BY sequence
"""
_CHECKPOINT_COLUMNS: Final = "tree_size, key_id, head_hash, merkle_root, note, signed_at"
# The largest checkpoint of each of $2 equal slices of the chain (up to $3 entries); beyond it
# (a truncated chain) all fall in the last slices, and their largest is kept.
_CHECKPOINTS: Final = f"""
SELECT DISTINCT ON (tree_size * $2 / $3) {_CHECKPOINT_COLUMNS} FROM audit_checkpoints
WHERE key_id = $1 ORDER BY tree_size * $2 / $3, tree_size DESC
"""  # noqa: S608
_CHECKPOINTS_OF_ALL: Final = f"""
SELECT DISTINCT ON (key_id, tree_size * $1 / $2) {_CHECKPOINT_COLUMNS} FROM audit_checkpoints
ORDER BY key_id, tree_size * $1 / $2, tree_size DESC
"""  # noqa: S608
_LATEST_OF_KEY: Final = f"""
SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE key_id = $1 ORDER BY tree_size DESC LIMIT 1
"""  # noqa: S608
_LATEST_OF_ANY: Final = f"""
SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY tree_size DESC, signed_at DESC LIMIT 1
"""  # noqa: S608
_CHECKPOINT: Final = f"""
SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tree_size = $1 AND key_id = $2
"""  # noqa: S608
_RECORD_CHECKPOINT: Final = "SELECT audit_record_checkpoint($1, $2, $3, $4, $5, $6)"

# Untyped: faster, and the column is CHECKed to hold an object (verify compares it anyway).
_DATA: Final = msgspec.json.Decoder()
_APPENDED_SUBJECT: Final = subjects.audit_appended()
_CHECKPOINT_SUBJECT: Final = subjects.audit_checkpoint()


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One caller's append, already validated."""

    actor: str
    action: str
    subject_id: str
    data: dict[str, Any]
    source_event_id: str | None = None


class BatchWriter:
    """Writes one batch of appends in one transaction, and can tell whether a lost one committed.

    :meth:`write` locks the head, answers requests whose ``source_event_id`` is already in the
    chain with the stored entry, builds the new entries after the head (one timestamp for the
    batch, taken under the lock and never before the last entry's, so timestamps never go back
    along the chain, whatever the clocks of the writers' hosts do), appends them with
    ``audit_append``, enqueues one mts.v1.operations.audit.appended event each and commits.

    If the connection is lost, the last attempt stays *in doubt*; the next :meth:`write` first
    takes the head lock (so no transaction of the lost attempt can still be running) and looks
    for its first new entry with its exact hash: found, the attempt committed and its entries are
    the answer; absent, it did not, and the batch is built afresh. Never appended twice.
    """

    def __init__(self, requests: Sequence[AppendRequest], *, source: str) -> None:
        self._requests = list(requests)
        self._source = source
        self._in_doubt: tuple[list[AuditEntry], list[AuditEntry]] | None = None
        self._committed: list[AuditEntry] | None = None

    @property
    def in_doubt(self) -> bool:
        """True while an attempt may have committed without its caller hearing so."""
        return self._in_doubt is not None

    async def write(self, conn: Connection) -> list[AuditEntry]:
        """One attempt; returns each request's entry (new or already stored), in request order.

        Once an attempt committed, every later call returns its entries without touching the database.
        """
        if self._committed is not None:
            return self._committed
        async with conn.transaction():
            row = await conn.fetchrow(_LOCK_HEAD)
            assert row is not None
            next_sequence, head_hash, head_timestamp_us = int(row[0]), str(row[1]), row[2]
            if self._in_doubt is not None:
                results, written = self._in_doubt
                committed = await _committed(conn, written)  # in doubt until this answers
                self._in_doubt = None
                if committed:
                    self._committed = results
                    return results
            existing = await self._existing(conn)
            timestamp_us = max(time.time_ns() // 1000, head_timestamp_us or 0)
            results, written, event_ids = self._build(next_sequence, head_hash, timestamp_us, existing)
            if written:
                self._in_doubt = (results, written)
                await conn.fetchval(
                    _APPEND, [e.canonical for e in written], [e.hash for e in written], event_ids
                )
                # One round trip for the batch's events while the chain head is locked.
                await enqueue_many(
                    conn,
                    source=self._source,
                    events=[
                        OutboxEvent(
                            subject=_APPENDED_SUBJECT,
                            payload=_appended_event(entry),
                            event_id=f"audit-{entry.sequence}",
                        )
                        for entry in written
                    ],
                )
        self._in_doubt = None
        self._committed = results
        return results

    async def _existing(self, conn: Connection) -> dict[str, AuditEntry]:
        ids = list({r.source_event_id for r in self._requests if r.source_event_id is not None})
        if not ids:
            return {}
        rows = await conn.fetch(_EXISTING, ids)
        return {row["source_event_id"]: _decoded(row) for row in rows}

    def _build(
        self, next_sequence: int, head_hash: str, timestamp_us: int, existing: dict[str, AuditEntry]
    ) -> tuple[list[AuditEntry], list[AuditEntry], list[str | None]]:
        results: list[AuditEntry] = []
        written: list[AuditEntry] = []
        event_ids: list[str | None] = []
        by_event = dict(existing)
        for request in self._requests:
            key = request.source_event_id
            if key is not None and key in by_event:
                results.append(by_event[key])
                continue
            entry = make_entry(
                next_sequence + len(written),
                timestamp_us,
                request.actor,
                request.action,
                request.subject_id,
                request.data,
                written[-1].hash if written else head_hash,
            )
            written.append(entry)
            event_ids.append(key)
            results.append(entry)
            if key is not None:
                by_event[key] = entry
        return results, written, event_ids


async def _committed(conn: Connection, written: list[AuditEntry]) -> bool:
    # One transaction wrote all of them or none: the first one, with its exact hash, tells.
    if not written:
        return True
    stored = await conn.fetchval(_HASH_AT, written[0].sequence)
    return bool(stored == written[0].hash)


def _appended_event(entry: AuditEntry) -> schemas.AuditAppended:
    return schemas.AuditAppended(
        sequence=entry.sequence,
        hash=entry.hash,
        actor=entry.actor,
        action=entry.action,
        subject_id=entry.subject_id or None,
        timestamp_us=entry.timestamp_us,
    )


def _decoded(row: asyncpg.Record) -> AuditEntry:
    """The entry a reader sees: decoded from the stored canonical bytes, which must match the stored hash."""
    sequence, canonical, stored_hash = int(row["sequence"]), bytes(row["canonical"]), str(row["hash"])
    entry = entry_from_canonical(canonical, sequence=sequence)
    if entry.hash != stored_hash:
        raise ChainIntegrityError(
            sequence,
            f"hash mismatch: the stored hash {stored_hash[:16]}... is not the SHA-256 of the stored "
            f"canonical bytes ({entry.hash[:16]}...); the entry's content was changed",
            IntegrityProblem.HASH_MISMATCH,
        )
    return entry


# ---------------------------------------------------------------- reads


async def fetch_head(conn: Connection) -> ChainHead:
    row = await conn.fetchrow(_HEAD)
    if row is None:
        raise ChainIntegrityError(0, "the audit_head row is missing", IntegrityProblem.HEAD_MISMATCH)
    return ChainHead(next_sequence=int(row[0]), head_hash=str(row[1]))


async def stored_page(
    conn: Connection, from_sequence: int, limit: int, stop: int | None = None
) -> list[AuditEntry]:
    """Rows as stored (each column as its own copy), for the verifier, in sequence order, below ``stop``."""
    rows = await conn.fetch(_STORED_PAGE, from_sequence, limit, _NO_END if stop is None else stop)
    decode = _DATA.decode
    return [
        AuditEntry(
            sequence=row[0],
            timestamp_us=row[1],
            actor=row[2],
            action=row[3],
            subject_id=row[4],
            data=decode(row[5]),
            prev_hash=row[6],
            hash=row[7],
            canonical=row[8],
        )
        for row in rows
    ]


async def stored_pages(
    conn: Connection, start: int, stop: int | None = None
) -> AsyncGenerator[list[AuditEntry], None]:
    """:func:`stored_page` after page from ``start`` (up to ``stop``). The next page is requested
    before the caller works on the current one, so Postgres produces it meanwhile (on another core).
    Use it in ``contextlib.aclosing``, so that a request still in flight is finished when the caller
    stops early."""
    fetch: asyncio.Future[list[AuditEntry]] | None = asyncio.ensure_future(
        stored_page(conn, start, PAGE_SIZE, stop)
    )
    try:
        while fetch is not None:
            page = await fetch
            fetch = None
            if not page:
                return
            if len(page) == PAGE_SIZE:
                fetch = asyncio.ensure_future(stored_page(conn, page[-1].sequence + 1, PAGE_SIZE, stop))
                await asyncio.sleep(0)  # one loop pass: the request goes out now
            yield page
    finally:
        if fetch is not None:
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch


async def entries_page(conn: Connection, from_sequence: int, limit: int) -> list[AuditEntry]:
    return [_decoded(row) for row in await conn.fetch(_ENTRIES, from_sequence, limit)]


async def entry_at(conn: Connection, sequence: int) -> AuditEntry | None:
    row = await conn.fetchrow(_ENTRY, sequence)
    return None if row is None else _decoded(row)


async def trail(conn: Connection, subject_id: str, limit: int | None) -> list[AuditEntry]:
    """The entries about ``subject_id`` in chain order (all of them when ``limit`` is None)."""
    return [_decoded(row) for row in await conn.fetch(_TRAIL, subject_id, limit)]


async def fetch_hashes(conn: Connection, start: int, stop: int) -> list[tuple[int, str]]:
    """(sequence, hash) of the stored entries with start <= sequence < stop, in order."""
    return [(int(row[0]), str(row[1])) for row in await conn.fetch(_HASHES, start, stop)]


# ---------------------------------------------------------------- checkpoints


def _checkpoint(row: asyncpg.Record) -> AuditCheckpointRecord:
    return AuditCheckpointRecord(
        tree_size=int(row["tree_size"]),
        key_id=str(row["key_id"]),
        head_hash=str(row["head_hash"]),
        merkle_root=str(row["merkle_root"]),
        note=str(row["note"]),
        signed_at=row["signed_at"],
    )


async def fetch_checkpoints(
    conn: Connection, key_id: str | None, *, chain_length: int, slices: int = 1024
) -> list[AuditCheckpointRecord]:
    """The checkpoints of ``key_id`` (of every key when None, each key on its own) a verification
    uses, in tree-size order: all of them while they are few; with a checkpoint a second for years,
    the largest of each of ``slices`` equal slices of the chain (so a damaged stretch is still
    located to 1/``slices`` of it), and always the latest. Every key that signed one is present."""
    length = max(chain_length, 1)
    rows = await (
        conn.fetch(_CHECKPOINTS_OF_ALL, slices, length)
        if key_id is None
        else conn.fetch(_CHECKPOINTS, key_id, slices, length)
    )
    return sorted((_checkpoint(row) for row in rows), key=lambda c: c.tree_size)


async def latest_checkpoint(conn: Connection, key_id: str | None) -> AuditCheckpointRecord | None:
    """The checkpoint of the largest tree signed by ``key_id`` (by any key when None)."""
    row = await (conn.fetchrow(_LATEST_OF_ANY) if key_id is None else conn.fetchrow(_LATEST_OF_KEY, key_id))
    return None if row is None else _checkpoint(row)


async def fetch_checkpoint(conn: Connection, tree_size: int, key_id: str) -> AuditCheckpointRecord | None:
    row = await conn.fetchrow(_CHECKPOINT, tree_size, key_id)
    return None if row is None else _checkpoint(row)


async def record_checkpoint(conn: Connection, record: AuditCheckpointRecord, *, source: str) -> bool:
    """Store ``record`` and enqueue its event, in the caller's transaction; False if already stored."""
    inserted = bool(
        await conn.fetchval(
            _RECORD_CHECKPOINT,
            record.tree_size,
            record.key_id,
            record.head_hash,
            record.merkle_root,
            record.note,
            record.signed_at,
        )
    )
    if inserted:
        await enqueue(
            conn,
            source=source,
            subject=_CHECKPOINT_SUBJECT,
            payload=record.event(),
            event_id=record.event_id,
        )
    return inserted
