"""What runs while the faults happen: audit appends, halts and resumes, the gate, counters.

- :class:`AuditProbes` publishes operations facts (a resolved ``health`` watchdog alert about
  ``chaos-probe``, each with its own ``Nats-Msg-Id``) through core.bus: the audit service's
  recorder appends every operations fact, so this is the real append path. A probe counts as
  acknowledged once its publish returned a PubAck.
- :class:`HaltCycler` halts a paper fund (every ``firm_every``-th cycle the firm), waits for the
  HaltGate to see it, and resumes it with a second operator's cosignature. A halt counts as
  acknowledged once the halt API answered 2xx with its halt id.
- :class:`GateWatch` asks a :class:`HaltGate` every few milliseconds and records whether it
  refused whenever its view was stale (older than its ``max_staleness``).
- :class:`OrderCounter` and :class:`WatchdogCounter` count the paper OMS's order events and
  the watchdogs' evaluations (summed across restarts of the watchdogs service).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import httpx
from nats.aio.msg import Msg

from mts1b_operations.client import ApiError, HaltClient, HaltGate, MtsError
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, BusError
from mts1b_operations.core.schemas import WatchdogAlert

__all__ = [
    "PAPER_FUNDS",
    "PROBE_SUBJECT",
    "PROBE_SUBJECT_ID",
    "AckedHalt",
    "AuditProbes",
    "GateWatch",
    "HaltCycler",
    "OrderCounter",
    "WatchdogCounter",
]

PAPER_FUNDS: Final = ("paper-momentum", "paper-meanrev")
PROBE_SUBJECT: Final = subjects.watchdog_alert("health")
PROBE_SUBJECT_ID: Final = "chaos-probe"


def _why(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"{type(exc).__name__} {exc.status}"
    return type(exc).__name__


@dataclass
class AuditProbes:
    bus: Bus
    run_id: str
    interval: float = 0.1
    acked: list[str] = field(default_factory=list)
    """Source event ids (``nats:<subject>:<msg id>``) of the acknowledged probes."""
    attempted: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.attempted += 1
            msg_id = f"chaos-{self.run_id}-{self.attempted}"
            alert = WatchdogAlert(
                alert_id=msg_id,
                watchdog="health",
                status="resolved",
                subject_id=PROBE_SUBJECT_ID,
                message="chaos harness: an audit append probe",
                fired_at=datetime.now(UTC),
            )
            try:
                await self.bus.publish(PROBE_SUBJECT, alert, msg_id=msg_id, deadline=10.0)
            except (BusError, OSError, TimeoutError) as exc:
                self.failures[_why(exc)] += 1
            else:
                self.acked.append(f"nats:{PROBE_SUBJECT}:{msg_id}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)  # pacing


@dataclass
class AckedHalt:
    halt_id: str
    scope: str
    """``firm`` or ``fund.<id>``: the halt's bucket key."""
    acked_at: float
    request_s: float
    gate_closed_s: float | None = None
    """Acknowledgement → the HaltGate refusing under it (None: not seen within the bound)."""


