"""The audit chain on Postgres: :class:`AuditChain` and the module-level, lazily configured ``audit_chain``.

Appends are group-committed (see ``adapters.group_commit``): concurrent ``append`` calls of one
process share one transaction, which locks the chain head, appends through ``audit_append``
and enqueues one mts.v1.operations.audit.appended event per entry in the core outbox. A batch
whose connection is lost is retried (tenacity) only once it is certain it did not commit (see
``adapters.postgres.BatchWriter``). Checkpoints sign the RFC 6962 root of an in-memory Merkle
tree that is extended from the database as the chain grows (never rebuilt), and only over
entries that verify. ``verify`` re-checks everything from the stored bytes in one snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from mts1b_operations.core.bus import Bus, connect_bus, split_servers
from mts1b_operations.core.db import TRANSIENT_ERRORS, create_pool
from mts1b_operations.core.outbox import OutboxRelay

from . import _config
from ._verify_worker import RangeOutcome, VerifyWorkerError, verify_range_elsewhere
from .adapters import postgres as store
from .adapters.group_commit import GroupCommitter
from .adapters.postgres import AppendRequest, BatchWriter
from .checkpoints import AuditCheckpointRecord
from .domain import (
    FIRST_SEQUENCE,
    GENESIS_PREV_HASH,
    AuditEntry,
    AuditInputError,
    ChainHead,
    ChainIntegrityError,
    ChainVerifier,
    Checkpoint,
    InclusionProof,
    IntegrityProblem,
    MerkleTree,
    NoteError,
    NoteSignatureError,
    key_id,
    leaf_hash,
    load_signing_key,
    make_inclusion_proof,
    note_key_ids,
    parse_and_verify_checkpoint,
    parse_verifier_key,
    public_key_from,
    sign_checkpoint,
    validate_append,
    verifier_key_string,
    verify_entries,
)

__all__ = [
    "DEFAULT_ORIGIN",
    "MAX_SOURCE_EVENT_ID_CHARS",
    "AuditChain",
    "AuditChainError",
    "CheckpointUnavailableError",
    "EntryNotFoundError",
    "audit_chain",
]

log = logging.getLogger(__name__)

DEFAULT_ORIGIN: Final = "mts1b-operations/audit"
"""The checkpoints' origin line, and the name of the key that signs them."""
MAX_SOURCE_EVENT_ID_CHARS: Final = 1024
MAX_PAGE: Final = 10_000
_PAGE: Final = store.PAGE_SIZE
_RETRYABLE: Final[tuple[type[BaseException], ...]] = (
    *TRANSIENT_ERRORS,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)

Progress = Callable[[int, int], object]
"""``progress(next_sequence, end)``: verified up to ``next_sequence`` of ``end`` entries."""


class AuditChainError(Exception):
    """A request the chain cannot serve (its message says why); not damage, see ChainIntegrityError."""


class EntryNotFoundError(AuditChainError, LookupError):
    """No entry has that sequence."""

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        super().__init__(f"sequence: no audit entry {sequence}")


class CheckpointUnavailableError(AuditChainError):
    """No checkpoint can be signed or found: no key, an empty chain, or the entry is not yet covered."""


