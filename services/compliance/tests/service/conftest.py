"""Fixtures of the compliance service tests: real Postgres and NATS, the service in-process.

``running_compliance`` runs the service as its process would (start-up hook, order-events
consumer, filer, outbox relay, the Litestar app: ``core.testing.running_service``) against the
test's database and NATS, reached over httpx's ASGI transport on the test's event loop.
The registry defaults to the firm's own adapter (``_firm_adapter``), hooked like a firm would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio

from mts1b_operations.compliance._config import ComplianceConfig
from mts1b_operations.compliance.adapters import Transport
from mts1b_operations.compliance.adapters.registry import AdapterSource
from mts1b_operations.compliance.bootstrap import filer, order_events, service_spec
from mts1b_operations.compliance.entrypoints import ComplianceService, compliance_service
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, DurableConsumer
from mts1b_operations.core.runtime import ServiceContext
from mts1b_operations.core.schemas import OrderEvent
from mts1b_operations.core.testing import (
    migrated,
    open_bus,
    open_pool,
    register_operators,
    running_service,
    stream_messages,
)

from ._firm_adapter import FirmAdapter, FirmRegistry

FUNDS_YAML = """\
funds:
  - fund_id: firm-fund
    mode: live
    strategies: [stat-arb-1]
  - fund_id: quiet-fund
    mode: paper
    strategies: [mom-us-eq]
  - fund_id: live-equities
    mode: live
    strategies: [stat-arb-2]
    compliance:
      cat_enabled: true
      cat_subscriber_id: "ABCD12345"
"""


@pytest.fixture
def funds_file(tmp_path: Path) -> Path:
    path = tmp_path / "funds.yaml"
    path.write_text(FUNDS_YAML)
    return path


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


def fast_config(output_dir: Path, **changes: Any) -> ComplianceConfig:
    """Short pauses so retries happen within a test (the production defaults are in seconds to minutes)."""
    fields: dict[str, Any] = {
        "output_dir": output_dir,
        "filing_interval": 0.1,
        "retry_delay": 0.1,
        "retry_max_delay": 0.5,
        "submit_attempts": 2,
    }
    return ComplianceConfig(**(fields | changes))


@pytest_asyncio.fixture
async def compliance_db(database_url: str) -> str:
    return await migrated(database_url, "compliance")


@pytest_asyncio.fixture
async def pool(compliance_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(compliance_db) as p:
        yield p


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="compliance-service-test") as b:
        yield b


@pytest_asyncio.fixture
async def tokens(pool: asyncpg.Pool) -> dict[str, str]:
    """Bearer tokens of registered operators: alice (operator) and vera (viewer)."""
    return await register_operators(pool, {"alice": "operator", "vera": "viewer"})


@dataclass
class ComplianceApp:
    context: ServiceContext
    http: httpx.AsyncClient
    tokens: dict[str, str]
    consumer: DurableConsumer

    @property
    def service(self) -> ComplianceService:
        return compliance_service(self.context)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    async def get(self, path: str, as_: str = "vera", **params: object) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.auth(as_))  # type: ignore[arg-type]

    async def post(self, path: str, body: object, as_: str = "alice") -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(as_))

    async def reports(self, **params: object) -> list[dict[str, Any]]:
        response = await self.get("/v1/compliance/reports", **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@asynccontextmanager
async def running_compliance(
    *,
    pool: asyncpg.Pool,
    bus: Bus,
    database_url: str,
    nats_url: str,
    funds_file: Path,
    tokens: dict[str, str],
    config: ComplianceConfig,
    registry: AdapterSource | None = None,
    transport: Transport | None = None,
    auto_cut: bool = False,
) -> AsyncIterator[ComplianceApp]:
    spec = service_spec(
        config=config,
        registry=registry if registry is not None else FirmRegistry(FirmAdapter({"firm-fund"})),
        transport=transport,
    )
    # The filer as the test wants it: without the daily cut unless asked (the process cuts daily).
    spec = replace(spec, consumers=(order_events, partial(filer, auto_cut=auto_cut)))
    async with running_service(
        spec, database_url=database_url, nats_url=nats_url, pool=pool, bus=bus, funds_file=funds_file
    ) as service:
        yield ComplianceApp(
            context=service.context,
            http=service.http,
            tokens=tokens,
            consumer=service.consumer(DurableConsumer),
        )


@pytest_asyncio.fixture
async def compliance_app(
    pool: asyncpg.Pool,
    bus: Bus,
    compliance_db: str,
    nats_url: str,
    funds_file: Path,
    output_dir: Path,
    tokens: dict[str, str],
) -> AsyncIterator[ComplianceApp]:
    async with running_compliance(
        pool=pool,
        bus=bus,
        database_url=compliance_db,
        nats_url=nats_url,
        funds_file=funds_file,
        tokens=tokens,
        config=fast_config(output_dir),
    ) as app:
        yield app


T0 = datetime(2026, 3, 16, 14, 30, tzinfo=UTC)  # 10:30 ET on a Monday


def order_event(event: str = "new", **changes: Any) -> OrderEvent:
    fields: dict[str, Any] = {
        "event": event,
        "event_id": str(uuid.uuid4()),
        "order_id": "o-1",
        "fund_id": "firm-fund",
        "strategy_id": "stat-arb-1",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": Decimal("100"),
        "order_type": "limit",
        "limit_price": Decimal("189.25"),
        "venue": "XNAS" if event in ("routed", "filled") else None,
        "ts": T0,
    }
    if event == "filled":
        fields |= {"fill_quantity": Decimal("100"), "fill_price": Decimal("189.20")}
    return OrderEvent(**(fields | changes))


async def publish(bus: Bus, event: OrderEvent, msg_id: str | None = None) -> None:
    await bus.publish(subjects.oms_order(event.event), event, msg_id=msg_id or event.event_id)


async def compliance_facts(bus: Bus) -> list[tuple[str, dict[str, Any]]]:
    """Every compliance fact in the OPERATIONS stream so far (subject, payload), in stream order."""
    return [
        (msg.subject, msgspec.json.decode(msg.data))
        for msg in await stream_messages(bus, "OPERATIONS", "mts.v1.operations.compliance.")
        if msg.subject and msg.data
    ]


async def report_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM reg_reports ORDER BY id"))