@dataclass
class HaltCycler:
    halt_url: str
    token: str
    cosigner_token: str
    gate: HaltGate
    clock: Callable[[], float]
    pace: float = 1.0
    firm_every: int = 5
    gate_bound: float = 15.0
    acked: dict[str, AckedHalt] = field(default_factory=dict)
    resumed: set[str] = field(default_factory=set)
    """Halt ids whose resume the API acknowledged."""
    attempts: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    _pending_resume: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        async with HaltClient(self.halt_url, token=self.token, read_timeout=20.0) as client:
            cycle = 0
            while not stop.is_set():
                cycle += 1
                if self._pending_resume is not None:
                    await self._resume(client, self._pending_resume)
                else:
                    firm = cycle % self.firm_every == 0
                    fund = PAPER_FUNDS[cycle % len(PAPER_FUNDS)]
                    halt = await self._halt(client, None if firm else fund, f"chaos cycle {cycle}")
                    if halt is not None:
                        self._pending_resume = "firm" if firm else fund
                        await self._resume(client, self._pending_resume)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.pace)  # pacing

    async def leave_one_active(self) -> AckedHalt | None:
        """A last fund halt left in force, so the bucket check has an active halt to find."""
        async with HaltClient(self.halt_url, token=self.token, read_timeout=20.0) as client:
            for _ in range(5):
                if self._pending_resume is not None:
                    await self._resume(client, self._pending_resume)
                    continue
                halt = await self._halt(client, PAPER_FUNDS[0], "chaos: left in force for the checks")
                if halt is not None:
                    return halt
        return None

    async def _halt(self, client: HaltClient, fund_id: str | None, reason: str) -> AckedHalt | None:
        kind = "firm halt" if fund_id is None else "fund halt"
        self.attempts[kind] += 1
        started = time.monotonic()
        try:
            answer = await client.request(
                "FIRM_HALT" if fund_id is None else "FUND_HALT", fund_id=fund_id, reason=reason
            )
        except MtsError as exc:
            self.failures[f"{kind}: {_why(exc)}"] += 1
            return None
        halt = AckedHalt(answer.halt.halt_id, answer.halt.scope, self.clock(), time.monotonic() - started)
        self.acked[halt.halt_id] = halt
        acked = time.monotonic()

        def closed(gate: HaltGate) -> bool:
            return any(h is not None and h.halt_id == halt.halt_id for h in gate.halts().values())

        try:
            await self.gate.wait_for(closed, timeout=self.gate_bound)
        except TimeoutError:
            self.failures["gate did not see a halt within its bound"] += 1
        else:
            halt.gate_closed_s = time.monotonic() - acked
        return halt

    async def _resume(self, client: HaltClient, scope: str) -> None:
        self.attempts["resume"] += 1
        try:
            answer = await client.resume(scope, cosigner_token=self.cosigner_token, reason="chaos: resume")
        except ApiError as exc:
            if exc.status == 404:  # nothing in force on the scope: an earlier attempt's resume committed
                self._pending_resume = None
            self.failures[f"resume: {_why(exc)}"] += 1
            return
        except MtsError as exc:
            self.failures[f"resume: {_why(exc)}"] += 1
            return
        self._pending_resume = None
        self.resumed.add(answer.result.resumed.halt_id)


@dataclass
class GateWatch:
    gate: HaltGate
    clock: Callable[[], float]
    interval: float = 0.02
    samples: int = 0
    stale_samples: int = 0
    stale_refused: int = 0
    violations: list[str] = field(default_factory=list)
    stale_episodes: int = 0
    longest_stale_s: float = 0.0
    _stale_since: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)  # sampling period

    def sample(self) -> None:
        # No await between the freshness reading and the decision: the gate's view cannot
        # change in between, so a view stale here is stale for the decision too.
        stale = not self.gate.fresh
        decision = self.gate.allows(PAPER_FUNDS[1])
        self.samples += 1
        now = self.clock()
        if stale:
            self.stale_samples += 1
            if decision.allowed:
                self.violations.append(f"t={now:.1f}s: allowed with a stale view ({decision.reason})")
            else:
                self.stale_refused += 1
            if self._stale_since is None:
                self._stale_since = now
                self.stale_episodes += 1
            self.longest_stale_s = max(self.longest_stale_s, now - self._stale_since)
        else:
            self._stale_since = None


@dataclass
class OrderCounter:
    bus: Bus
    events: Counter[str] = field(default_factory=Counter)

    async def start(self) -> None:
        async def on_order(msg: Msg) -> None:
            self.events[msg.subject.rsplit(".", 1)[-1]] += 1

        await self.bus.nc.subscribe(subjects.OMS_ORDER_ALL, cb=on_order)


@dataclass
class WatchdogCounter:
    url: str
    token: str
    interval: float = 2.0
    total: int = 0
    polls_failed: int = 0
    _last: dict[str, int] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(headers=headers, timeout=5.0) as client:
            while not stop.is_set():
                await self.poll(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)  # polling period
            await self.poll(client)

    async def poll(self, client: httpx.AsyncClient) -> None:
        try:
            answer = await client.get(self.url + "/v1/watchdogs/")
            answer.raise_for_status()
            views = answer.json()["watchdogs"]
        except (httpx.HTTPError, ValueError, KeyError):
            self.polls_failed += 1
            return
        for view in views:
            name, count = str(view["name"]), int(view.get("evaluations", 0))
            last = self._last.get(name, 0)
            # The count restarts at 0 with the service; a drop means a restart.
            self.total += count - last if count >= last else count
            self._last[name] = count