class AuditChain:
    """The hash-chained, append-only audit trail in Postgres.

    ``dsn`` (default: MTS_DATABASE_URL) or an open asyncpg ``pool`` (not closed by
    :meth:`close`); ``nats_url``, when given, also runs an outbox relay in this process that
    publishes the chain's events (a service's runtime runs its own relay instead). Nothing
    connects before first use.

    ``signing_key`` (an Ed25519 private key or the path of its seed file; default:
    MTS_AUDIT_SIGNING_KEY when set) signs checkpoints; ``verifier_key`` (a public key, its 32
    bytes or a C2SP verifier key string) lets a chain that does not sign check them.
    ``retired_keys`` (public keys in the same forms; default: MTS_AUDIT_RETIRED_PUBLIC_KEYS when
    the signing key also comes from the environment) are the keys that signed before a rotation.
    :meth:`verify` checks every stored checkpoint with the key its note names by key ID and fails
    on a checkpoint of any other key. Without any key, it checks the links, hashes and head but
    cannot trust the stored checkpoints, so it cannot see a truncated tail or a consistently
    rewritten chain.

    ``max_batch`` / ``linger`` bound a group commit; a batch whose connection is lost is retried
    for ``retry_deadline`` seconds, after which the connection error is raised (the entry may
    then have been written: appending again with the same ``source_event_id`` is safe).

    :meth:`verify` of ``parallel_verify_from`` entries or more hands the later half to a second
    process on the same snapshot (two cores); that process connects with ``dsn``, so a chain
    built on a ``pool`` verifies in one process unless it is given the ``dsn`` too (the pool
    still serves everything else).
    """

    def __init__(
        self,
        dsn: str | None = None,
        nats_url: str | None = None,
        *,
        pool: asyncpg.Pool | None = None,
        source: str = "audit",
        signing_key: Ed25519PrivateKey | str | Path | None = None,
        verifier_key: Ed25519PublicKey | bytes | str | None = None,
        retired_keys: Iterable[Ed25519PublicKey | bytes | str] | None = None,
        origin: str = DEFAULT_ORIGIN,
        max_batch: int = 256,
        linger: float = 0.002,
        retry_deadline: float = 30.0,
        pool_size: int = 8,
        parallel_verify_from: int | None = 200_000,
    ) -> None:
        self._dsn = None if dsn is None else _config.check_dsn(dsn)
        if nats_url is not None:
            try:
                split_servers(nats_url)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"nats_url: {str(exc).removeprefix('url: ')}") from None
        self._nats_url = nats_url
        self._nats_from_env = False
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"source: a non-empty outbox source is required (got {source!r})")
        if not isinstance(retry_deadline, int | float) or retry_deadline <= 0:
            raise ValueError(f"retry_deadline: must be a positive number of seconds (got {retry_deadline!r})")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 2:
            raise ValueError(f"pool_size: must be an integer >= 2 (got {pool_size!r})")
        if not isinstance(origin, str) or not re.fullmatch(r"[!-*,-~]{1,200}", origin):
            raise ValueError(
                f"origin: must be 1 to 200 printable ASCII characters without spaces or '+' (got {origin!r})"
            )
        self.source = source
        self.origin = origin
        self._given_pool = pool
        self._retry_deadline = float(retry_deadline)
        if parallel_verify_from is not None:
            _check_int("parallel_verify_from", parallel_verify_from, minimum=1)
        self._parallel_verify_from = parallel_verify_from
        self._resolved_dsn: str | None = None
        self.last_verify_split: int | None = None
        """Where the last :meth:`verify` handed over to a second process (None: it did not)."""
        self._pool_size = pool_size
        self._signing_key = _private_key(signing_key)
        self._signing_key_from_env = signing_key is None and verifier_key is None
        self._public_key = self._verifier(verifier_key, origin)
        self._retired_from_env = retired_keys is None and self._signing_key_from_env
        self._retired = self._retired_verifiers(retired_keys, origin)
        self._committer: GroupCommitter[AppendRequest, AuditEntry] = GroupCommitter(
            self._flush, max_batch=max_batch, linger=linger, name=f"audit-group-commit-{source}"
        )
        self._max_batch, self._linger = max_batch, linger
        self._pool: asyncpg.Pool | None = None
        self._open_lock: asyncio.Lock | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._relay: OutboxRelay | None = None
        self._bus: Bus | None = None
        self._tree = MerkleTree()
        self._tree_head = ChainHead(next_sequence=FIRST_SEQUENCE, head_hash=GENESIS_PREV_HASH)
        self._tree_lock: asyncio.Lock | None = None
        self._signed_size: int | None = None

    @classmethod
    def from_environment(cls) -> AuditChain:
        """A chain configured on first use from MTS_DATABASE_URL, MTS_NATS_URL, MTS_AUDIT_SIGNING_KEY
        and MTS_AUDIT_RETIRED_PUBLIC_KEYS."""
        chain = cls()
        chain._nats_from_env = True
        return chain

    # ------------------------------------------------------------ keys

    @property
    def key_name(self) -> str:
        """The name of the checkpoint key (the C2SP key name; also the checkpoints' origin)."""
        return self.origin

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        """The key checkpoints are checked with (None when the chain has neither key)."""
        self._load_env_key()
        if self._signing_key is not None:
            return self._signing_key.public_key()
        return self._public_key

    @property
    def verifier_key(self) -> str | None:
        """The C2SP verifier key string (``<name>+<key id>+<key>``) that checks this chain's proofs."""
        public = self.public_key
        return None if public is None else verifier_key_string(public, self.key_name)

    @property
    def retired_keys(self) -> tuple[str, ...]:
        """The verifier key strings of the retired keys whose checkpoints :meth:`verify` trusts."""
        self._load_env_key()
        return tuple(verifier_key_string(key, self.key_name) for key in self._retired)

    def _load_env_key(self) -> None:
        if self._signing_key_from_env:
            self._signing_key_from_env = False
            self._signing_key = _config.signing_key_from_env()
        if self._retired_from_env:
            self._retired = _config.retired_keys_from_env(key_name=self.key_name)
            self._retired_from_env = False

    def _known_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every key whose checkpoints are trusted, by hex key ID: the retired ones and the current one."""
        self._load_env_key()
        known = {key_id(self.key_name, key).hex(): key for key in self._retired}
        current = self.public_key
        if current is not None:
            known[key_id(self.key_name, current).hex()] = current
        return known

    def _key_id(self) -> str | None:
        public = self.public_key
        return None if public is None else key_id(self.key_name, public).hex()

    # ------------------------------------------------------------ lifecycle

    @property
    def batches(self) -> int:
        """Append transactions committed or attempted by this chain (group commit statistics)."""
        return self._committer.batches

    async def open(self) -> None:
        """Connect now rather than on first use."""
        await self._ready()

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._pool is None:
                if self._committer.closed:
                    self._committer = GroupCommitter(
                        self._flush,
                        max_batch=self._max_batch,
                        linger=self._linger,
                        name=f"audit-{self.source}",
                    )
                dsn = (
                    self._dsn
                    if self._given_pool is not None
                    else self._dsn or _config.database_url_from_env()
                )
                nats_url = self._nats_url or (_config.nats_url_from_env() if self._nats_from_env else None)
                pool = self._given_pool
                if pool is None:
                    assert dsn is not None  # database_url_from_env() raised otherwise
                    pool = await create_pool(
                        dsn, min_size=1, max_size=self._pool_size, connect_deadline=self._retry_deadline
                    )
                self._resolved_dsn = dsn
                self._pool = pool
                if nats_url is not None:
                    self._relay_task = asyncio.create_task(
                        self._run_relay(pool, nats_url), name=f"audit-relay-{self.source}"
                    )
            return self._pool

    async def _run_relay(self, pool: asyncpg.Pool, nats_url: str) -> None:
        try:
            self._bus = bus = await connect_bus(nats_url, name=f"audit-chain-{self.source}")
            await bus.ensure_streams()
            self._relay = OutboxRelay(pool, bus, source=self.source)
            await self._relay.start()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audit chain: the outbox relay to NATS did not start; events wait in the outbox")

    async def close(self) -> None:
        """Flush the appends in flight, stop the relay, close the pool this chain opened."""
        await self._committer.close()
        if self._relay_task is not None:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)
            self._relay_task = None
        if self._relay is not None:
            await self._relay.stop()
            self._relay = None
        if self._bus is not None:
            await self._bus.close()
            self._bus = None
        pool, self._pool = self._pool, None
        if pool is not None and pool is not self._given_pool:
            await pool.close()

    async def __aenter__(self) -> AuditChain:
        await self._ready()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ appends

    async def append(
        self,
        *,
        actor: str,
        action: str,
        subject_id: str,
        data: dict[str, Any],
        source_event_id: str | None = None,
    ) -> AuditEntry:
        """Append one entry and return it once committed (durably: synchronous_commit stays on).

        Bad input raises :class:`AuditInputError` naming the field, before anything is written.
        A ``source_event_id`` already in the chain returns that entry and appends nothing.
        """
        validate_append(actor, action, subject_id, data)
        _check_source_event_id(source_event_id)
        await self._ready()
        return await self._committer.submit(AppendRequest(actor, action, subject_id, data, source_event_id))

    async def _flush(self, requests: Sequence[AppendRequest]) -> list[AuditEntry]:
        pool = self._pool
        if pool is None:  # closed while the batch was queued
            raise AuditChainError("the audit chain was closed")
        writer = BatchWriter(requests, source=self.source)
        async for attempt in self._retrying("append batch"):
            with attempt:
                conn = await pool.acquire()
                try:
                    return await writer.write(conn)
                finally:
                    await _release(pool, conn)
        raise AssertionError("unreachable: tenacity returns or raises")

    def _retrying(self, what: str) -> AsyncRetrying:
        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "audit chain: %s failed (%r); retrying (attempt %d)", what, error, state.attempt_number
            )

        return AsyncRetrying(
            stop=stop_after_delay(self._retry_deadline),
            wait=wait_exponential(multiplier=0.02, max=1.0),
            retry=retry_if_exception(_connection_lost),
            before_sleep=log_retry,
            reraise=True,
        )

    # ------------------------------------------------------------ reads

    async def get_trail(self, subject_id: str, *, limit: int | None = None) -> list[AuditEntry]:
        """Every entry about ``subject_id``, in chain order (the first ``limit`` when given)."""
        if not isinstance(subject_id, str):
            raise AuditInputError("subject_id", f"must be a string, got {type(subject_id).__name__}")
        # A subject id no entry could carry (a NUL, a lone surrogate: Postgres text refuses them)
        # has no trail; refused by the rules of an append rather than by the database.
        validate_append("-", "-", subject_id, {})
        if limit is not None:
            _check_int("limit", limit, minimum=1)
        pool = await self._ready()
        async with pool.acquire() as conn:
            return await store.trail(conn, subject_id, limit)

    async def entries(self, from_sequence: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Up to ``limit`` (1..10000) entries from ``from_sequence`` on, in order."""
        _check_int("from_sequence", from_sequence, minimum=0)
        _check_int("limit", limit, minimum=1, maximum=MAX_PAGE)
        pool = await self._ready()
        async with pool.acquire() as conn:
            return await store.entries_page(conn, from_sequence, limit)

    async def get_entry(self, sequence: int) -> AuditEntry:
        """The entry ``sequence``; :class:`EntryNotFoundError` when there is none."""
        _check_int("sequence", sequence, minimum=0)
        pool = await self._ready()
        async with pool.acquire() as conn:
            entry = await store.entry_at(conn, sequence)
        if entry is None:
            raise EntryNotFoundError(sequence)
        return entry

    async def head(self) -> ChainHead:
        """The stored head: the next sequence and the hash it will link to."""
        pool = await self._ready()
        async with pool.acquire() as conn:
            return await store.fetch_head(conn)

    # ------------------------------------------------------------ verification

    async def verify(self, from_sequence: int = 0, *, progress: Progress | None = None) -> bool:
        """Re-check the chain from ``from_sequence`` to the head, in one snapshot; True or raise.

        Each entry's hash against its stored bytes, its column copies, its sequence and prev
        link (``domain.verify_entries``); the stored checkpoints (their signatures first, each with
        the current or a retired key its note names; any other key fails) against the Merkle root
        and head of the entries they cover; ``audit_head`` against the last entry.
        Entries before ``from_sequence`` are only read for their hashes. Raises
        :class:`ChainIntegrityError` with the first bad sequence and the reason.
        """
        _check_int("from_sequence", from_sequence, minimum=0)
        pool = await self._ready()
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            stored_head = await store.fetch_head(conn)
            if from_sequence > stored_head.next_sequence:
                raise AuditInputError(
                    "from_sequence",
                    f"{from_sequence} is beyond the chain's head (next sequence {stored_head.next_sequence})",
                )
            verifier = ChainVerifier(await self._trusted(conn, stored_head.next_sequence))
            await _feed_prefix(conn, verifier, from_sequence)
            end = stored_head.next_sequence

            def report(done: int) -> None:
                if progress is not None:
                    progress(done, max(end, done))

            split = self._split_point(from_sequence, end)
            self.last_verify_split = split
            if split is None:
                await _verify_pages(conn, verifier, from_sequence, None, report)
            else:
                # The later half in a second process, on this transaction's snapshot.
                snapshot = str(await conn.fetchval("SELECT pg_export_snapshot()"))
                assert self._resolved_dsn is not None
                later = asyncio.ensure_future(
                    verify_range_elsewhere(self._resolved_dsn, snapshot, split, end)
                )
                try:
                    await _verify_pages(conn, verifier, from_sequence, split, report)
                    outcome = await _worker_outcome(later)
                finally:
                    if not later.done():
                        later.cancel()
                        with contextlib.suppress(BaseException):
                            await later
                if outcome is None:  # no worker: this process does the rest
                    await _verify_pages(conn, verifier, split, None, report)
                else:
                    hashes, damage = outcome
                    verifier.feed_prefix([hashes[i : i + 64] for i in range(0, len(hashes), 64)])
                    if damage is not None:
                        raise damage
                    report(verifier.head.next_sequence)
                    # Rows past the worker's range (past the head: none unless forged) are read here.
                    await _verify_pages(conn, verifier, verifier.head.next_sequence, None, report)
            verifier.finish(stored_head=stored_head)
        return True

    def _split_point(self, start: int, end: int) -> int | None:
        """Where the second process takes over, or None to verify in this process alone."""
        threshold = self._parallel_verify_from
        if threshold is None or self._resolved_dsn is None or end - start < threshold:
            return None
        if (os.cpu_count() or 1) < 2:
            return None
        # This process also feeds the Merkle tree with the other half's hashes: it takes a bit less.
        return start + (end - start) * 9 // 20

    async def _trusted(self, conn: store.Connection, chain_length: int) -> list[Checkpoint]:
        """The stored checkpoints of every key, each signature verified with the key its note names
        (a key this chain does not know fails); when there are very many, a spread of each key's
        and its latest (see ``fetch_checkpoints``). None at all for a chain without any key."""
        known = self._known_keys()
        if not known:
            return []
        records = await store.fetch_checkpoints(conn, None, chain_length=chain_length)
        return [self._trust(record, known) for record in records]

    def _trust(self, record: AuditCheckpointRecord, known: Mapping[str, Ed25519PublicKey]) -> Checkpoint:
        last = max(record.tree_size - 1, FIRST_SEQUENCE)
        try:
            signed_by = note_key_ids(record.note, self.key_name)
            if not signed_by:
                raise NoteSignatureError(f"the note carries no signature of key {self.key_name!r}")
            ours = [kid for kid in signed_by if kid in known]
            if not ours:
                raise ChainIntegrityError(
                    last,
                    f"checkpoint of {record.tree_size} entries: signed by unknown key id "
                    f"{', '.join(signed_by)}, neither the current key nor a retired one "
                    f"({_config.RETIRED_KEYS_VARIABLE}); known key ids: {', '.join(sorted(known))}",
                    IntegrityProblem.UNKNOWN_KEY,
                )
            kid = ours[0]
            checkpoint = parse_and_verify_checkpoint(record.note, known[kid], self.key_name)
        except NoteError as exc:
            raise ChainIntegrityError(
                last,
                f"checkpoint of {record.tree_size} entries: its signed note does not verify ({exc}); "
                "the stored checkpoint was forged or altered",
                IntegrityProblem.CHECKPOINT_MISMATCH,
            ) from None
        if (
            checkpoint.origin != self.origin
            or record.key_id != kid
            or checkpoint.tree_size != record.tree_size
            or checkpoint.head_hash != record.head_hash
            or checkpoint.root_hash.hex() != record.merkle_root
        ):
            raise ChainIntegrityError(
                last,
                f"checkpoint of {record.tree_size} entries: the stored columns disagree with its signed note",
                IntegrityProblem.CHECKPOINT_MISMATCH,
            )
        return checkpoint

    # ------------------------------------------------------------ checkpoints and proofs

    async def checkpoint(self) -> AuditCheckpointRecord:
        """Sign the current head now (returns the stored checkpoint if that size is already signed).

        Signs only entries that verify; stores the checkpoint and enqueues
        mts.v1.operations.audit.checkpoint in one transaction.
        """
        self._load_env_key()
        private = self._signing_key
        if private is None:
            raise CheckpointUnavailableError(
                f"no signing key: pass signing_key= or set {_config.SIGNING_KEY_VARIABLE}"
            )
        kid = key_id(self.key_name, private.public_key()).hex()
        pool = await self._ready()
        async with self._tree_guard(), pool.acquire() as conn:
            await self._sync_tree(conn)
            size = self._tree.size
            if size == 0:
                raise CheckpointUnavailableError("the chain is empty: there is nothing to sign")
            stored = await store.fetch_checkpoint(conn, size, kid)
            if stored is not None:
                self._signed_size = size
                return stored
            head_hash = self._tree_head.head_hash
            root = self._tree.root()
            record = AuditCheckpointRecord(
                tree_size=size,
                key_id=kid,
                head_hash=head_hash,
                merkle_root=root.hex(),
                note=sign_checkpoint(self.origin, size, root, head_hash, private, self.key_name),
                signed_at=datetime.now(UTC),
            )
            async with conn.transaction():
                inserted = await store.record_checkpoint(conn, record, source=self.source)
            if not inserted:  # another process signed this size in the meantime
                record = await store.fetch_checkpoint(conn, size, kid) or record
            self._signed_size = size
            return record

    async def checkpoint_if_moved(self) -> AuditCheckpointRecord | None:
        """Sign when the head moved past the last checkpoint of this key; the new record or None."""
        self._load_env_key()
        if self._signing_key is None:
            raise CheckpointUnavailableError(
                f"no signing key: pass signing_key= or set {_config.SIGNING_KEY_VARIABLE}"
            )
        pool = await self._ready()
        async with pool.acquire() as conn:
            head = await store.fetch_head(conn)
            if self._signed_size is None:
                latest = await store.latest_checkpoint(conn, self._key_id())
                self._signed_size = 0 if latest is None else latest.tree_size
        if head.next_sequence <= self._signed_size:
            return None
        return await self.checkpoint()

    async def latest_checkpoint(self) -> AuditCheckpointRecord | None:
        """The checkpoint of the largest tree (signed by this chain's key, when it has one)."""
        pool = await self._ready()
        async with pool.acquire() as conn:
            return await store.latest_checkpoint(conn, self._key_id())

    async def prove(self, sequence: int) -> InclusionProof:
        """An inclusion proof of entry ``sequence`` against the latest checkpoint, checkable offline
        with ``domain.check_proof_offline(proof, public_key, key_name)``.

        When no checkpoint covers the entry yet and this chain can sign, it signs one first.
        """
        _check_int("sequence", sequence, minimum=0)
        public = self.public_key
        if public is None:
            raise CheckpointUnavailableError(
                "no key: a chain without signing_key or verifier_key cannot trust a checkpoint"
            )
        pool = await self._ready()
        async with pool.acquire() as conn:
            entry = await store.entry_at(conn, sequence)
            if entry is None:
                raise EntryNotFoundError(sequence)
            record = await store.latest_checkpoint(conn, self._key_id())
        if (record is None or record.tree_size <= sequence) and self._signing_key is not None:
            record = await self.checkpoint()
        if record is None or record.tree_size <= sequence:
            covered = (
                "no checkpoint" if record is None else f"the latest checkpoint covers {record.tree_size}"
            )
            raise CheckpointUnavailableError(f"sequence: entry {sequence} is not signed yet ({covered})")
        checkpoint = self._trust(record, self._known_keys())
        async with self._tree_guard(), pool.acquire() as conn:
            await self._sync_tree(conn)
            if self._tree.leaf_hash_at(sequence) != leaf_hash(bytes.fromhex(entry.hash)):
                raise ChainIntegrityError(
                    sequence,
                    f"hash mismatch: entry {sequence} is no longer the entry this chain read and signed; "
                    "it was changed and rehashed",
                    IntegrityProblem.CHECKPOINT_MISMATCH,
                )
            return make_inclusion_proof(
                self._tree, checkpoint, sequence=sequence, entry_hash=entry.hash, canonical=entry.canonical
            )

    def _tree_guard(self) -> asyncio.Lock:
        if self._tree_lock is None:
            self._tree_lock = asyncio.Lock()
        return self._tree_lock

    async def _sync_tree(self, conn: store.Connection) -> None:
        """Extend the in-memory tree with the entries appended since, verifying them first."""
        async with contextlib.aclosing(store.stored_pages(conn, self._tree.size)) as pages:
            async for page in pages:
                head = verify_entries(
                    page,
                    expected_prev_hash=self._tree_head.head_hash,
                    expected_sequence=self._tree_head.next_sequence,
                )
                self._tree.extend(bytes.fromhex(entry.hash) for entry in page)
                self._tree_head = head

    @staticmethod
    def _verifier(
        key: Ed25519PublicKey | bytes | str | None, origin: str, field: str = "verifier_key"
    ) -> Ed25519PublicKey | None:
        if key is None:
            return None
        if isinstance(key, str):
            try:
                name, public = parse_verifier_key(key)
            except NoteError as exc:
                raise ValueError(f"{field}: {exc}") from None
            if name != origin:
                raise ValueError(f"{field}: it is the key of {name!r}, not of {origin!r}")
            return public
        try:
            return public_key_from(key)
        except NoteError as exc:
            raise ValueError(f"{field}: {exc}") from None

    @classmethod
    def _retired_verifiers(
        cls, keys: Iterable[Ed25519PublicKey | bytes | str] | None, origin: str
    ) -> tuple[Ed25519PublicKey, ...]:
        if keys is None:
            return ()
        if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
            raise ValueError(f"retired_keys: expected a list of public keys, got {type(keys).__name__}")
        found: list[Ed25519PublicKey] = []
        for index, key in enumerate(keys):
            public = cls._verifier(key, origin, f"retired_keys[{index}]")
            if public is None:
                raise ValueError(f"retired_keys[{index}]: expected a public key, got None")
            found.append(public)
        return tuple(found)


