"""Postgres is the truth: halts survive a manager restart, a NATS outage and a lost or edited bucket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from nats.js.errors import KeyNotFoundError

from mts1b_operations.client import HaltGate
from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import MSG_ID_HEADER, Bus, connect_bus
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.outbox import OutboxRelay
from mts1b_operations.core.settings import SettingsError
from mts1b_operations.core.testing import EmbeddedNats, EmbeddedPostgres, eventually, stream_messages
from mts1b_operations.halt import BUCKET, HaltManager, HaltRequest, kv_key
from mts1b_operations.halt.adapters.kv import read_bucket

from .conftest import LIVE, ODD, PAPER, Operators, Received

REQUESTED = subjects.halt_requested()


def fund_halt(fund_id: str = PAPER) -> HaltRequest:
    return HaltRequest(
        severity="FUND_HALT", fund_id=fund_id, reason="drawdown", requested_by="mts1b-riskengine"
    )


async def bucket(bus: Bus) -> dict[str, str]:
    """Live keys of the bucket -> the halt id in their value."""
    entries = await read_bucket(bus, await bus.js.key_value(BUCKET))
    return {key: schemas.decode(value, schemas.HaltRequested).halt_id for key, value in entries.items()}


async def published_ids(bus: Bus, stream: str = "OPERATIONS") -> list[str]:
    return [(msg.headers or {})[MSG_ID_HEADER] for msg in await stream_messages(bus, stream)]


async def test_a_new_manager_on_the_same_database_keeps_every_halt(
    halt_db: str, nats_url: str, bus: Bus, funds: FundsRegistry, operator: Operators
) -> None:
    alice = await operator("alice")
    async with HaltManager(halt_db, nats_url, funds=funds, run_relay=False) as first:
        fund = await first.request(fund_halt())
        strategy = await first.request(
            HaltRequest(
                severity="STRATEGY_HALT", strategy_id="stat-arb-1", reason="drift", requested_by="svc"
            )
        )
        odd = await first.request(fund_halt(ODD))
        lifted = await first.request(fund_halt(LIVE))
        await first.resume(fund_id=LIVE, cosigned_by=alice)
        before = await first.list_active()
    assert [h.halt_id for h in before] == [fund.halt_id, strategy.halt_id, odd.halt_id]

    # NATS loses the bucket while no manager runs.
    await bus.js.delete_key_value(BUCKET)

    async with HaltManager(halt_db, nats_url, funds=funds, run_relay=False) as second:
        assert await second.list_active() == before
        assert (await second.status(fund_id=PAPER)).halts == [fund]
        assert (await second.status(strategy_id="stat-arb-1")).halts == [strategy]
        assert not (await second.status(fund_id=LIVE)).halted
        assert (await second.get(lifted.halt_id)) is not None
        # Start-up reconciled the bucket from Postgres.
        assert await bucket(bus) == {kv_key(h.scope): h.halt_id for h in before}


@pytest_asyncio.fixture
async def outage_bus(restartable_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    bus = await connect_bus(restartable_nats.url, name="halt-outage-tests", connect_deadline=10)
    try:
        yield bus
    finally:
        await bus.close()


async def stop_nats(server: EmbeddedNats, *buses: Bus) -> None:
    await asyncio.to_thread(server.stop)

    async def all_down() -> bool:
        return not any(b.is_connected for b in buses)

    await eventually(all_down, what="the clients to notice NATS is gone")


async def start_nats(server: EmbeddedNats, *buses: Bus) -> None:
    await asyncio.to_thread(server.start)

    async def all_up() -> bool:
        return all(b.is_connected for b in buses)

    await eventually(all_up, within=30, what="the clients to reconnect")


async def test_nats_down_during_a_request_then_the_relay_publishes_it_once(
    restartable_nats: EmbeddedNats, outage_bus: Bus, pool: asyncpg.Pool, funds: FundsRegistry
) -> None:
    manager = HaltManager(pool=pool, bus=outage_bus, funds=funds, run_relay=False)
    await manager.start()
    assert manager.nats_synced
    await stop_nats(restartable_nats, outage_bus)

    started = time.monotonic()
    halt = await manager.request(fund_halt())
    # Returns without waiting out NATS (its publish deadline is far longer): stored, not published.
    assert time.monotonic() - started < 5
    assert await manager.list_active() == [halt]
    waiting = await pool.fetch("SELECT event_id, subject FROM outbox ORDER BY id")
    assert [r["event_id"] for r in waiting] == [f"{halt.halt_id}:kv:put", f"{halt.halt_id}:requested"]
    await manager.close()  # the process that asked is gone; the service's relay takes over

    await start_nats(restartable_nats, outage_bus)
    relay = OutboxRelay(pool, outage_bus, source="halt", poll_interval=0.05)
    await relay.start()
    try:

        async def drained() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM outbox") == 0)

        await eventually(drained, within=30, what="the relay to publish the halt")
        assert await relay.relay_once() == 0
    finally:
        await relay.stop()
    assert await published_ids(outage_bus) == [f"{halt.halt_id}:requested"]
    assert await bucket(outage_bus) == {f"fund.{PAPER}": halt.halt_id}


async def test_a_live_manager_catches_up_after_an_outage_and_the_gate_follows(
    restartable_nats: EmbeddedNats,
    outage_bus: Bus,
    pool: asyncpg.Pool,
    funds: FundsRegistry,
    operator: Operators,
) -> None:
    alice = await operator("alice")
    manager = HaltManager(pool=pool, bus=outage_bus, funds=funds, run_relay=False)
    await manager.start()
    lifted = await manager.request(fund_halt(LIVE))
    gate = HaltGate(restartable_nats.url, max_staleness=1.0)
    assert await gate.start(wait=10)
    assert not gate.allows(LIVE)
    relay = OutboxRelay(pool, outage_bus, source="halt", poll_interval=0.05)
    await relay.start()  # a service relay running beside the manager's fast path
    try:
        await stop_nats(restartable_nats, outage_bus)
        halt = await manager.request(fund_halt())
        await manager.resume(fund_id=LIVE, cosigned_by=alice)
        await gate.wait_for(lambda g: not g.fresh, timeout=10)
        decision = gate.allows(LIVE)
        assert not decision
        assert decision.stale
        assert decision.reason.startswith("halt state stale: no contact with NATS for ")

        await start_nats(restartable_nats, outage_bus)

        async def drained() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM outbox") == 0)

        await eventually(drained, within=30, what="the outbox to drain")
        await gate.wait_for(lambda g: g.fresh and not g.allows(PAPER) and bool(g.allows(LIVE)), timeout=30)
        blocking = gate.allows(PAPER).halt
        assert blocking is not None
        assert blocking.halt_id == halt.halt_id
    finally:
        await gate.stop()
        await relay.stop()
        await manager.close()
    ids = await published_ids(outage_bus)
    assert sorted(ids) == sorted(
        [f"{lifted.halt_id}:requested", f"{halt.halt_id}:requested", f"{lifted.halt_id}:resumed"]
    )
    assert await bucket(outage_bus) == {f"fund.{PAPER}": halt.halt_id}


async def test_reconcile_repairs_an_edited_bucket(manager: HaltManager, bus: Bus) -> None:
    kept = await manager.request(fund_halt())
    dropped = await manager.request(fund_halt(LIVE))
    edited = await manager.request(
        HaltRequest(severity="STRATEGY_HALT", strategy_id="mom-us-eq", reason="x", requested_by="svc")
    )
    kv = await bus.js.key_value(BUCKET)
    await kv.put("fund.ghost", b'{"not": "a halt"}')
    await kv.delete(kv_key(dropped.scope))
    await kv.put(kv_key(edited.scope), b"garbage")

    report = await manager.reconcile_kv()

    assert sorted(report.put) == sorted([kv_key(dropped.scope), kv_key(edited.scope)])
    assert report.deleted == ["fund.ghost"]
    assert report.unchanged == 1
    assert await bucket(bus) == {kv_key(h.scope): h.halt_id for h in (kept, dropped, edited)}
    again = await manager.reconcile_kv()
    assert (again.put, again.deleted, again.unchanged) == ([], [], 3)
    with pytest.raises(KeyNotFoundError):
        await kv.get("fund.ghost")


async def test_a_manager_configured_from_the_environment(
    halt_db: str, nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, received: Received
) -> None:
    monkeypatch.setenv("MTS_DATABASE_URL", halt_db)
    monkeypatch.setenv("MTS_NATS_URL", nats_url)
    monkeypatch.delenv("MTS_FUNDS_FILE", raising=False)
    with pytest.raises(SettingsError, match=r"^MTS_FUNDS_FILE: is required"):
        await HaltManager().start()

    funds_file = tmp_path / "funds.yaml"
    funds_file.write_text(
        "funds:\n  - fund_id: paper-momentum\n    mode: paper\n    strategies: [mom-us-eq]\n"
    )
    monkeypatch.setenv("MTS_FUNDS_FILE", str(funds_file))
    async with HaltManager() as manager:  # its own pool, bus and relay
        halt = await manager.request(fund_halt())
        await received.wait_count(REQUESTED, 1)
        assert received.msg_ids(REQUESTED) == [f"{halt.halt_id}:requested"]
        assert [f.fund_id for f in manager.funds] == [PAPER]


async def test_a_bucket_lost_while_running_is_rebuilt(
    manager: HaltManager, bus: Bus, received: Received
) -> None:
    before = await manager.request(fund_halt(LIVE))
    await bus.js.delete_key_value(BUCKET)

    halt = await manager.request(fund_halt())  # its KV put finds no bucket; the manager notices

    async def rebuilt() -> bool:
        try:
            return await bucket(bus) == {f"fund.{LIVE}": before.halt_id, f"fund.{PAPER}": halt.halt_id}
        except Exception as exc:
            if type(exc).__name__ == "BucketNotFoundError":
                return False
            raise

    await eventually(rebuilt, within=20, what="the bucket to be rebuilt with both halts")
    await received.wait_count(REQUESTED, 2)
    assert sorted(received.msg_ids(REQUESTED)) == sorted(
        [f"{before.halt_id}:requested", f"{halt.halt_id}:requested"]
    )


async def test_postgres_restarts_are_waited_out(
    restartable_postgres: EmbeddedPostgres, bus: Bus, funds: FundsRegistry
) -> None:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade_all, dsn, ["halt"])
    async with HaltManager(dsn, funds=funds, bus=bus, run_relay=False, db_retry=30) as manager:
        first = await manager.request(fund_halt())
        await asyncio.to_thread(restartable_postgres.stop)
        # Asked while Postgres is down: the call waits, and lands once Postgres is back.
        pending = asyncio.create_task(manager.request(fund_halt(LIVE)))
        done, _ = await asyncio.wait({pending}, timeout=1.0)
        assert not done  # still waiting for Postgres, not failed
        await asyncio.to_thread(restartable_postgres.start)
        second = await asyncio.wait_for(pending, 30)
        assert [h.halt_id for h in await manager.list_active()] == [first.halt_id, second.halt_id]
        assert await bucket(bus) == {f"fund.{PAPER}": first.halt_id, f"fund.{LIVE}": second.halt_id}
