"""Audit chain benchmark: group-committed appends beside one transaction per append, and verify().

    uv run python bench/audit.py [--verify-entries 1000000] [--scale 1.0]

Runs its own embedded Postgres (durable: fsync on, synchronous_commit on) in a temporary
directory. Appends go through AuditChain exactly as in production (lock the head, append
through audit_append, enqueue the outbox events, commit); the naive baseline is the same code
with batches of one (max_batch=1), i.e. one transaction per append. Load: 1 caller, and 4
processes x 64 concurrent callers. verify() then runs over a chain of a million entries
(inserted with COPY as superuser, plus one signed checkpoint over all of them), beside raw
hashlib SHA-256 over the same canonical bytes. Exits 1 when a floor is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit import AuditChain
from mts1b_operations.audit.domain import GENESIS_PREV_HASH, entry_bytes
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import EmbeddedPostgres

FLOOR_BATCHED = 5_000.0
FLOOR_RATIO = 5.0
FLOOR_VERIFY = 200_000.0


@dataclass
class Run:
    name: str
    appends: int
    seconds: float
    latencies: list[float]
    load: float = 0.0

    @property
    def rate(self) -> float:
        return self.appends / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _data(i: int) -> dict[str, Any]:
    return {"order_id": f"ord-{i}", "reason": "drawdown_halt", "qty": i % 1000, "px": 101.25}


async def _callers(
    dsn: str, callers: int, per_caller: int, max_batch: int, barrier: Barrier | None
) -> tuple[float, float, list[float]]:
    latencies: list[float] = []
    async with AuditChain(dsn, max_batch=max_batch, pool_size=4) as chain:
        await chain.append(actor="bench", action="warm_up", subject_id="", data={})
        if barrier is not None:
            await asyncio.to_thread(barrier.wait)

        async def caller(k: int) -> None:
            for i in range(per_caller):
                t0 = time.perf_counter()
                await chain.append(
                    actor="mts1b-oms", action="order_rejected", subject_id=f"ord-{k}", data=_data(i)
                )
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(caller(k) for k in range(callers)))
        end = time.perf_counter()
    return start, end, latencies


def _process(dsn: str, callers: int, per_caller: int, max_batch: int, barrier: Barrier, results: Any) -> None:
    start, end, latencies = asyncio.run(_callers(dsn, callers, per_caller, max_batch, barrier))
    # perf_counter is system-wide (CLOCK_MONOTONIC) on Linux, so processes can be compared.
    results.put((start, end, latencies))


def run_appends(name: str, dsn: str, *, processes: int, callers: int, per_caller: int, max_batch: int) -> Run:
    if processes == 1:
        start, end, latencies = asyncio.run(_callers(dsn, callers, per_caller, max_batch, None))
        return Run(name, len(latencies), end - start, latencies)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_process, args=(dsn, callers, per_caller, max_batch, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"{name}: a worker process failed (exit {worker.exitcode})")
    latencies = [latency for _, _, lat in outcomes for latency in lat]
    seconds = max(end for _, end, _ in outcomes) - min(start for start, _, _ in outcomes)
    return Run(name, len(latencies), seconds, latencies)


# ---------------------------------------------------------------- verify


async def build_million(dsn: str, n: int) -> list[bytes]:
    """A real chain of ``n`` entries, inserted with COPY as superuser; returns the canonical bytes."""
    prev = GENESIS_PREV_HASH
    canonicals: list[bytes] = []
    rows = []
    encode = msgspec.json.encode
    for i in range(n):
        data = _data(i)
        canonical = entry_bytes(
            i, 1_700_000_000_000_000 + i, "mts1b-oms", "order_rejected", f"ord-{i % 5000}", data, prev
        )
        digest = hashlib.sha256(canonical).hexdigest()
        canonicals.append(canonical)
        rows.append(
            (
                i,
                1_700_000_000_000_000 + i,
                "mts1b-oms",
                "order_rejected",
                f"ord-{i % 5000}",
                encode(data).decode(),
                canonical,
                prev,
                digest,
            )
        )
        prev = digest
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "audit_entries",
            records=rows,
            columns=[
                "sequence",
                "timestamp_us",
                "actor",
                "action",
                "subject_id",
                "data",
                "canonical",
                "prev_hash",
                "hash",
            ],
        )
        await conn.execute("UPDATE audit_head SET next_sequence = $1, head_hash = $2", n, prev)
        await conn.execute("ANALYZE audit_entries")
    finally:
        await conn.close()
    return canonicals


@dataclass
class VerifyFigures:
    entries: int
    two_processes: float
    one_process: float
    hashlib: float
    first_checkpoint: float
    load: float

    @property
    def best(self) -> float:
        return max(self.two_processes, self.one_process)


async def run_verify(dsn: str, n: int) -> VerifyFigures:
    """verify() over ``n`` entries (two processes, then one), raw hashlib, and the first checkpoint."""
    t0 = time.perf_counter()
    canonicals = await build_million(dsn, n)
    print(f"  built and copied {n:,} entries in {time.perf_counter() - t0:.1f}s", flush=True)
    key = Ed25519PrivateKey.generate()
    load = _load()
    async with AuditChain(dsn, signing_key=key) as chain:
        t0 = time.perf_counter()
        record = await chain.checkpoint()
        first_checkpoint = n / (time.perf_counter() - t0)
        assert record.tree_size == n
        t0 = time.perf_counter()
        assert await chain.verify()
        two = n / (time.perf_counter() - t0)
    async with AuditChain(dsn, signing_key=key, parallel_verify_from=None) as chain:
        t0 = time.perf_counter()
        assert await chain.verify()
        one = n / (time.perf_counter() - t0)
    sha256 = hashlib.sha256
    t0 = time.perf_counter()
    for canonical in canonicals:
        sha256(canonical).hexdigest()
    raw = n / (time.perf_counter() - t0)
    return VerifyFigures(n, two, one, raw, first_checkpoint, load)


async def fresh_database(server_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = server_dsn.rsplit("/", 1)[0] + f"/{name}"
    upgrade_all(dsn, ["audit"])
    return dsn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of appends")
    args = parser.parse_args()
    s = args.scale
    with tempfile.TemporaryDirectory(prefix="mts-audit-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata", durable=True, settings={"synchronous_commit": "on"})
        server.start()
        try:
            return bench(server, s, args.verify_entries)
        finally:
            server.stop()


def bench(server: EmbeddedPostgres, s: float, verify_entries: int) -> int:
    dsn = server.dsn()
    fsync = asyncio.run(_setting(dsn, "fsync")), asyncio.run(_setting(dsn, "synchronous_commit"))
    print(f"Postgres on port {server.port}: fsync={fsync[0]} synchronous_commit={fsync[1]}", flush=True)
    print(f"running: verify over {verify_entries:,} entries ...", flush=True)
    db = asyncio.run(fresh_database(dsn, "bench_verify"))
    figures = asyncio.run(run_verify(db, verify_entries))

    runs: list[Run] = []
    plans = [
        ("group commit, 1 caller", 1, 1, int(2000 * s), 256),
        ("naive (1 txn/append), 1 caller", 1, 1, int(1000 * s), 1),
        ("group commit, 4 proc x 64 callers", 4, 64, int(60 * s), 256),
        ("naive (1 txn/append), 4 proc x 64 callers", 4, 64, max(1, int(12 * s)), 1),
    ]
    for i, (name, processes, callers, per_caller, max_batch) in enumerate(plans):
        db = asyncio.run(fresh_database(dsn, f"bench_append_{i}"))
        print(f"running: {name} ...", flush=True)
        load = _load()
        run = run_appends(
            name, db, processes=processes, callers=callers, per_caller=per_caller, max_batch=max_batch
        )
        run.load = load
        runs.append(run)

    report(runs, figures)
    batched, naive = runs[2].rate, runs[3].rate
    checks = [
        (f"batched appends/s >= {FLOOR_BATCHED:,.0f}", batched >= FLOOR_BATCHED, f"{batched:,.0f}"),
        (
            f"batched >= {FLOOR_RATIO:.0f}x naive (4x64)",
            batched >= FLOOR_RATIO * naive,
            f"{batched / naive:.1f}x",
        ),
        (f"verify entries/s >= {FLOOR_VERIFY:,.0f}", figures.best >= FLOOR_VERIFY, f"{figures.best:,.0f}"),
    ]
    print()
    for label, ok, value in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label:<40} {value}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def report(runs: list[Run], figures: VerifyFigures) -> None:
    row = "{:<46} {:>8} {:>10} {:>8} {:>8} {:>6}"
    print()
    print(f"{os.cpu_count()} CPUs; 'load': the 1-minute load average as a phase began (other work slows it)")
    print()
    print(
        row.format(
            "appends (durable, synchronous_commit on)", "appends", "appends/s", "p50 ms", "p99 ms", "load"
        )
    )
    print("-" * 91)
    for run in runs:
        p50, p99 = run.percentile(0.5), run.percentile(0.99)
        cells = (run.appends, f"{run.rate:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{run.load:.1f}")
        print(row.format(run.name, *cells))
    row = "{:<46} {:>10} {:>6}"
    print()
    print(row.format(f"verify ({figures.entries:,} entries, 1 checkpoint)", "entries/s", "load"))
    print("-" * 64)
    for name, rate in (
        ("AuditChain.verify(), two processes", figures.two_processes),
        ("AuditChain.verify(), one process", figures.one_process),
        ("raw hashlib.sha256 over the same bytes", figures.hashlib),
        ("first checkpoint (Merkle tree read from the DB)", figures.first_checkpoint),
    ):
        print(row.format(name, f"{rate:,.0f}", f"{figures.load:.1f}"))


def _load() -> float:
    return os.getloadavg()[0]


async def _setting(dsn: str, name: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval(f"SHOW {name}"))
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