async def _release(pool: asyncpg.Pool, conn: asyncpg.pool.PoolConnectionProxy) -> None:
    """Give ``conn`` back. A connection that broke after the batch committed must not turn the
    commit into an error (the retry would then append the batch again): the pool terminates it
    and opens a new one, and that is all there is to it."""
    try:
        await pool.release(conn)
    except Exception as exc:
        log.debug("audit chain: releasing a broken connection: %r", exc)


async def _worker_outcome(later: asyncio.Future[RangeOutcome]) -> RangeOutcome | None:
    try:
        return await later
    except (VerifyWorkerError, OSError, msgspec.MsgspecError) as exc:
        log.warning("audit chain: the verify worker failed (%s); verifying its range here", exc)
        return None


async def _verify_pages(
    conn: store.Connection,
    verifier: ChainVerifier,
    start: int,
    stop: int | None,
    report: Callable[[int], None],
) -> None:
    async with contextlib.aclosing(store.stored_pages(conn, start, stop)) as pages:
        async for page in pages:
            verifier.feed(page)
            report(page[-1].sequence + 1)


async def _feed_prefix(conn: store.Connection, verifier: ChainVerifier, until: int) -> None:
    """Hand the hashes of the entries before ``until`` to the verifier (for the Merkle roots)."""
    start = FIRST_SEQUENCE
    while start < until:
        rows = await store.fetch_hashes(conn, start, min(start + _PAGE, until))
        for offset, (sequence, _) in enumerate(rows):
            if sequence != start + offset:
                raise ChainIntegrityError(
                    start + offset,
                    f"sequence gap: entry {start + offset} is missing (the next stored entry is {sequence}); "
                    "an entry was deleted",
                    IntegrityProblem.SEQUENCE_GAP,
                )
        if len(rows) < min(_PAGE, until - start):
            missing = start + len(rows)
            raise ChainIntegrityError(
                missing, f"sequence gap: entry {missing} is missing", IntegrityProblem.SEQUENCE_GAP
            )
        verifier.feed_prefix([h for _, h in rows])
        start += len(rows)


