"""Fixtures of the watchdog service tests: real Postgres and NATS, the runners in-process.

``harness`` builds a :class:`Harness` for a set of watchdogs with test-sized parameters: the
service run by ``core.testing.running_service`` with its start-up hook swapped for one building
the runtime (durable consumers, probes, bookkeeping) and control from those parameters, its
outbox relay and the Litestar app reached over httpx's ASGI transport (the app shares the
test's event loop, so the real pool and bus work inside it). :class:`AlertWatcher` is a core
NATS subscription on every watchdog subject; tests wait on it with a timeout instead of sleeping.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.outbox import OutboxRelay
from mts1b_operations.core.runtime import ServiceContext
from mts1b_operations.core.schemas import WatchdogAlert, decode
from mts1b_operations.core.testing import (
    eventually,
    migrated,
    open_bus,
    open_pool,
    register_operators,
    running_service,
)
from mts1b_operations.watchdogs.bootstrap import service_spec
from mts1b_operations.watchdogs.entrypoints.control import WatchdogControl
from mts1b_operations.watchdogs.entrypoints.http import STATE_KEY, watchdog_control
from mts1b_operations.watchdogs.runners import WatchdogRuntime

Condition = Callable[[], Awaitable[bool]]


@dataclass
class AlertWatcher:
    """Every WatchdogAlert published while it listens, in arrival order."""

    bus: Bus
    alerts: list[WatchdogAlert] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _sub: Any = None

    async def start(self) -> None:
        async def on_alert(msg: Any) -> None:
            alert = decode(msg.data, WatchdogAlert)
            async with self._arrived:
                self.alerts.append(alert)
                self._arrived.notify_all()

        self._sub = await self.bus.nc.subscribe(subjects.WATCHDOG_ALL, cb=on_alert)
        await self.bus.nc.flush()

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    def matching(
        self, kind: str, status: str | None = None, subject_id: str | None = None
    ) -> list[WatchdogAlert]:
        return [
            a
            for a in self.alerts
            if a.watchdog == kind
            and (status is None or a.status == status)
            and (subject_id is None or a.subject_id == subject_id)
        ]

    async def wait(
        self, kind: str, status: str, subject_id: str | None = None, *, count: int = 1, within: float = 10.0
    ) -> WatchdogAlert:
        """The ``count``-th ``kind`` alert with ``status`` (on ``subject_id``); fails after ``within`` s."""

        def found() -> bool:
            return len(self.matching(kind, status, subject_id)) >= count

        try:
            async with asyncio.timeout(within):
                async with self._arrived:
                    await self._arrived.wait_for(found)
        except TimeoutError:
            seen = [(a.watchdog, a.status, a.subject_id, a.message) for a in self.alerts]
            pytest.fail(
                f"no {status} {kind} alert on {subject_id or 'any subject'} within {within}s; saw {seen}"
            )
        return self.matching(kind, status, subject_id)[count - 1]

    async def quiet(self, kind: str, *, after: Callable[[], Awaitable[object]]) -> None:
        """Run ``after`` (publish inputs, wait until they were handled); assert no ``kind`` alert came."""
        before = len(self.matching(kind))
        await after()
        await self.bus.nc.flush()
        assert len(self.matching(kind)) == before, self.matching(kind)[before:]


@pytest_asyncio.fixture
async def wd_db(database_url: str) -> str:
    """A fresh database with core's and the watchdogs' migrations applied."""
    return await migrated(database_url, "watchdogs")


@pytest_asyncio.fixture
async def pool(wd_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(wd_db) as p:
        yield p


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="watchdogs-service-test") as b:
        yield b


@pytest_asyncio.fixture
async def alerts(bus: Bus) -> AsyncIterator[AlertWatcher]:
    watcher = AlertWatcher(bus)
    await watcher.start()
    yield watcher
    await watcher.stop()


@pytest_asyncio.fixture
async def tokens(pool: asyncpg.Pool) -> dict[str, str]:
    """Bearer tokens: olga (operator), vera (viewer)."""
    return await register_operators(pool, {"olga": "operator", "vera": "viewer"})


@dataclass
class Harness:
    """The watchdogs of one test, as the service runs them."""

    pool: asyncpg.Pool
    bus: Bus
    wd_db: str
    nats_url: str
    tokens: dict[str, str]
    runtime: WatchdogRuntime | None = None
    control: WatchdogControl | None = None
    relay: OutboxRelay | None = None
    http: httpx.AsyncClient | None = None
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    _stack: AsyncExitStack | None = field(default=None, repr=False)

    async def start(
        self,
        names: Sequence[str],
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        funds: FundsRegistry | None = None,
    ) -> WatchdogRuntime:
        async def start_watchdogs(context: ServiceContext) -> None:
            """The service's start-up hook, with the test's watchdogs and parameters."""
            runtime = WatchdogRuntime(
                context.pool,
                context.bus,
                source=context.name,
                names=names,
                overrides=overrides,
                env=env or {},
                funds=funds,
                flush_interval=0.1,
            )
            context.state[STATE_KEY] = WatchdogControl(
                runtime, context.bus, instance_id=context.instance_id, service=context.name
            )

        spec = replace(service_spec(), on_startup=(start_watchdogs,))
        self._stack = AsyncExitStack()
        service = await self._stack.enter_async_context(
            running_service(
                spec,
                database_url=self.wd_db,
                nats_url=self.nats_url,
                pool=self.pool,
                bus=self.bus,
                instance_id=self.instance_id,
                relay_poll_interval=0.2,
            )
        )
        self.control = watchdog_control(service.context)
        self.runtime = self.control.runtime
        self.relay, self.http = service.relay, service.http
        return self.runtime

    async def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
        self.http = None

    async def restart(self, names: Sequence[str], **kwargs: Any) -> WatchdogRuntime:
        """Stop everything and start anew on the same Postgres and NATS (a new instance)."""
        await self.stop()
        self.instance_id = str(uuid.uuid4())
        return await self.start(names, **kwargs)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    async def request(self, method: str, path: str, as_: str = "olga", body: object = None) -> httpx.Response:
        assert self.http is not None
        return await self.http.request(method, path, json=body, headers=self.auth(as_))

    async def publish(self, subject: str, payload: Any) -> None:
        await self.bus.publish(subject, payload, msg_id=str(uuid.uuid4()))

    async def evaluated(self, name: str, count: int, *, within: float = 10.0) -> None:
        """Wait until ``name`` has made at least ``count`` evaluations since it started."""
        assert self.runtime is not None
        runner = self.runtime.runner(name)

        async def done() -> bool:
            return runner.evaluation_count >= count

        await eventually(done, within=within, what=f"{name} to evaluate {count} time(s)")

    async def ticked(self, name: str, count: int, *, within: float = 10.0) -> None:
        """Wait until the periodic runner ``name`` has done ``count`` more rounds."""
        assert self.runtime is not None
        runner = self.runtime.runner(name)
        target = runner.ticks + count

        async def done() -> bool:
            return runner.ticks >= target

        await eventually(done, within=within, what=f"{name} to do {count} round(s)")

    async def settled(self, name: str, *, within: float = 10.0) -> None:
        """Wait until ``name``'s durable consumer(s) handled every message published so far."""
        assert self.runtime is not None
        consumers = [c for c in self.runtime._consumers if c.spec.durable.startswith(f"watchdogs-{name}")]
        assert consumers, f"{name} has no input consumer"

        async def done() -> bool:
            for consumer in consumers:
                info = await consumer.info()
                if info.num_pending or info.num_ack_pending:
                    return False
            return True

        await eventually(done, within=within, what=f"{name}'s inputs to be handled")


@pytest_asyncio.fixture
async def harness(
    pool: asyncpg.Pool, bus: Bus, wd_db: str, nats_url: str, tokens: dict[str, str]
) -> AsyncIterator[Harness]:
    h = Harness(pool=pool, bus=bus, wd_db=wd_db, nats_url=nats_url, tokens=tokens)
    yield h
    await h.stop()


def utc(seconds: float) -> datetime:
    """A fixed, timezone-aware instant: ``seconds`` after 2025-01-06 00:00 UTC (a Monday)."""
    return datetime.fromtimestamp(1_736_121_600 + seconds, UTC)
