"""The faults and their seeded schedule.

Each fault is injected, held where it has a duration (a pause, a full store), released, and
then its recovery is measured: from injection until every service answers /v1/readyz with 200
again (and, for a killed service, until the supervisor has spawned its successor).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Final, Literal

import httpx
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually

from ._stack import ChaosStack

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "FaultRecord",
    "FaultSchedule",
    "inject",
]

FaultKind = Literal["kill_service", "restart_nats", "restart_postgres", "pause_service", "fill_store"]
FAULT_KINDS: Final[tuple[FaultKind, ...]] = (
    "kill_service",
    "restart_nats",
    "restart_postgres",
    "pause_service",
    "fill_store",
)
KILLABLE: Final = ("halt", "audit", "watchdogs", "compliance", "marketdata-api")
HEARTBEAT_INTERVAL: Final = 2.0  # core.runtime ServiceSpec.heartbeat_interval's default
PAUSE_FOR: Final = 3 * HEARTBEAT_INTERVAL + 1.0
FILL_STREAM: Final = "CHAOS_FILL"
FILL_SUBJECT: Final = "chaos.fill"
FILL_MAX_BYTES: Final = 64 * 1024 * 1024
FILL_TO: Final = 0.95
FILL_MESSAGE: Final = 256 * 1024
FILL_HOLD: Final = 5.0
RECOVERY_DEADLINE: Final = 180.0


@dataclass
class FaultRecord:
    """One injected fault; times are seconds since the run started."""

    number: int
    kind: FaultKind
    target: str
    injected_at: float
    released_at: float | None = None
    recovered_at: float | None = None
    detail: str = ""
    error: str | None = None

    @property
    def recovery(self) -> float | None:
        """Injection → every service ready again (None when it never recovered)."""
        return None if self.recovered_at is None else self.recovered_at - self.injected_at

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "recovery_s": self.recovery}


@dataclass
class FaultSchedule:
    """Seeded: rounds of every kind in a shuffled order, a random gap before each, random targets."""

    seed: int
    gap: tuple[float, float] = (5.0, 15.0)
    _rng: random.Random = field(init=False, repr=False)
    _round: list[FaultKind] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next(self) -> tuple[float, FaultKind, str]:
        """(gap before it, kind, target) of the next fault."""
        if not self._round:
            self._round = list(FAULT_KINDS)
            self._rng.shuffle(self._round)
        kind = self._round.pop(0)
        gap = self._rng.uniform(*self.gap)
        if kind in ("kill_service", "pause_service"):
            target = self._rng.choice(KILLABLE)
        elif kind == "fill_store":
            target = f"stream {FILL_STREAM}"
        else:
            target = kind.removeprefix("restart_")
        return gap, kind, target


async def inject(
    stack: ChaosStack,
    bus: Bus,
    http: httpx.AsyncClient,
    record: FaultRecord,
    clock: Callable[[], float],
) -> None:
    """Inject ``record``'s fault, release it, wait for recovery; fills in the record's times."""
    try:
        await _INJECTORS[record.kind](stack, bus, record, clock)
        if record.released_at is None:
            record.released_at = clock()
        await eventually(
            lambda: _all_ready(stack, http),
            within=RECOVERY_DEADLINE,
            what=f"every service ready after fault {record.number} ({record.kind} {record.target})",
            poll=0.1,
        )
        record.recovered_at = clock()
    except Exception as exc:  # a fault that cannot be injected or recovered is a finding, not a crash
        record.error = f"{type(exc).__name__}: {exc}"


async def _all_ready(stack: ChaosStack, http: httpx.AsyncClient) -> bool:
    return not await stack.not_ready(http)


async def _kill_service(stack: ChaosStack, bus: Bus, record: FaultRecord, clock: Callable[[], float]) -> None:
    pid = stack.service_pid(record.target)
    if pid is None:
        raise RuntimeError(f"{record.target} has no running process to kill")
    os.killpg(pid, signal.SIGKILL)  # the service and anything it spawned, as a container crash
    record.released_at = clock()
    await eventually(
        lambda: stack.service_pid(record.target) not in (None, pid),
        within=RECOVERY_DEADLINE,
        what=f"the supervisor to respawn {record.target}",
        poll=0.05,
    )
    record.detail = f"pid {pid} killed, respawned as {stack.service_pid(record.target)}"


async def _pause_service(
    stack: ChaosStack, bus: Bus, record: FaultRecord, clock: Callable[[], float]
) -> None:
    pid = stack.service_pid(record.target)
    if pid is None:
        raise RuntimeError(f"{record.target} has no running process to pause")
    os.killpg(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(PAUSE_FOR)  # the fault's duration itself, not a wait for an effect
    finally:
        os.killpg(pid, signal.SIGCONT)
    record.released_at = clock()
    record.detail = f"pid {pid} stopped for {PAUSE_FOR:g}s (heartbeat every {HEARTBEAT_INTERVAL:g}s)"


async def _restart_nats(stack: ChaosStack, bus: Bus, record: FaultRecord, clock: Callable[[], float]) -> None:
    started = time.monotonic()
    await asyncio.to_thread(stack.nats.restart)  # SIGTERM, then the same store, port and arguments
    record.released_at = clock()
    record.detail = f"stopped and started again in {time.monotonic() - started:.1f}s"


async def _restart_postgres(
    stack: ChaosStack, bus: Bus, record: FaultRecord, clock: Callable[[], float]
) -> None:
    started = time.monotonic()
    server = stack.postgres
    await asyncio.to_thread(server.kill)  # a crash: recovery replays the WAL on start
    await asyncio.to_thread(server.start, 90.0)
    record.released_at = clock()
    record.detail = f"killed (-9) and started again in {time.monotonic() - started:.1f}s"


async def _fill_store(stack: ChaosStack, bus: Bus, record: FaultRecord, clock: Callable[[], float]) -> None:
    """Fill a stream capped at FILL_MAX_BYTES to FILL_TO of its limit, hold, then delete it."""
    js = bus.js
    config = StreamConfig(
        name=FILL_STREAM,
        subjects=[f"{FILL_SUBJECT}.>"],
        max_bytes=FILL_MAX_BYTES,
        discard=DiscardPolicy.NEW,
        storage=StorageType.FILE,
    )
    await js.add_stream(config)
    try:
        block = os.urandom(FILL_MESSAGE)
        stored = 0
        number = 0
        # Stop one message short of the limit: with discard=new the server refuses the one over it.
        while stored + 2 * FILL_MESSAGE < FILL_TO * FILL_MAX_BYTES:
            await js.publish(f"{FILL_SUBJECT}.{number % 16}", block, timeout=10.0)
            number += 1
            stored = (await js.stream_info(FILL_STREAM)).state.bytes
        record.detail = (
            f"{number} messages of {FILL_MESSAGE // 1024} KiB: {stored / FILL_MAX_BYTES:.0%} "
            f"of max_bytes {FILL_MAX_BYTES // (1024 * 1024)} MiB, held {FILL_HOLD:g}s"
        )
        await asyncio.sleep(FILL_HOLD)  # the fault's duration itself
    finally:
        await js.delete_stream(FILL_STREAM)
    record.released_at = clock()


_INJECTORS = {
    "kill_service": _kill_service,
    "pause_service": _pause_service,
    "restart_nats": _restart_nats,
    "restart_postgres": _restart_postgres,
    "fill_store": _fill_store,
}