def _connection_lost(exc: BaseException) -> bool:
    """A lost or refused connection, or a deadlock: worth another attempt.

    asyncpg reports a connection lost mid-transaction in several ways: the server's error, an
    InterfaceError from the transaction's exit, an InternalClientError from the pool's reset on
    release. Retrying any of them is safe: the next attempt first settles whether this one
    committed (see ``BatchWriter``).
    """
    return isinstance(exc, (*_RETRYABLE, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError))


def _private_key(key: Ed25519PrivateKey | str | Path | None) -> Ed25519PrivateKey | None:
    if key is None or isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, str | Path):
        return load_signing_key(Path(key))
    raise ValueError(
        f"signing_key: expected an Ed25519 private key or a key file path, got {type(key).__name__}"
    )


def _check_source_event_id(value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise AuditInputError("source_event_id", f"must be a string or None, got {type(value).__name__}")
    if not value.strip():
        raise AuditInputError("source_event_id", "must not be empty or only whitespace")
    if len(value) > MAX_SOURCE_EVENT_ID_CHARS:
        raise AuditInputError(
            "source_event_id",
            f"is {len(value)} characters long, over the limit of {MAX_SOURCE_EVENT_ID_CHARS}",
        )
    if "\x00" in value:
        raise AuditInputError("source_event_id", "contains a NUL character (U+0000), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuditInputError(
            "source_event_id", "contains a lone surrogate, which is not valid Unicode"
        ) from None


def _check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AuditInputError(name, f"must be an integer, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise AuditInputError(name, f"must be {bound}, got {value}")


audit_chain: Final[AuditChain] = AuditChain.from_environment()
"""The process's chain: MTS_DATABASE_URL, MTS_NATS_URL and MTS_AUDIT_SIGNING_KEY, read on first use."""
