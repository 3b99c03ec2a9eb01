"""Benchmark of the market-data API: requests/s and p99 of /v1/quotes and /v1/bars, beside a bare
Litestar hello-world app served the same way (granian, one worker, as core.runtime serves every
service), in the same run.

    uv run python bench/api.py [--duration 5] [--connections 32] [--rounds 2]

It starts an embedded Postgres and NATS, the mts1b-marketdata-api service as its own process (rate
limit raised out of the way, since one load generator is one client), seeds a quote and 1m bars,
and a hello-world process. The load generator is an asyncio HTTP/1.1 client on loopback with
keep-alive connections, each sending its next request when the last answer is in; every target
gets the same warm-up, duration and connections, rounds alternating between targets. Floor:
/v1/quotes at >= 40% of the hello-world rate (best round of each); exit 1 below it. Beside the
rates it prints each server's CPU time per request (user + system, from /proc via psutil): on a
machine busy with other work the rates swing with the scheduler, the CPU cost per request much less.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import psutil

FLOOR: Final = 0.40
SYMBOL: Final = "AAPL"
BARS: Final = 2_000


# ---------------------------------------------------------------------- the hello-world server


def serve_hello(port: int) -> None:
    """A bare Litestar app served by core.runtime's HttpServer (granian), like every service."""
    from litestar import Litestar, get

    from mts1b_operations.core.runtime import HttpServer

    @get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    async def main() -> None:
        server = HttpServer(Litestar([hello], logging_config=None), host="127.0.0.1", port=port)
        await server.start()
        await server.wait_stopped()

    asyncio.run(main())


# ---------------------------------------------------------------------- the load generator


