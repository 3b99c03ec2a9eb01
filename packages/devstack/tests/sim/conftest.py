"""Shared helpers of the simulation tests: a bounded wait, a NATS recorder, a funds registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from nats.aio.msg import Msg

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.testing import eventually, open_bus


async def until(check: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Bounded poll of a condition that other tasks on this loop (or other processes) make true."""
    await eventually(check, within=within, what=what)


@dataclass(frozen=True)
class Seen:
    subject: str
    data: bytes
    headers: dict[str, str]


@dataclass
class Recorder:
    """Every message on a subject pattern, in arrival order (one subscription keeps the order)."""

    messages: list[Seen] = field(default_factory=list)

    async def take(self, msg: Msg) -> None:
        self.messages.append(Seen(msg.subject, msg.data, dict(msg.headers or {})))

    def on(self, prefix: str) -> list[Seen]:
        return [m for m in self.messages if m.subject.startswith(prefix)]


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="sim-test") as connected:
        yield connected


@pytest_asyncio.fixture
async def recorder(bus: Bus) -> AsyncIterator[Recorder]:
    rec = Recorder()
    sub = await bus.nc.subscribe("mts.v1.>", cb=rec.take)
    await bus.nc.flush()
    yield rec
    await sub.unsubscribe()


@pytest.fixture
def registry() -> FundsRegistry:
    return FundsRegistry(
        [
            Fund(fund_id="paper-momentum", mode="paper", strategies=["mom-us-eq", "mom-eu-eq"]),
            Fund(fund_id="paper-meanrev", mode="paper", strategies=["mr-us-eq"]),
            Fund(fund_id="live-equities", mode="live", strategies=["stat-arb-1"]),
        ]
    )
