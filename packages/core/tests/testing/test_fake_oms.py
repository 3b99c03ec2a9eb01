"""``FakeOms``: responders on the test's NATS that record every OMS command and ack it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats.errors
import pytest
import pytest_asyncio

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck, decode, encode
from mts1b_operations.core.testing import FakeOms, eventually, open_bus


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="fake-oms-test", ensure_streams=False) as connected:
        yield connected


@pytest_asyncio.fixture
async def oms(nats_url: str) -> AsyncIterator[FakeOms]:
    fake = FakeOms(nats_url)
    yield fake
    await fake.close()


def _command(name: str) -> OmsCommand:
    return OmsCommand(
        command_id=str(uuid.uuid4()),
        command=name,  # type: ignore[arg-type]
        requested_by="operator:alice",
        fund_ids=[],
        paper_only=True,
        reason="drill",
        issued_at=datetime.now(UTC),
    )


async def _ask(bus: Bus, command: OmsCommand, *, within: float = 10.0) -> OmsCommandAck:
    reply = await bus.nc.request(subjects.oms_command(command.command), encode(command), timeout=within)
    return decode(reply.data, OmsCommandAck)


async def test_it_acks_each_command_with_its_counts_and_records_it(oms: FakeOms, bus: Bus) -> None:
    await oms.start("oms-a", orders=3, positions=2)
    cancel, flatten = _command("cancel_all"), _command("flatten")
    cancelled, flattened = await _ask(bus, cancel), await _ask(bus, flatten)
    assert (cancelled.command_id, cancelled.responder, cancelled.ok) == (cancel.command_id, "oms-a", True)
    assert (cancelled.orders_cancelled, cancelled.positions_closed) == (3, 0)  # a cancel closes nothing
    assert (flattened.orders_cancelled, flattened.positions_closed) == (3, 2)
    assert oms.received == [("oms-a", cancel), ("oms-a", flatten)]
    assert oms.commands == [cancel, flatten]


async def test_a_failing_responder_says_why_and_a_silent_one_never_answers(oms: FakeOms, bus: Bus) -> None:
    await oms.start("broken", ok=False)
    failed = await _ask(bus, _command("cancel_all"))
    assert (failed.ok, failed.error) == (False, "broker session down")
    await oms.close()  # responders stopped: the next request reaches the silent one only

    await oms.start("mute", silent=True)
    command = _command("flatten")
    with pytest.raises(nats.errors.TimeoutError):
        await _ask(bus, command, within=0.5)
    await eventually(lambda: ("mute", command) in oms.received, what="the silent responder to record it")
