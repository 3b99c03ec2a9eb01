"""Fixtures of the market-data tests: real Postgres and NATS, the service in-process or as a process.

``app_factory`` runs the service as its process would (start-up hook, feeds warm-started, bars
consumer, the Litestar app) against the test's database and NATS, reached over httpx's ASGI
transport with a client address of the test's choosing (the rate limit is per client).
``feed`` publishes what the rest of MTS would: quotes, bars, NAVs, and halts in the KV bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Litestar

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.runtime import Consumer, ServiceContext
from mts1b_operations.core.testing import RunningService, migrated, open_bus, open_pool, running_service
from mts1b_operations.core.testing import eventually as poll_until
from mts1b_operations.marketdata import MarketData, RateLimitSettings, build_spec, market_data

Condition = Callable[[], Awaitable[bool]]

FUNDS_YAML = """\
funds:
  - fund_id: paper-momentum
    mode: paper
    strategies: [mom-us-eq, mom-eu-eq]
  - fund_id: live-equities
    mode: live
    strategies: [stat-arb-1]
"""

#: A limit no test reaches by accident.
UNLIMITED = RateLimitSettings(unit="second", requests=1_000_000)


async def wait_for(condition: Condition, *, within: float = 15.0, what: str = "condition") -> None:
    """Poll ``condition`` (an async predicate) until true; fail the test after ``within`` s."""
    await poll_until(condition, within=within, what=what)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    return wait_for


@pytest.fixture
def funds_file(tmp_path: Path) -> Path:
    path = tmp_path / "funds.yaml"
    path.write_text(FUNDS_YAML)
    return path


@pytest_asyncio.fixture
async def md_db(database_url: str) -> str:
    """A fresh database with core's and the market-data service's migrations applied."""
    return await migrated(database_url, "marketdata-api")


@pytest_asyncio.fixture
async def pool(md_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(md_db) as p:
        yield p


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="marketdata-test") as b:
        yield b


def quote(
    symbol: str, *, bid: float = 100.0, ask: float = 100.5, ts: datetime | None = None
) -> schemas.Quote:
    return schemas.Quote(
        symbol=symbol, ts=ts or datetime.now(UTC), bid=bid, ask=ask, bid_size=300.0, ask_size=200.0
    )


def bar(
    symbol: str,
    interval: str,
    start: datetime,
    *,
    open: float = 10.0,
    high: float = 12.0,
    low: float = 9.0,
    close: float = 11.0,
    volume: float = 100.0,
    vwap: float | None = 10.5,
    trade_count: int | None = 7,
) -> schemas.Bar:
    from mts1b_operations.marketdata.domain import DURATIONS

    return schemas.Bar(
        symbol=symbol,
        interval=interval,  # type: ignore[arg-type]
        start=start,
        end=start + DURATIONS[interval],  # type: ignore[index]
        open=open,
        high=high,
        low=low,
        close=close,
        volume=volume,
        vwap=vwap,
        trade_count=trade_count,
    )


def halt(
    severity: str, *, fund_id: str | None = None, strategy_id: str | None = None
) -> schemas.HaltRequested:
    return schemas.HaltRequested(
        halt_id=str(uuid.uuid4()),
        severity=severity,  # type: ignore[arg-type]
        mode="cancel_open",
        fund_id=fund_id,
        strategy_id=strategy_id,
        reason="test halt",
        requested_by="operator:alice",
        requested_at=datetime.now(UTC),
    )


@dataclass
class Feed:
    """Publishes as the rest of MTS would."""

    bus: Bus

    async def quote(self, q: schemas.Quote) -> None:
        await self.bus.publish(subjects.marketdata_quote(q.symbol), q, msg_id=str(uuid.uuid4()))

    async def bar(self, b: schemas.Bar, *, msg_id: str | None = None) -> None:
        await self.bus.publish(
            subjects.marketdata_bar(b.interval, b.symbol), b, msg_id=msg_id or str(uuid.uuid4())
        )

    async def raw(self, subject: str, data: bytes) -> None:
        await self.bus.publish(subject, data, msg_id=str(uuid.uuid4()))

    async def nav(self, fund_id: str, nav: float, day_pnl: float, ts: datetime | None = None) -> schemas.Nav:
        payload = schemas.Nav(fund_id=fund_id, ts=ts or datetime.now(UTC), nav=nav, day_pnl=day_pnl)
        await self.bus.publish(subjects.portfolio_nav(fund_id), payload, msg_id=str(uuid.uuid4()))
        return payload

    async def put_halt(self, key: str, h: schemas.HaltRequested) -> None:
        kv = await self.bus.kv("mts_halts", history=1)
        await kv.put(key, schemas.encode(h))

    async def delete_halt(self, key: str) -> None:
        kv = await self.bus.kv("mts_halts", history=1)
        await kv.delete(key)


@pytest.fixture
def feed(bus: Bus) -> Feed:
    return Feed(bus)


@dataclass
class MdApp:
    """The service in-process (its own pool and bus): its context, app and consumers."""

    service: RunningService

    @property
    def context(self) -> ServiceContext:
        return self.service.context

    @property
    def app(self) -> Litestar:
        return self.service.app

    @property
    def consumers(self) -> list[Consumer]:
        return self.service.consumers

    @property
    def state(self) -> MarketData:
        return market_data(self.context)

    def client(self, ip: str = "203.0.113.7", headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """An HTTP client seen by the app as coming from ``ip``."""
        return self.service.client(address=(ip, 40000), headers=headers)


@pytest_asyncio.fixture
async def app_builder(funds_file: Path) -> AsyncIterator[Callable[..., Awaitable[MdApp]]]:
    """``await app_builder(database_url, nats_url, rate_limit=..., funds=True)``: a started service."""
    async with AsyncExitStack() as stack:

        async def make(
            database_url: str, nats_url: str, rate_limit: RateLimitSettings = UNLIMITED, *, funds: bool = True
        ) -> MdApp:
            service = running_service(
                build_spec(rate_limit),
                database_url=database_url,
                nats_url=nats_url,
                bus_name="marketdata-under-test",
                outbox_relay=False,
                base_url="http://marketdata.test",
                funds_file=funds_file if funds else None,
            )
            return MdApp(await stack.enter_async_context(service))

        yield make


@pytest_asyncio.fixture
async def app_factory(
    md_db: str, nats_url: str, bus: Bus, app_builder: Callable[..., Awaitable[MdApp]]
) -> Callable[..., Awaitable[MdApp]]:
    """``await app_factory(rate_limit=..., funds=True)``: a started service on the test's servers."""

    async def make(rate_limit: RateLimitSettings = UNLIMITED, *, funds: bool = True) -> MdApp:
        return await app_builder(md_db, nats_url, rate_limit, funds=funds)

    return make


@pytest_asyncio.fixture
async def md_app(app_factory: Callable[..., Awaitable[MdApp]]) -> MdApp:
    return await app_factory()


DAY0 = datetime(2024, 1, 2, tzinfo=UTC)
"""A Tuesday, midnight UTC: the start of the test bars."""


@pytest.fixture
def day0() -> datetime:
    return DAY0


@pytest.fixture
def minutes() -> Callable[[int], timedelta]:
    return lambda n: timedelta(minutes=n)
