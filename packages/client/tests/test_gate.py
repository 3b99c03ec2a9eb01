"""HaltGate against a real NATS KV bucket written in the halt service's format (key per scope,
``HaltRequested`` JSON value): the view, the modes, fail-closed staleness, recovery, speed."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from nats.js.kv import KeyValue

from mts1b_operations.client import HALT_BUCKET, GateDecision, HaltGate, halt_key
from mts1b_operations.core import schemas
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.schemas import HaltMode, HaltRequested
from mts1b_operations.core.testing import EmbeddedNats

STALE = re.compile(r"^halt state stale: no contact with NATS for \d+\.\d s \(bound 1 s\)")


def halt(key: str, mode: HaltMode = "cancel_open", halt_id: str | None = None) -> HaltRequested:
    kind, _, ident = key.partition(".")
    severity = {"firm": "FIRM_HALT", "fund": "FUND_HALT", "strategy": "STRATEGY_HALT"}[kind]
    return HaltRequested(
        halt_id=halt_id or f"h-{key}",
        severity=severity,  # type: ignore[arg-type]
        mode=mode,
        fund_id=None if kind == "firm" else (ident if kind == "fund" else "fund-b"),
        strategy_id=ident if kind == "strategy" else None,
        reason=f"test halt of {key}",
        requested_by="operator:alice",
        requested_at=datetime.now(UTC),
    )


async def put(kv: KeyValue, key: str, mode: HaltMode = "cancel_open") -> HaltRequested:
    value = halt(key, mode)
    await kv.put(key, schemas.encode(value))
    return value


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    bus = await connect_bus(nats_url, name="gate-tests", connect_deadline=10)
    try:
        yield bus
    finally:
        await bus.close()


@pytest_asyncio.fixture
async def kv(bus: Bus) -> KeyValue:
    return await bus.kv(HALT_BUCKET, history=1)


@pytest_asyncio.fixture
async def gate(nats_url: str, kv: KeyValue) -> AsyncIterator[HaltGate]:
    # A stale gate refuses everything: tests of the view must not go stale on a loaded machine
    # (a second without an answer from NATS), or a wait for a refusal is met by the staleness.
    # It still checks its watch as often as a gate of 1 s would.
    gate = HaltGate(nats_url, max_staleness=10.0, check_interval=0.25)
    try:
        yield gate
    finally:
        await gate.stop()


async def test_the_view_follows_the_bucket(gate: HaltGate, kv: KeyValue) -> None:
    fund_a = await put(kv, "fund.fund-a")
    assert await gate.start(wait=10)
    seen: list[tuple[str, str | None]] = []
    gate.add_listener(lambda key, h: seen.append((key, h.halt_id if h else None)))

    blocked = gate.allows("fund-a")
    assert not blocked
    assert blocked.halt == fund_a
    assert blocked.scope == "fund.fund-a"
    assert "FUND_HALT h-fund.fund-a on fund.fund-a (cancel_open)" in blocked.reason
    assert not gate.allows("fund-a", "any-strategy")
    assert gate.allows("fund-b") == GateDecision(True, "no halt in force")

    strategy = await put(kv, "strategy.strat-1")
    await gate.wait_for(lambda g: not g.allows("fund-b", "strat-1"), timeout=15)
    assert gate.allows("fund-b", "strat-1").halt == strategy
    assert gate.allows("fund-b", "strat-2")
    assert gate.allows("fund-b")

    await kv.delete("fund.fund-a")
    await gate.wait_for(lambda g: bool(g.allows("fund-a")), timeout=15)
    assert seen == [("strategy.strat-1", "h-strategy.strat-1"), ("fund.fund-a", None)]
    assert gate.halts() == {"strategy.strat-1": strategy}


async def test_the_firm_halt_answers_first(gate: HaltGate, kv: KeyValue) -> None:
    await put(kv, "fund.fund-a")
    await put(kv, "strategy.strat-1")
    firm = await put(kv, "firm", "block_new")
    assert await gate.start(wait=10)
    for fund, strategy in (("fund-a", "strat-1"), ("fund-z", None), ("fund-a", None)):
        decision = gate.allows(fund, strategy)
        assert not decision
        assert decision.halt == firm
        assert decision.scope == "firm"


@pytest.mark.parametrize(
    ("mode", "risk_reducing"), [("block_new", True), ("cancel_open", True), ("flatten", False)]
)
async def test_what_each_mode_lets_through(
    gate: HaltGate, kv: KeyValue, mode: HaltMode, risk_reducing: bool
) -> None:
    await put(kv, "fund.fund-a", mode)
    assert await gate.start(wait=10)
    assert not gate.allows("fund-a")
    assert gate.allows_cancel("fund-a")
    reducing = gate.allows_risk_reducing("fund-a")
    assert bool(reducing) is risk_reducing
    assert reducing.halt is not None
    assert reducing.halt.mode == mode
    assert gate.allows_risk_reducing("fund-b") == GateDecision(True, "no halt in force")


async def test_an_unreadable_entry_still_halts(gate: HaltGate, kv: KeyValue) -> None:
    await kv.put("fund.fund-a", b"{not json")
    assert await gate.start(wait=10)
    decision = gate.allows("fund-a")
    assert not decision
    assert decision.halt is None
    assert "not a readable halt" in decision.reason
    assert not gate.allows_risk_reducing("fund-a")


async def test_ids_are_escaped_like_the_halt_service_does(gate: HaltGate, kv: KeyValue) -> None:
    assert halt_key("firm") == "firm"
    assert halt_key("fund", "desk:eu@1") == "fund.desk=3Aeu=401"
    assert halt_key("strategy", "s~1=x") == "strategy.s=7E1=3Dx"
    await put(kv, halt_key("fund", "desk:eu@1"))
    assert await gate.start(wait=10)
    assert not gate.allows("desk:eu@1")
    assert gate.allows("desk-eu-1")


async def test_bad_arguments_are_named(gate: HaltGate) -> None:
    with pytest.raises(ValueError, match=r"^fund_id: must be a non-empty string"):
        gate.allows("")
    with pytest.raises(ValueError, match=r"^strategy_id: must be a non-empty string"):
        gate.allows_risk_reducing("fund-a", "")
    with pytest.raises(ValueError, match=r"^max_staleness"):
        HaltGate("nats://127.0.0.1:1", max_staleness=0)
    with pytest.raises(ValueError, match=r"^check_interval"):
        HaltGate("nats://127.0.0.1:1", max_staleness=1, check_interval=2)


async def test_no_bucket_means_closed_until_it_appears(nats_url: str, bus: Bus) -> None:
    gate = HaltGate(nats_url, max_staleness=1.0)
    try:
        assert not await gate.start(wait=1.5)
        decision = gate.allows("fund-a")
        assert not decision
        assert decision.stale
        assert STALE.match(decision.reason)
        assert "KV bucket 'mts_halts' not found" in decision.reason
        assert gate.allows_cancel("fund-a")
        kv = await bus.kv(HALT_BUCKET, history=1)
        await put(kv, "fund.fund-a")
        await gate.wait_for(lambda g: g.fresh, timeout=10)
        assert not gate.allows("fund-a")
        assert gate.allows("fund-b")
    finally:
        await gate.stop()
    assert gate.allows("fund-b").stale  # a stopped gate fails closed


async def test_a_lost_watch_is_rebuilt(gate: HaltGate, kv: KeyValue, bus: Bus) -> None:
    await put(kv, "fund.fund-a")
    assert await gate.start(wait=10)
    current = gate._current
    assert current is not None
    assert current.consumer is not None
    await bus.js.delete_consumer(f"KV_{HALT_BUCKET}", current.consumer)
    await kv.delete("fund.fund-a")
    await put(kv, "fund.fund-b")
    await gate.wait_for(lambda g: g.fresh and g._current is not current, timeout=10)
    assert gate.allows("fund-a")
    assert not gate.allows("fund-b")


async def test_the_gate_fails_closed_while_nats_is_down_and_reopens(restartable_nats: EmbeddedNats) -> None:
    server = restartable_nats
    writer = await connect_bus(server.url, name="gate-writer", connect_deadline=10)
    gate = HaltGate(server.url, max_staleness=1.0)
    try:
        kv = await writer.kv(HALT_BUCKET, history=1)
        await put(kv, "fund.fund-a", "block_new")
        assert await gate.start(wait=10)
        assert gate.allows("fund-b")
        assert gate.allows_risk_reducing("fund-a")

        await asyncio.to_thread(server.stop)
        await gate.wait_for(lambda g: not g.fresh, timeout=10)
        for decision in (gate.allows("fund-b"), gate.allows_risk_reducing("fund-a")):
            assert not decision
            assert decision.stale
            assert STALE.match(decision.reason), decision.reason
        assert gate.age > 1.0
        assert gate.allows_cancel("fund-b")

        await asyncio.to_thread(server.start)
        await gate.wait_for(lambda g: g.fresh, timeout=30)
        assert gate.allows("fund-b")
        assert not gate.allows("fund-a")
        await writer.wait_connected(timeout=30)
        await put(kv, "fund.fund-b")
        await gate.wait_for(lambda g: not g.allows("fund-b"), timeout=10)
    finally:
        await gate.stop()
        await writer.close()


async def test_answers_take_microseconds(gate: HaltGate, kv: KeyValue) -> None:
    for i in range(50):
        await put(kv, f"fund.fund-{i}")
    await put(kv, "strategy.strat-1")
    assert await gate.start(wait=10)
    calls = 100_000
    started = time.perf_counter()
    for i in range(calls):
        gate.allows("fund-x", "strat-2" if i % 2 else None)
    mean = (time.perf_counter() - started) / calls
    assert mean < 20e-6, f"allows() took {mean * 1e6:.2f} µs on average"
    assert not gate.allows("fund-7")
