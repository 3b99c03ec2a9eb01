"""The whole-chain check: links and hashes (``verify_entries``) plus the trusted checkpoints.

The chain alone cannot see a truncated tail, nor a chain rewritten consistently from some
entry onwards, nor a forged entry appended with a correct link; signed checkpoints can. For
each checkpoint the entries must reproduce its Merkle root and chain head, and the chain must
be at least as long as the checkpoint says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ._chain import ChainHead, verify_entries
from ._entry import FIRST_SEQUENCE, GENESIS_PREV_HASH, AuditEntry
from ._errors import ChainIntegrityError, IntegrityProblem
from ._merkle import MerkleAccumulator
from ._note import Checkpoint

__all__ = ["ChainVerifier"]


class ChainVerifier:
    """Feed the chain in order from sequence 0, page by page; raise at the first damage.

    ``checkpoints`` must already be trusted (their signatures verified, e.g. by
    ``parse_and_verify_checkpoint``). To verify from a later sequence, first hand over the
    hashes of the earlier entries with :meth:`feed_prefix` (they are then only checked
    against the checkpoints, not re-verified one by one).
    """

    def __init__(self, checkpoints: Iterable[Checkpoint] = ()) -> None:
        self._pending = sorted(checkpoints, key=lambda c: c.tree_size)
        self._merkle_until = self._pending[-1].tree_size if self._pending else 0
        self._accumulator = MerkleAccumulator()
        self._head = ChainHead(next_sequence=FIRST_SEQUENCE, head_hash=GENESIS_PREV_HASH)
        self._last_matched_size = 0
        self._check_reached_checkpoints()

    @property
    def head(self) -> ChainHead:
        """Where the chain verified so far ends."""
        return self._head

    def feed(self, entries: Sequence[AuditEntry]) -> ChainHead:
        """Verify the next entries (stored rows, in sequence order) and the checkpoints they complete."""
        self._head = verify_entries(
            entries, expected_prev_hash=self._head.head_hash, expected_sequence=self._head.next_sequence
        )
        self._accumulate([e.hash for e in entries])
        return self._head

    def feed_prefix(self, hashes: Sequence[str]) -> ChainHead:
        """Take the stored hashes of the next entries on trust, for the checkpoints' Merkle roots."""
        if hashes:
            self._head = ChainHead(next_sequence=self._head.next_sequence + len(hashes), head_hash=hashes[-1])
            self._accumulate(hashes)
        return self._head

    def finish(self, *, stored_head: ChainHead | None = None) -> ChainHead:
        """After the last entry: no checkpoint may reach beyond it, and ``stored_head`` (the
        store's own record of its head, if it keeps one) must agree with it."""
        if self._pending:
            beyond = self._pending[-1]
            end = self._head.next_sequence
            raise ChainIntegrityError(
                end,
                f"truncated: the chain ends before sequence {end} but a signed checkpoint covers "
                f"{beyond.tree_size} entries; entries {end}..{beyond.tree_size - 1} were removed",
                IntegrityProblem.TRUNCATED,
            )
        if stored_head is not None and stored_head != self._head:
            last = self._head.next_sequence - 1
            raise ChainIntegrityError(
                max(last, FIRST_SEQUENCE),
                f"head mismatch: the stored chain head says next sequence {stored_head.next_sequence} and "
                f"hash {stored_head.head_hash[:16]}..., but the entries end at next sequence "
                f"{self._head.next_sequence} with hash {self._head.head_hash[:16]}...",
                IntegrityProblem.HEAD_MISMATCH,
            )
        return self._head

    def _accumulate(self, hashes: Sequence[str]) -> None:
        accumulator = self._accumulator
        start = accumulator.size
        remaining = self._merkle_until - start
        if remaining <= 0:
            return
        sha256, fromhex = hashlib.sha256, bytes.fromhex
        position = 0
        wanted = min(len(hashes), remaining)
        while position < wanted:
            boundary = self._pending[0].tree_size - start if self._pending else wanted
            stop = min(wanted, boundary)
            accumulator.extend_leaf_hashes(
                [sha256(b"\x00" + fromhex(h)).digest() for h in hashes[position:stop]]
            )
            position = stop
            self._check_reached_checkpoints(hashes[position - 1] if position else None)

    def _check_reached_checkpoints(self, last_hash: str | None = None) -> None:
        size = self._accumulator.size
        while self._pending and self._pending[0].tree_size == size:
            checkpoint = self._pending.pop(0)
            head = last_hash if size else GENESIS_PREV_HASH
            if self._accumulator.root() != checkpoint.root_hash or head != checkpoint.head_hash:
                first = self._last_matched_size
                since = (
                    f"the checkpoint of {first} entries still matches" if first else "no earlier checkpoint"
                )
                raise ChainIntegrityError(
                    first,
                    f"checkpoint mismatch: entries {first}..{size - 1} no longer produce the Merkle root "
                    f"and chain head signed for {size} entries ({since}); an entry from sequence "
                    f"{first} on was rewritten and the chain re-linked after it",
                    IntegrityProblem.CHECKPOINT_MISMATCH,
                )
            self._last_matched_size = size
