"""Fixtures of the bus tests: connections to the real NATS servers of the testing plugin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mts1b_operations.core.bus import Bus, StreamSpec, connect_bus
from mts1b_operations.core.telemetry import install_in_memory_tracing, install_tracer_provider
from mts1b_operations.core.testing import eventually as eventually_

Condition = Callable[[], Awaitable[bool]]
Eventually = Callable[..., Awaitable[None]]


async def _eventually(condition: Condition, *, within: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` (an async predicate) until true; fail the test after ``within`` s."""
    await eventually_(condition, within=within, what=what)


@pytest.fixture
def eventually() -> Eventually:
    return _eventually


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """A global tracer provider recording finished spans; replaced by a silent one afterwards."""
    exporter = install_in_memory_tracing("bus-tests")
    yield exporter
    install_tracer_provider(TracerProvider())


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connection = await connect_bus(nats_url, name="bus-test", connect_deadline=10)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def test_stream() -> StreamSpec:
    """A stream of the test's own, on subjects no other test uses."""
    token = uuid.uuid4().hex[:10]
    return StreamSpec(
        name=f"T_{token}",
        subjects=(f"test.{token}.>",),
        storage="file",
        retention="limits",
        max_age=600,
    )
