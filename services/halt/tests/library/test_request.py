"""request(): stored, mirrored into KV, published; validated; idempotent even under concurrency."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest
from nats.js.errors import KeyNotFoundError

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.halt import BUCKET, HaltManager, HaltRequest, HaltValidationError, kv_key

from .conftest import LIVE, ODD, PAPER, Operators, Received

REQUESTED = subjects.halt_requested()


def fund_halt(fund_id: str = PAPER, **fields: object) -> HaltRequest:
    base: dict[str, object] = {
        "severity": "FUND_HALT",
        "fund_id": fund_id,
        "reason": "daily PL -3.2% breached -3.0%",
        "requested_by": "mts1b-riskengine",
    }
    base.update(fields)
    return HaltRequest(**base)  # type: ignore[arg-type]


async def kv_halt(bus: Bus, scope: str) -> schemas.HaltRequested | None:
    kv = await bus.js.key_value(BUCKET)
    try:
        entry = await kv.get(kv_key(scope))
    except KeyNotFoundError:
        return None
    assert entry.value is not None
    return schemas.decode(entry.value, schemas.HaltRequested)


async def test_a_request_is_stored_mirrored_and_published(
    manager: HaltManager, bus: Bus, received: Received, pool: asyncpg.Pool
) -> None:
    halt = await manager.request(fund_halt(mode="block_new"))

    assert (halt.scope, halt.severity, halt.mode, halt.fund_id) == (
        f"fund.{PAPER}",
        "FUND_HALT",
        "block_new",
        PAPER,
    )
    assert halt.active
    assert halt.request_count == 1
    assert halt.requested_by == "mts1b-riskengine"
    assert await manager.get(halt.halt_id) == halt
    assert await manager.list_active() == [halt]

    mirrored = await kv_halt(bus, halt.scope)
    assert mirrored is not None
    assert (mirrored.halt_id, mirrored.mode, mirrored.fund_id) == (halt.halt_id, "block_new", PAPER)

    await received.wait_count(REQUESTED, 1)
    assert received.msg_ids(REQUESTED) == [f"{halt.halt_id}:requested"]
    (event,) = received.requested()
    assert (event.halt_id, event.reason, event.requested_at) == (halt.halt_id, halt.reason, halt.requested_at)
    # The fast path published it: nothing is left for the relay.
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_strategy_halt_is_filed_under_its_fund(manager: HaltManager, bus: Bus) -> None:
    halt = await manager.request(
        HaltRequest(
            severity="STRATEGY_HALT", strategy_id="stat-arb-1", reason="drift", requested_by="watchdog:drift"
        )
    )
    assert (halt.fund_id, halt.strategy_id, halt.scope) == (LIVE, "stat-arb-1", "strategy.stat-arb-1")
    mirrored = await kv_halt(bus, "strategy.stat-arb-1")
    assert mirrored is not None
    assert mirrored.fund_id == LIVE


async def test_ids_a_kv_key_cannot_hold_are_escaped(manager: HaltManager, bus: Bus) -> None:
    halt = await manager.request(fund_halt(ODD))
    kv = await bus.js.key_value(BUCKET)
    entry = await kv.get("fund.desk=3Aeu=401")
    assert entry.value is not None
    assert schemas.decode(entry.value, schemas.HaltRequested).halt_id == halt.halt_id


async def test_bad_requests_are_refused_naming_the_field_and_recorded(
    manager: HaltManager, pool: asyncpg.Pool, received: Received
) -> None:
    with pytest.raises(HaltValidationError) as unknown:
        await manager.request(fund_halt("ghost-fund"))
    assert unknown.value.field == "fund_id"
    assert "unknown fund 'ghost-fund'" in str(unknown.value)
    with pytest.raises(HaltValidationError, match=r"^mode: flatten closes positions"):
        await manager.request(fund_halt(LIVE, mode="flatten", requested_by="operator:alice"))
    with pytest.raises(HaltValidationError, match=r"^reason: is required"):
        await manager.request(fund_halt(reason=""))

    assert await manager.list_active() == []
    assert await pool.fetchval("SELECT count(*) FROM halts") == 0
    refusals = await manager.refusals()
    assert [(r.action, r.field, r.requested_by) for r in refusals] == [
        ("request", "reason", "mts1b-riskengine"),
        ("request", "mode", "operator:alice"),
        ("request", "fund_id", "mts1b-riskengine"),
    ]
    assert received.of(REQUESTED) == []


async def test_a_second_request_returns_the_halt_in_force_and_is_recorded(
    manager: HaltManager, received: Received, pool: asyncpg.Pool
) -> None:
    first = await manager.request(fund_halt())
    second = await manager.request(
        fund_halt(reason="NAV feed stale", requested_by="watchdog:health", mode="flatten")
    )

    assert second.halt_id == first.halt_id
    assert second.request_count == 2
    assert second.mode == first.mode == "cancel_open"  # the halt in force is returned as it is
    assert await pool.fetchval("SELECT count(*) FROM halts") == 1
    requests = await manager.requests(first.halt_id)
    assert [(r.request_no, r.requested_by, r.reason, r.mode) for r in requests] == [
        (1, "mts1b-riskengine", first.reason, "cancel_open"),
        (2, "watchdog:health", "NAV feed stale", "flatten"),
    ]
    await received.wait_count(REQUESTED, 2)
    assert received.msg_ids(REQUESTED) == [f"{first.halt_id}:requested", f"{first.halt_id}:requested:2"]
    repeat = msgspec.json.decode(received.of(REQUESTED)[1].data)
    assert (repeat["halt_id"], repeat["request_no"], repeat["requested_by"]) == (
        first.halt_id,
        2,
        "watchdog:health",
    )


async def test_a_hundred_concurrent_identical_requests_make_one_halt(
    manager: HaltManager, bus: Bus, received: Received, pool: asyncpg.Pool
) -> None:
    halts = await asyncio.gather(*(manager.request(fund_halt(requested_by=f"svc-{i}")) for i in range(100)))

    assert len({h.halt_id for h in halts}) == 1
    (halt_id,) = {h.halt_id for h in halts}
    assert await pool.fetchval("SELECT count(*) FROM halts") == 1
    assert await pool.fetchval("SELECT request_count FROM halts") == 100
    numbers = await pool.fetch("SELECT request_no FROM halt_requests WHERE halt_id = $1 ORDER BY 1", halt_id)
    assert [r["request_no"] for r in numbers] == list(range(1, 101))
    await received.wait_count(REQUESTED, 100)
    assert sorted(received.msg_ids(REQUESTED)) == sorted(
        [f"{halt_id}:requested"] + [f"{halt_id}:requested:{n}" for n in range(2, 101)]
    )
    # One KV put only: the bucket's stream holds one message for the key.
    info = await bus.js.stream_info(f"KV_{BUCKET}")
    assert info.state.messages == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_new_halt_after_a_resume_is_a_new_halt(
    manager: HaltManager, operator: Operators, bus: Bus
) -> None:
    first = await manager.request(fund_halt())
    await manager.resume(fund_id=PAPER, cosigned_by=await operator("alice"))
    second = await manager.request(fund_halt())
    assert second.halt_id != first.halt_id
    assert second.request_count == 1
    mirrored = await kv_halt(bus, second.scope)
    assert mirrored is not None
    assert mirrored.halt_id == second.halt_id
    history = await manager.history()
    assert [h.halt_id for h in history] == [second.halt_id, first.halt_id]
    assert [h.active for h in history] == [True, False]
