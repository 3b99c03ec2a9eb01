"""Fixtures for the halt library tests: a migrated database, NATS, a funds registry, operators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest
import pytest_asyncio
from nats.aio.msg import Msg

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import MSG_ID_HEADER, Bus
from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.operators import Role, add_operator, revoke_operator
from mts1b_operations.core.testing import eventually, migrated, open_bus, open_pool
from mts1b_operations.halt import HaltManager

PAPER = "paper-momentum"
LIVE = "live-equities"
LIVE_FLATTENABLE = "live-flattenable"
ODD = "desk:eu@1"
"""A fund id with characters a KV key cannot hold."""


def make_funds() -> FundsRegistry:
    return FundsRegistry(
        [
            Fund(fund_id=PAPER, mode="paper", strategies=["mom-us-eq", "mom-eu-eq"]),
            Fund(fund_id=LIVE, mode="live", strategies=["stat-arb-1"]),
            Fund(fund_id=LIVE_FLATTENABLE, mode="live", strategies=["carry-1"], allow_live_flatten=True),
            Fund(fund_id=ODD, mode="paper", strategies=["s~1=x"]),
        ]
    )


@dataclass
class Received:
    """Messages seen by a plain subscriber on the halt subjects."""

    messages: list[Msg] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, subject: str) -> list[Msg]:
        return [m for m in self.messages if m.subject == subject]

    def msg_ids(self, subject: str) -> list[str]:
        return [(m.headers or {}).get(MSG_ID_HEADER, "") for m in self.of(subject)]

    def requested(self) -> list[schemas.HaltRequested]:
        return [schemas.decode(m.data, schemas.HaltRequested) for m in self.of(subjects.halt_requested())]

    def resumed(self) -> list[schemas.HaltResumed]:
        return [schemas.decode(m.data, schemas.HaltResumed) for m in self.of(subjects.halt_resumed())]

    async def wait_count(self, subject: str, n: int, within: float = 10.0) -> None:
        async def enough() -> bool:
            return len(self.of(subject)) >= n

        await eventually(enough, within=within, what=f"{n} message(s) on {subject}")


@pytest.fixture
def funds() -> FundsRegistry:
    return make_funds()


@pytest_asyncio.fixture
async def halt_db(database_url: str) -> str:
    return await migrated(database_url, "halt")


@pytest_asyncio.fixture
async def pool(halt_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(halt_db, max_size=20) as pool:
        yield pool


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="halt-tests", ensure_streams=False) as bus:
        yield bus


@pytest_asyncio.fixture
async def manager(pool: asyncpg.Pool, bus: Bus, funds: FundsRegistry) -> AsyncIterator[HaltManager]:
    mgr = HaltManager(pool=pool, bus=bus, funds=funds, run_relay=False)
    await mgr.start()
    assert mgr.nats_synced
    try:
        yield mgr
    finally:
        await mgr.close()


@pytest_asyncio.fixture
async def received(bus: Bus) -> AsyncIterator[Received]:
    got = Received()

    async def on_msg(msg: Msg) -> None:
        got.messages.append(msg)
        got.arrived.set()

    sub = await bus.nc.subscribe(f"{subjects.PREFIX}.operations.halt.>", cb=on_msg)
    await bus.nc.flush()
    try:
        yield got
    finally:
        await sub.unsubscribe()


Operators = Callable[..., Awaitable[str]]


@pytest_asyncio.fixture
async def operator(pool: asyncpg.Pool) -> Operators:
    """``await operator("alice", role="operator", revoked=False)`` registers one; returns its actor."""

    async def register(name: str, role: Role = "operator", *, revoked: bool = False) -> str:
        op, _token = await add_operator(pool, name, role, created_by="operator:test-admin")
        if revoked:
            await revoke_operator(pool, name)
        return op.actor

    return register