@dataclass
class Result:
    target: str
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int] = field(default_factory=dict)
    server_cpu: float = float("nan")
    """CPU seconds (user + system) the server process spent in the measured window."""

    @property
    def cpu_per_request_us(self) -> float:
        return self.server_cpu / self.requests * 1e6 if self.requests else float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending ``request`` again as soon as an answer is complete."""

    def __init__(self, request: bytes, load: _Load) -> None:
        self.request = request
        self.load = load
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buffer[:head_end]).lower()
            length_at = head.find(b"content-length:")
            length = (
                int(head[length_at + 15 : head.find(b"\r\n", length_at)].strip()) if length_at >= 0 else 0
            )
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            status = int(head[9:12])
            del self.buffer[:total]
            self.load.record(status, time.perf_counter() - self.sent_at)
            if self.load.running:
                self._send()
            else:
                assert self.transport is not None
                self.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _Load:
    def __init__(self) -> None:
        self.running = True
        self.measuring = False
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}

    def record(self, status: int, latency: float) -> None:
        if self.measuring:
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def run_load(
    port: int, path: str, *, connections: int, warmup: float, duration: float, server_pid: int | None = None
) -> Result:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n".encode()
    load = _Load()
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Connection(request, load), "127.0.0.1", port)
        conns.append(conn)
    await asyncio.sleep(warmup)
    load.measuring = True
    cpu_before = _cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.sleep(duration)
    load.measuring = False
    elapsed = time.perf_counter() - started
    server_cpu = _cpu_seconds(server_pid) - cpu_before
    load.running = False
    await asyncio.wait([c.closed for c in conns], timeout=5)
    return Result(path, len(load.latencies), elapsed, load.latencies, load.statuses, server_cpu)


# ---------------------------------------------------------------------- set-up


async def seed(nats_url: str, dsn: str) -> None:
    import asyncpg

    from mts1b_operations.core import schemas, subjects
    from mts1b_operations.core.bus import connect_bus

    bus = await connect_bus(nats_url, name="bench-seed", connect_deadline=30)
    try:
        await bus.ensure_streams()
        q = schemas.Quote(
            symbol=SYMBOL, ts=datetime.now(UTC), bid=189.5, ask=189.6, bid_size=300, ask_size=200
        )
        await bus.publish(subjects.marketdata_quote(SYMBOL), q, msg_id=str(uuid.uuid4()))
    finally:
        await bus.close()
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=BARS)
    rows = [
        (
            SYMBOL,
            "1m",
            start + timedelta(minutes=i),
            start + timedelta(minutes=i + 1),
            10.0,
            11.0,
            9.0,
            10.5,
            100.0,
        )
        for i in range(BARS)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "bars",
            records=rows,
            columns=[
                "symbol",
                "bar_interval",
                "starts_at",
                "ends_at",
                "open",
                "high",
                "low",
                "close",
                "volume",
            ],
        )
    finally:
        await conn.close()


def report(results: list[Result]) -> None:
    columns = f"{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server µs/req':>14} {'requests':>9}"
    print(f"{'target':<45} {columns}  statuses")
    for r in results:
        print(
            f"{r.target:<45} {r.rate:>9.0f} {r.percentile(0.50) * 1e3:>8.2f} "
            f"{r.percentile(0.99) * 1e3:>8.2f} {r.cpu_per_request_us:>14.1f} {r.requests:>9}  "
            f"{dict(sorted(r.statuses.items()))}"
        )


async def bench(args: argparse.Namespace) -> int:
    from mts1b_operations.core.db import upgrade_all
    from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres, free_port
    from mts1b_operations.core.testing import ServiceProcess

    with tempfile.TemporaryDirectory(prefix="mts-bench-api-") as tmp:
        base = Path(tmp)
        postgres = EmbeddedPostgres(base / "pgdata", durable=False)
        nats = EmbeddedNats(base / "nats")
        postgres.start()
        nats.start()
        service = hello = None
        try:
            dsn = postgres.dsn()
            await asyncio.to_thread(upgrade_all, dsn, ["marketdata-api"])
            service = ServiceProcess(
                "mts1b_operations.marketdata",
                env={
                    "MTS_DATABASE_URL": dsn,
                    "MTS_NATS_URL": nats.url,
                    "MTS_RATE_LIMIT": "second:1000000000",
                },
                log_dir=base,
            ).start()
            hello_port = free_port()
            hello = ServiceProcess(
                "hello",
                env={},
                log_dir=base,
                port=hello_port,
                argv=[sys.executable, __file__, "--serve-hello", str(hello_port)],
            ).start()
            await asyncio.to_thread(service.wait_ready, timeout=60)
            await asyncio.to_thread(hello.wait_for, "/", 200, timeout=30)
            await seed(nats.url, dsn)
            bars_path = f"/v1/bars/{SYMBOL}?interval=1m&limit=100"
            await asyncio.to_thread(service.wait_for, f"/v1/quotes/{SYMBOL}", 200, timeout=30)
            answer = await asyncio.to_thread(service.get, bars_path)
            assert answer.status == 200, answer
            assert len(answer.json()) == 100, answer

            targets = [(hello, "/", "hello world (bare Litestar, granian)")]
            targets += [(service, f"/v1/quotes/{SYMBOL}", f"GET /v1/quotes/{SYMBOL}")]
            targets += [(service, bars_path, f"GET {bars_path}")]
            best: dict[str, Result] = {}
            rounds: list[Result] = []
            for _ in range(args.rounds):
                for server, path, label in targets:
                    result = await run_load(
                        server.port,
                        path,
                        connections=args.connections,
                        warmup=args.warmup,
                        duration=args.duration,
                        server_pid=server.pid,
                    )
                    result.target = label
                    rounds.append(result)
                    if label not in best or result.rate > best[label].rate:
                        best[label] = result
            print(f"\nloopback, {args.connections} keep-alive connections, {args.duration:g} s per run, "
                  f"{args.rounds} round(s); every run:")  # fmt: skip
            report(rounds)
            print("\nbest run of each:")
            report(list(best.values()))
            hello_label, quotes_label = targets[0][2], targets[1][2]
            ratio = best[quotes_label].rate / best[hello_label].rate
            medians = {
                label: statistics.median(r.rate for r in rounds if r.target == label) for label in best
            }
            median_ratio = medians[quotes_label] / medians[hello_label]
            errors = {label: r.statuses for label, r in best.items() if any(s >= 400 for s in r.statuses)}
            verdict = "PASS" if ratio >= FLOOR and not errors else "FAIL"
            print(
                f"\n/v1/quotes at {ratio:.0%} of hello world, best runs (floor {FLOOR:.0%}): {verdict}"
                + (f"; error answers: {errors}" if errors else "")
            )
            print(
                f"medians of the runs: quotes {medians[quotes_label]:.0f} req/s, "
                f"hello world {medians[hello_label]:.0f} req/s ({median_ratio:.0%})"
            )
            cpu = {
                label: statistics.median(r.cpu_per_request_us for r in rounds if r.target == label)
                for label in best
            }
            print(
                f"server CPU per request (medians; steadier than req/s on a busy machine): quotes "
                f"{cpu[quotes_label]:.0f} µs, hello world {cpu[hello_label]:.0f} µs: quotes cost "
                f"{cpu[quotes_label] / cpu[hello_label]:.2f}x hello world's CPU, a server-bound ceiling of "
                f"{cpu[hello_label] / cpu[quotes_label]:.0%} of its rate"
            )
            return 0 if verdict == "PASS" else 1
        finally:
            if service is not None:
                service.stop(timeout=15)
            if hello is not None:
                hello.stop(timeout=5)
            nats.stop()
            postgres.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per run (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each target, alternating (default 3)")
    parser.add_argument("--serve-hello", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello(args.serve_hello)
        return 0
    if args.duration <= 0 or args.duration > 60 or args.connections < 1 or args.rounds < 1:
        parser.error("--duration must be in (0, 60], --connections and --rounds at least 1")
    return asyncio.run(bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
