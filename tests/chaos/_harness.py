"""One chaos run: start the stack, drive it, inject the scheduled faults, settle, check, stop."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mts1b_operations.client import HaltGate
from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.testing import eventually

from ._faults import FAULT_KINDS, FaultRecord, FaultSchedule, inject
from ._invariants import check_invariants, settle
from ._report import ChaosReport, percentile
from ._stack import ChaosStack
from ._workload import AuditProbes, GateWatch, HaltCycler, OrderCounter, WatchdogCounter

__all__ = ["ChaosOptions", "run_chaos"]

GATE_MAX_STALENESS = 1.0


@dataclass(frozen=True)
class ChaosOptions:
    work_dir: Path
    duration: float
    """Seconds of fault schedule; faults start until it has passed (at least ``min_faults``)."""
    seed: int = 1
    min_faults: int = len(FAULT_KINDS)
    max_faults: int | None = None
    gap: tuple[float, float] = (5.0, 15.0)
    replay_speed: float = 20.0
    probe_interval: float = 0.1
    halt_pace: float = 1.0
    command: str = "python -m tests.chaos.soak"
    log: Callable[[str], None] = field(default=print)


async def run_chaos(options: ChaosOptions) -> ChaosReport:
    say = options.log
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    report = ChaosReport(seed=options.seed, command=options.command, fault_window_s=0.0)
    stack = ChaosStack(options.work_dir, seed=options.seed, replay_speed=options.replay_speed)
    say(f"chaos: seed {options.seed}; starting the dev stack in {options.work_dir}")
    try:
        await stack.start()
        say(f"chaos: stack up in {clock():.0f}s: {stack.service_urls()}")
        await _drive(stack, options, report, clock)
    finally:
        await stack.stop()
        report.wall_s = clock()
    return report


async def _drive(
    stack: ChaosStack, options: ChaosOptions, report: ChaosReport, clock: Callable[[], float]
) -> None:
    say = options.log
    bus = await connect_bus(stack.nats_url, name="chaos-harness", connect_deadline=30)
    gate = HaltGate(stack.nats_url, max_staleness=GATE_MAX_STALENESS, name="chaos-gate")
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with httpx.AsyncClient() as http:
            await gate.start(wait=30.0)
            probes = AuditProbes(bus, uuid.uuid4().hex[:8], interval=options.probe_interval)
            watch = GateWatch(gate, clock)
            urls = stack.service_urls()
            tokens = stack.tokens
            halts = HaltCycler(urls["halt"], tokens.alice, tokens.bob, gate, clock, pace=options.halt_pace)
            orders = OrderCounter(bus)
            await orders.start()
            watchdogs = WatchdogCounter(urls["watchdogs"], tokens.viewer)
            for name, runner in (
                ("probes", probes.run),
                ("gate", watch.run),
                ("halts", halts.run),
                ("watchdogs", watchdogs.run),
            ):
                tasks.append(asyncio.create_task(runner(stop), name=f"chaos-{name}"))
            # The run asserts each kind of operation went through at least once: the first of each
            # before any fault, so no fault schedule (or slow start) can leave one kind without.
            await eventually(
                lambda: probes.acked and halts.acked and halts.resumed,
                within=60,
                what="a first audit append, halt and cosigned resume",
                poll=0.1,
            )
            window_start = clock()
            schedule = FaultSchedule(options.seed, gap=options.gap)
            while _more_faults(report, options, clock() - window_start):
                gap, kind, target = schedule.next()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), gap)  # the schedule's pause between faults
                record = FaultRecord(len(report.faults) + 1, kind, target, clock())
                report.faults.append(record)
                await inject(stack, bus, http, record, clock)
                say(
                    f"chaos: fault {record.number} at {record.injected_at:.1f}s: {kind} {target} -> "
                    + (
                        f"recovered in {record.recovery:.1f}s"
                        if record.recovery is not None
                        else f"NOT RECOVERED: {record.error}"
                    )
                    + (f" ({record.detail})" if record.detail else "")
                )
            report.fault_window_s = clock() - window_start
            stop.set()
            await asyncio.gather(*tasks)
            tasks.clear()
            final = await halts.leave_one_active()
            say(
                f"chaos: faults done at {clock():.0f}s; settling "
                f"(last halt left in force: {final and final.halt_id})"
            )
            report.settle_problems = await settle(
                stack, http, probes.acked, halts=list(halts.acked), resumed=list(halts.resumed)
            )
            report.invariants = await check_invariants(
                stack, bus, http, probes=probes.acked, halts=halts.acked, resumed=halts.resumed, gate=watch
            )
            gate_times = [h.gate_closed_s for h in halts.acked.values() if h.gate_closed_s is not None]
            request_times = [h.request_s for h in halts.acked.values()]
            report.operations = {
                "audit appends acknowledged": len(probes.acked),
                "audit appends refused/timed out": sum(probes.failures.values()),
                "halts acknowledged": len(halts.acked),
                "resumes acknowledged (cosigned)": len(halts.resumed),
                "halt/resume attempts failed": sum(halts.failures.values()),
                "orders (paper OMS new)": orders.events["new"],
                "order events (all)": sum(orders.events.values()),
                "watchdog evaluations": watchdogs.total,
                "gate samples": watch.samples,
                "halt request p50 s": _rounded(percentile(request_times, 50)),
                "halt ack -> gate closed p50 s": _rounded(percentile(gate_times, 50)),
                "halt ack -> gate closed p99 s": _rounded(percentile(gate_times, 99)),
                "halt ack -> gate closed mean s": _rounded(
                    statistics.fmean(gate_times) if gate_times else None
                ),
                "failures": {
                    "audit": dict(probes.failures),
                    "halts": dict(halts.failures),
                    "watchdog polls failed": watchdogs.polls_failed,
                },
            }
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await gate.stop()
        await bus.close()


def _more_faults(report: ChaosReport, options: ChaosOptions, elapsed: float) -> bool:
    done = len(report.faults)
    if options.max_faults is not None and done >= options.max_faults:
        return False
    return done < options.min_faults or elapsed < options.duration


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
