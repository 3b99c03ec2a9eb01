"""verify() of a long chain on two cores: a second process checks the later half in the same snapshot.

The calling process exports its REPEATABLE READ snapshot (``pg_export_snapshot()``); the worker
(``python -m mts1b_operations.audit._verify_worker``, a plain subprocess, so the host program
needs no multiprocessing main-module guard) opens a transaction on that very snapshot, reads
entries ``start .. stop - 1`` page by page and checks them with ``domain.verify_entries``,
starting from the stored hash of entry ``start - 1`` (which the caller verifies as the last
entry of its own half, so the halves link). It returns the hashes it verified, which the caller
feeds to its ``ChainVerifier`` for the checkpoints' Merkle roots, and the first damage found.

The request (with the dsn, which may hold a password) goes over stdin, the answer over stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import sys

import asyncpg
import msgspec

from .adapters import postgres as store
from .domain import ChainHead, ChainIntegrityError, IntegrityProblem, verify_entries

__all__ = ["RangeOutcome", "VerifyWorkerError", "verify_range", "verify_range_elsewhere"]

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?\Z")


class _Request(msgspec.Struct, frozen=True):
    dsn: str
    snapshot: str
    start: int
    stop: int


class _Damage(msgspec.Struct, frozen=True):
    sequence: int
    reason: str
    kind: IntegrityProblem | None


class _Answer(msgspec.Struct, frozen=True):
    hashes: str
    damage: _Damage | None


RangeOutcome = tuple[str, ChainIntegrityError | None]
"""(the verified entries' hashes, hex, concatenated in order; the first damage found or None).
On damage, the hashes are those of the pages before the damaged one."""


class VerifyWorkerError(RuntimeError):
    """The worker process could not do its part (the caller then verifies the range itself)."""


async def verify_range_elsewhere(dsn: str, snapshot: str, start: int, stop: int) -> RangeOutcome:
    """Run :func:`verify_range` in a fresh Python process and return its outcome."""
    request = msgspec.json.encode(_Request(dsn=dsn, snapshot=snapshot, start=start, stop=stop))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate(request)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines() or ["no output"]
        raise VerifyWorkerError(f"verify worker exited with {process.returncode}: {lines[-1]}")
    answer = msgspec.json.decode(out, type=_Answer)
    damage = answer.damage
    error = None if damage is None else ChainIntegrityError(damage.sequence, damage.reason, damage.kind)
    return answer.hashes, error


def verify_range(dsn: str, snapshot: str, start: int, stop: int) -> RangeOutcome:
    """Verify entries ``start .. stop - 1`` as seen by ``snapshot`` (in this process)."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"snapshot: {snapshot!r} is not a Postgres snapshot id")
    if not 0 < start <= stop:
        raise ValueError(f"start, stop: need 0 < start <= stop, got {start}, {stop}")
    return asyncio.run(_verify_range(dsn, snapshot, start, stop))


async def _verify_range(dsn: str, snapshot: str, start: int, stop: int) -> RangeOutcome:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            before = await conn.fetchval("SELECT hash FROM audit_entries WHERE sequence = $1", start - 1)
            if before is None:
                gap = ChainIntegrityError(
                    start - 1, f"sequence gap: entry {start - 1} is missing", IntegrityProblem.SEQUENCE_GAP
                )
                return "", gap
            head = ChainHead(next_sequence=start, head_hash=str(before))
            verified: list[str] = []
            async with contextlib.aclosing(store.stored_pages(conn, start, stop)) as pages:
                async for page in pages:
                    try:
                        head = verify_entries(
                            page, expected_prev_hash=head.head_hash, expected_sequence=head.next_sequence
                        )
                    except ChainIntegrityError as damage:
                        return "".join(verified), damage
                    verified.extend(entry.hash for entry in page)
            return "".join(verified), None
    finally:
        await conn.close()


def _main() -> None:
    # A process of one short job that builds no reference cycles: the cyclic collector would only
    # rescan the pages of rows it keeps allocating.
    gc.disable()
    request = msgspec.json.decode(sys.stdin.buffer.read(), type=_Request)
    hashes, error = verify_range(request.dsn, request.snapshot, request.start, request.stop)
    damage = None if error is None else _Damage(sequence=error.sequence, reason=error.reason, kind=error.kind)
    sys.stdout.buffer.write(msgspec.json.encode(_Answer(hashes=hashes, damage=damage)))


if __name__ == "__main__":
    _main()
