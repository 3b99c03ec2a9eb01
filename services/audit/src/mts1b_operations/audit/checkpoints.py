"""Signed checkpoints: the stored record, and the background signer.

A checkpoint is a C2SP signed note (see ``domain._note``) over the chain's first ``tree_size``
entries: their RFC 6962 Merkle root and the hash of the last of them. The chain stores each in
``audit_checkpoints`` and publishes it on mts.v1.operations.audit.checkpoint through the outbox
(the AUDIT_CHECKPOINTS stream denies delete and purge, so a copy outside the database survives
a DBA). :class:`CheckpointSigner` signs at most once per ``interval`` and only when the head moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Protocol

import msgspec

from mts1b_operations.core import schemas

from .domain import ChainIntegrityError

__all__ = ["AuditCheckpointRecord", "CheckpointSigner", "Checkpointer"]

log = logging.getLogger(__name__)


class AuditCheckpointRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored checkpoint: the first ``tree_size`` entries, signed by key ``key_id``."""

    tree_size: int
    """How many entries it covers: sequences 0 .. tree_size - 1."""
    key_id: str
    """The signing key's 4-byte C2SP key ID, hex."""
    head_hash: str
    """The hash of entry ``tree_size - 1``."""
    merkle_root: str
    """The RFC 6962 root over the entries' hashes, hex."""
    note: str
    """The signed note, exactly as signed (check it with the public key and key name)."""
    signed_at: datetime

    @property
    def sequence(self) -> int:
        """The last sequence covered."""
        return self.tree_size - 1

    def event(self) -> schemas.AuditCheckpoint:
        """The mts.v1.operations.audit.checkpoint payload."""
        return schemas.AuditCheckpoint(
            tree_size=self.tree_size,
            sequence=self.sequence,
            head_hash=self.head_hash,
            merkle_root=self.merkle_root,
            note=self.note,
            key_id=self.key_id,
            signed_at=self.signed_at,
        )

    @property
    def event_id(self) -> str:
        """The outbox event id (and Nats-Msg-Id): one per key and size."""
        return f"audit-checkpoint-{self.key_id}-{self.tree_size}"


class Checkpointer(Protocol):
    """What the signer needs of :class:`~mts1b_operations.audit.AuditChain`."""

    async def checkpoint_if_moved(self) -> AuditCheckpointRecord | None: ...


class CheckpointSigner:
    """Signs a checkpoint at most every ``interval`` seconds, when the chain head moved.

    ``start()`` runs it in the background, ``stop()`` ends it. A failure (Postgres down, a
    damaged chain) is logged and tried again on the next tick; the signer never signs over
    entries that do not verify (the chain refuses).
    """

    def __init__(self, chain: Checkpointer, *, interval: float = 1.0) -> None:
        if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
            raise ValueError(f"interval: must be a positive number of seconds (got {interval!r})")
        self._chain = chain
        self.interval = float(interval)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.signed = 0
        """Checkpoints signed by this signer."""
        self.last: AuditCheckpointRecord | None = None
        """The last checkpoint it signed."""
        self.last_error: BaseException | None = None
        """The error of the last tick, None once a tick succeeds."""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            raise RuntimeError("the checkpoint signer is already running")
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="audit-checkpoint-signer")

    async def stop(self) -> None:
        """Finish the tick in progress, then stop."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def tick(self) -> AuditCheckpointRecord | None:
        """One round: sign if the head moved since the last checkpoint; the new record or None."""
        try:
            record = await self._chain.checkpoint_if_moved()
        except ChainIntegrityError as exc:
            self.last_error = exc
            log.error("audit checkpoint refused: the chain does not verify: %s", exc)
            return None
        except Exception as exc:
            self.last_error = exc
            log.warning("audit checkpoint failed, trying again in %.1fs: %r", self.interval, exc)
            return None
        self.last_error = None
        if record is not None:
            self.signed += 1
            self.last = record
        return record

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            await self.tick()
            remaining = self.interval - (loop.time() - started)
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=remaining)
