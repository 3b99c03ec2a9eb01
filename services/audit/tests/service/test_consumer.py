"""The recorder on a real NATS and Postgres: every fact once, bad payloads raw, extra subjects."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType

import asyncpg
import pytest
import pytest_asyncio

from mts1b_operations.audit import AuditChain, AuditEntry
from mts1b_operations.audit.domain import MAX_DATA_BYTES
from mts1b_operations.audit.entrypoints import AuditRecorder
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, Delivery
from mts1b_operations.core.schemas import OrderEvent, encode
from mts1b_operations.core.testing import eventually

from .conftest import halt_fact


@pytest_asyncio.fixture
async def chain(pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AuditChain]:
    monkeypatch.delenv("MTS_AUDIT_SIGNING_KEY", raising=False)
    opened = AuditChain(pool=pool, source="audit")
    yield opened
    await opened.close()


StartRecorder = Callable[..., Awaitable[AuditRecorder]]


@pytest_asyncio.fixture
async def start_recorder(bus: Bus, chain: AuditChain) -> AsyncIterator[StartRecorder]:
    started: list[AuditRecorder] = []

    async def start(*, extra_subjects: tuple[str, ...] = ()) -> AuditRecorder:
        recorder = AuditRecorder(bus, chain, extra_subjects=extra_subjects)
        await recorder.start()
        started.append(recorder)
        return recorder

    yield start
    for recorder in started:
        await recorder.stop()


async def entries_once(chain: AuditChain, count: int) -> list[AuditEntry]:
    async def enough() -> list[AuditEntry] | None:
        found = await chain.entries()
        return found if len(found) >= count else None

    return await eventually(enough, what=f"{count} audit entries")


def delivery_of(data: bytes) -> Delivery:
    return Delivery(
        subject=subjects.halt_requested(),
        data=data,
        headers=MappingProxyType({"Nats-Msg-Id": "halt-requested-h-1"}),
        msg_id="halt-requested-h-1",
        num_delivered=1,
        stream_sequence=3,
        timestamp=datetime.now(UTC),
        stream="OPERATIONS",
        durable="mts1b-audit",
    )


async def test_the_same_delivery_handled_twice_makes_one_entry(bus: Bus, chain: AuditChain) -> None:
    recorder = AuditRecorder(bus, chain)
    delivery = delivery_of(encode(halt_fact("h-1")))
    await recorder.handle(delivery)
    redelivered = dataclasses.replace(delivery, num_delivered=2)
    await recorder.handle(redelivered)
    [entry] = await chain.entries()
    assert entry.subject_id == "h-1"
    assert len(await chain.get_trail("h-1")) == 1


async def test_facts_published_on_nats_are_recorded_in_order(
    bus: Bus, chain: AuditChain, start_recorder: StartRecorder
) -> None:
    await start_recorder()
    for n in range(3):
        await bus.publish(subjects.halt_requested(), halt_fact(f"h-{n}"), msg_id=f"halt-{n}")
    # Published again within the duplicate window: JetStream keeps one, the chain too.
    await bus.publish(subjects.halt_requested(), halt_fact("h-0"), msg_id="halt-0")
    entries = await entries_once(chain, 3)
    assert [e.subject_id for e in entries] == ["h-0", "h-1", "h-2"]
    assert all(e.action == "halt.requested" for e in entries)


async def test_an_undecodable_fact_is_recorded_raw(
    bus: Bus, chain: AuditChain, start_recorder: StartRecorder
) -> None:
    await start_recorder()
    await bus.publish(subjects.watchdog_alert("news"), b"\x00\xffgarbage", msg_id="garbage-1")
    [entry] = await entries_once(chain, 1)
    assert entry.action == "watchdog.news"
    assert entry.actor == "publisher:operations"
    assert base64.b64decode(entry.data["raw"]) == b"\x00\xffgarbage"
    assert entry.data["error"].startswith("not JSON")


async def test_a_fact_too_big_for_an_entry_is_recorded_by_digest(
    bus: Bus, chain: AuditChain, start_recorder: StartRecorder
) -> None:
    await start_recorder()
    body = (
        encode(halt_fact("h-big", reason="r" * 8000))[:-1] + b', "notes": "' + b"n" * MAX_DATA_BYTES + b'"}'
    )
    await bus.publish(subjects.halt_requested(), body, msg_id="halt-big")
    [entry] = await entries_once(chain, 1)
    assert entry.subject_id == "h-big"
    assert entry.data["raw_sha256"] == hashlib.sha256(body).hexdigest()
    assert "data" in entry.data["error"]


async def test_extra_subjects_are_recorded_from_their_own_stream(
    bus: Bus, chain: AuditChain, start_recorder: StartRecorder
) -> None:
    recorder = await start_recorder(extra_subjects=("mts.v1.oms.order.*",))
    assert sorted(c.spec.durable for c in recorder.consumers) == ["mts1b-audit", "mts1b-audit-OMS"]
    order = OrderEvent(
        event="filled",
        event_id="ev-1",
        order_id="ord-abc",
        fund_id="paper-momentum",
        symbol="AAPL",
        side="buy",
        quantity=Decimal("10"),
        order_type="market",
        fill_quantity=Decimal("10"),
        fill_price=Decimal("187.25"),
        ts=datetime.now(UTC),
    )
    await bus.publish(subjects.oms_order("filled"), order, msg_id="ev-1")
    [entry] = await entries_once(chain, 1)
    assert (entry.actor, entry.action, entry.subject_id) == ("service:oms", "oms.order.filled", "ord-abc")
    assert entry.data["fill_price"] == "187.25"
