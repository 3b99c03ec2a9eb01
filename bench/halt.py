"""How fast a halt reaches the order path: request() -> HaltGate sees it, and -> a subscriber gets it.

    uv run python bench/halt.py [--halts 1000] [--funds 20]

Starts its own Postgres (durable: fsync and synchronous_commit on) and NATS (JetStream, file
storage), applies the migrations, registers an operator, then for each of ``--halts`` rounds
requests a FUND_HALT (the funds taken in turn, so each round is a new halt) and resumes it.
Measured per round, from the moment request() is called:

- gate:       a HaltGate (its own NATS connection, watching the KV bucket) sees the halt;
- subscriber: a plain NATS subscriber of mts.v1.operations.halt.requested receives the event;
- request():  request() returns (Postgres commit, then the fast-path publish);
- resume -> gate: resume() is called until the gate sees the halt lifted.

Beside them, in the same run: a bare NATS request/reply round trip between two connections,
the floor any NATS-carried signal stands on. The manager runs as the service does (with its
outbox relay). Floor: p99 of the gate and subscriber latencies <= 10 ms; exit status 1 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from nats.aio.msg import Msg

from mts1b_operations.client import HaltGate
from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import MSG_ID_HEADER, Bus, connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres
from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.operators import add_operator
from mts1b_operations.halt import HaltManager, HaltRequest

FLOOR_P99_MS = 10.0
WARMUP = 50


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(name: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:<34} {percentile(ms, 50):>8.3f} {percentile(ms, 99):>8.3f} "
        f"{statistics.fmean(ms):>8.3f} {max(ms):>8.3f} {len(ms):>6}"
    )


async def bare_round_trips(url: str, n: int) -> list[float]:
    responder = await connect_bus(url, name="bench-responder", connect_deadline=10)
    requester = await connect_bus(url, name="bench-requester", connect_deadline=10)
    try:

        async def answer(msg: Msg) -> None:
            await msg.respond(msg.data)

        await responder.nc.subscribe("bench.echo", cb=answer)
        await responder.nc.flush()
        for _ in range(WARMUP):
            await requester.nc.request("bench.echo", b"x" * 200, timeout=5)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            await requester.nc.request("bench.echo", b"x" * 200, timeout=5)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await requester.close()
        await responder.close()


class Watchers:
    """Timestamps of the first sighting of each halt id by the gate and by the subscriber."""

    def __init__(self) -> None:
        self.gate_put: dict[str, float] = {}
        self.gate_lifted: dict[str, float] = {}
        self.event: dict[str, float] = {}
        self._waiters: dict[tuple[str, str], asyncio.Future[None]] = {}

    def _mark(self, table: dict[str, float], kind: str, halt_id: str) -> None:
        table.setdefault(halt_id, time.perf_counter())
        waiter = self._waiters.pop((kind, halt_id), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_gate(self, key: str, halt: schemas.HaltRequested | None) -> None:
        if halt is not None:
            self._mark(self.gate_put, "put", halt.halt_id)
        else:
            self._mark(self.gate_lifted, "lifted", key)

    async def on_event(self, msg: Msg) -> None:
        msg_id = (msg.headers or {}).get(MSG_ID_HEADER, "")
        if msg_id.endswith(":requested"):
            self._mark(self.event, "event", msg_id.removesuffix(":requested"))

    async def wait(self, kind: str, ident: str, table: dict[str, float]) -> float:
        if ident not in table:
            future = self._waiters.setdefault((kind, ident), asyncio.get_running_loop().create_future())
            await asyncio.wait_for(future, 10)
        return table[ident]


async def run(halts: int, fund_count: int, work: Path) -> int:
    pg = EmbeddedPostgres(work / "pg", durable=True)
    nats_server = EmbeddedNats(work / "nats")
    await asyncio.gather(asyncio.to_thread(pg.start), asyncio.to_thread(nats_server.start))
    try:
        dsn = pg.dsn()
        await asyncio.to_thread(upgrade_all, dsn, ["halt"])
        funds = FundsRegistry(
            Fund(fund_id=f"fund-{i:03d}", mode="paper", strategies=[f"strat-{i:03d}-{j}" for j in range(5)])
            for i in range(fund_count)
        )
        pool = await create_pool(dsn, min_size=2, max_size=10)
        bus = await connect_bus(nats_server.url, name="bench-halt-service", connect_deadline=10)
        await bus.ensure_streams()
        operator, _ = await add_operator(pool, "bench", "operator", created_by="operator:bench-setup")
        manager = HaltManager(pool=pool, bus=bus, funds=funds, run_relay=True)
        await manager.start()
        watchers = Watchers()
        listener_bus: Bus = await connect_bus(nats_server.url, name="bench-subscriber", connect_deadline=10)
        await listener_bus.nc.subscribe(subjects.halt_requested(), cb=watchers.on_event)
        await listener_bus.nc.flush()
        gate = HaltGate(nats_server.url, max_staleness=2.0, name="bench-gate")
        if not await gate.start(wait=10):
            raise RuntimeError("the gate never got a fresh view")
        gate.add_listener(watchers.on_gate)

        gate_lat: list[float] = []
        event_lat: list[float] = []
        call_lat: list[float] = []
        lift_lat: list[float] = []
        fund_ids = [f.fund_id for f in funds]
        try:
            for i in range(WARMUP + halts):
                fund_id = fund_ids[i % len(fund_ids)]
                req = HaltRequest(
                    severity="FUND_HALT", fund_id=fund_id, reason=f"bench round {i}", requested_by="bench"
                )
                started = time.perf_counter()
                halt = await manager.request(req)
                returned = time.perf_counter()
                seen = await watchers.wait("put", halt.halt_id, watchers.gate_put)
                heard = await watchers.wait("event", halt.halt_id, watchers.event)
                if gate.allows(fund_id):
                    raise RuntimeError(f"round {i}: the gate saw the halt but still allows {fund_id}")
                lift_started = time.perf_counter()
                await manager.resume(fund_id=fund_id, cosigned_by=operator.actor)
                lifted = await watchers.wait("lifted", f"fund.{fund_id}", watchers.gate_lifted)
                watchers.gate_lifted.pop(f"fund.{fund_id}", None)
                if i >= WARMUP:
                    gate_lat.append(seen - started)
                    event_lat.append(heard - started)
                    call_lat.append(returned - started)
                    lift_lat.append(lifted - lift_started)
            calls = 200_000
            t0 = time.perf_counter()
            for k in range(calls):
                gate.allows(fund_ids[k % len(fund_ids)], "strat-x")
            allows_us = (time.perf_counter() - t0) / calls * 1e6
        finally:
            await gate.stop()
            await listener_bus.close()
            await manager.close()
            await bus.close()
            await pool.close()
        bare = await bare_round_trips(nats_server.url, halts)
    finally:
        await asyncio.gather(asyncio.to_thread(pg.stop), asyncio.to_thread(nats_server.stop))

    print(
        f"halt bench: {halts} halts (+{WARMUP} warm-up), {fund_count} funds, durable Postgres, JetStream file"
    )
    print(f"{'':<34} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8} {'n':>6}")
    print(row("request() -> HaltGate sees it", gate_lat))
    print(row("request() -> subscriber receives", event_lat))
    print(row("request() returns", call_lat))
    print(row("resume() -> HaltGate sees it lifted", lift_lat))
    print(row("bare NATS request/reply", bare))
    print(f"HaltGate.allows(): {allows_us:.3f} µs per call (from memory)")
    worst = max(percentile(gate_lat, 99), percentile(event_lat, 99)) * 1000
    verdict = "PASS" if worst <= FLOOR_P99_MS else "FAIL"
    print(f"floor: p99 <= {FLOOR_P99_MS:g} ms for gate and subscriber: {verdict} (worst p99 {worst:.3f} ms)")
    return 0 if verdict == "PASS" else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--halts", type=int, default=1000)
    parser.add_argument("--funds", type=int, default=20)
    args = parser.parse_args(argv)
    if args.halts < 1 or args.funds < 1:
        parser.error("--halts and --funds must be at least 1")
    # Every halt and resume logs a warning by design; 2,000 of them would bury the figures.
    logging.getLogger("mts1b_operations").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="mts-bench-halt-") as work:
        return asyncio.run(run(args.halts, args.funds, Path(work)))


if __name__ == "__main__":
    sys.exit(main())
