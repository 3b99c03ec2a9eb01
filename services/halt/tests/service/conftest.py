"""Fixtures of the halt service tests: real Postgres and NATS, the service in-process, fake OMSes.

``halt_app`` runs the service as its process would (start-up hook, consumer, outbox relay, the
Litestar app: ``core.testing.running_service``) against the test's database and NATS, reached
over httpx's ASGI transport: the app shares the test's event loop, so the real pool and bus
work inside it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Litestar

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, DurableConsumer
from mts1b_operations.core.runtime import ServiceContext
from mts1b_operations.core.schemas import WatchdogAlert
from mts1b_operations.core.testing import (
    FakeOms,
    migrated,
    open_bus,
    open_pool,
    register_operators,
    running_service,
)
from mts1b_operations.halt.bootstrap import service_spec
from mts1b_operations.halt.entrypoints._service import HaltService, halt_service

Condition = Callable[[], Awaitable[bool]]

FUNDS_YAML = """\
funds:
  - fund_id: paper-momentum
    mode: paper
    strategies: [mom-us-eq, mom-eu-eq]
  - fund_id: paper-meanrev
    mode: paper
    strategies: [mr-us-eq]
  - fund_id: live-equities
    mode: live
    strategies: [stat-arb-1]
"""


@pytest.fixture
def funds_file(tmp_path: Path) -> Path:
    path = tmp_path / "funds.yaml"
    path.write_text(FUNDS_YAML)
    return path


@pytest.fixture
def policy_text() -> str:
    """The policy file's text (parametrize ``policy_text`` to change it): default rules, 1 s acks."""
    return "oms:\n  ack_timeout: 1.0\n"


@pytest.fixture
def policy_file(tmp_path: Path, policy_text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "halt-policy.yaml"
    path.write_text(policy_text)
    monkeypatch.setenv("MTS_HALT_POLICY_FILE", str(path))
    return path


@pytest_asyncio.fixture
async def halt_db(database_url: str) -> str:
    """A fresh database with core's and the halt service's migrations applied."""
    return await migrated(database_url, "halt")


@pytest_asyncio.fixture
async def pool(halt_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(halt_db) as p:
        yield p


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="halt-service-test") as b:
        yield b


@pytest_asyncio.fixture
async def tokens(pool: asyncpg.Pool) -> dict[str, str]:
    """Bearer tokens of registered operators: alice and bob (operator), vera (viewer), ada (admin)."""
    return await register_operators(
        pool, {"alice": "operator", "bob": "operator", "vera": "viewer", "ada": "admin"}
    )


@dataclass
class HaltApp:
    context: ServiceContext
    app: Litestar
    http: httpx.AsyncClient
    tokens: dict[str, str]
    consumer: DurableConsumer

    @property
    def service(self) -> HaltService:
        return halt_service(self.context)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    async def post(self, path: str, as_: str, body: object, *, cosigner: str | None = None) -> httpx.Response:
        headers = self.auth(as_)
        if cosigner is not None:
            headers["X-MTS-Cosigner-Token"] = self.tokens[cosigner]
        return await self.http.post(path, json=body, headers=headers)

    async def get(self, path: str, as_: str = "vera", **params: object) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.auth(as_))  # type: ignore[arg-type]


@asynccontextmanager
async def running_halt_app(
    *,
    pool: asyncpg.Pool,
    bus: Bus,
    database_url: str,
    nats_url: str,
    funds_file: Path,
    tokens: dict[str, str],
) -> AsyncIterator[HaltApp]:
    """The service as its process runs it (hook, relay, consumer, app), on the given pool and bus."""
    async with running_service(
        service_spec(),
        database_url=database_url,
        nats_url=nats_url,
        pool=pool,
        bus=bus,
        funds_file=funds_file,
    ) as service:
        yield HaltApp(
            context=service.context,
            app=service.app,
            http=service.http,
            tokens=tokens,
            consumer=service.consumer(DurableConsumer),
        )


StartHaltApp = Callable[[], AbstractAsyncContextManager[HaltApp]]


@pytest.fixture
def start_halt_app(
    pool: asyncpg.Pool,
    bus: Bus,
    halt_db: str,
    nats_url: str,
    funds_file: Path,
    policy_file: Path,
    tokens: dict[str, str],
) -> StartHaltApp:
    """Start the service on the test's database, bus and files; call again to start it anew (a restart)."""
    return functools.partial(
        running_halt_app,
        pool=pool,
        bus=bus,
        database_url=halt_db,
        nats_url=nats_url,
        funds_file=funds_file,
        tokens=tokens,
    )


@pytest_asyncio.fixture
async def halt_app(start_halt_app: StartHaltApp) -> AsyncIterator[HaltApp]:
    async with start_halt_app() as app:
        yield app


def watchdog_alert(watchdog: str, subject_id: str, status: str = "firing") -> WatchdogAlert:
    return WatchdogAlert(
        alert_id=str(uuid.uuid4()),
        watchdog=watchdog,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        subject_id=subject_id,
        value=0.42,
        threshold=0.25,
        message=f"{watchdog} {status} on {subject_id}",
        fired_at=datetime.now(UTC),
    )


async def publish_alert(bus: Bus, alert: WatchdogAlert) -> None:
    await bus.publish(subjects.watchdog_alert(alert.watchdog), alert, msg_id=alert.alert_id)


@pytest_asyncio.fixture
async def fake_oms(nats_url: str) -> AsyncIterator[FakeOms]:
    oms = FakeOms(nats_url)
    yield oms
    await oms.close()
