"""OMS commands owed by a halt survive a restart: recorded in halt_oms_resends, resumed at start-up."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually
from mts1b_operations.halt.manager import HaltManager

from .conftest import FakeOms, StartHaltApp
from .test_faults import FUND_HALT


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT command_id, halt_id, command, payload->>'command_id' AS payload_id, outcome, done_at "
        "FROM halt_oms_resends ORDER BY created_at"
    )


async def _halt_with_nobody_listening(pool: asyncpg.Pool, start_halt_app: StartHaltApp) -> str:
    """Take a cancel_open halt with no OMS listening, then stop the service: its cancel_all is owed."""
    async with start_halt_app() as app:
        response = await app.post("/v1/halts", "alice", FUND_HALT)
        assert response.status_code == 201, response.text
        report = response.json()["oms_command"]
        assert report["outcome"]["no_responders"] is True
        assert app.service.pending_resends == 1
        halt_id: str = response.json()["halt"]["halt_id"]
    [row] = await _rows(pool)
    assert (row["halt_id"], row["command"]) == (halt_id, "cancel_all")
    assert (row["outcome"], row["done_at"]) == (None, None)
    assert row["payload_id"] == row["command_id"] == report["outcome"]["command_id"]
    return halt_id


async def test_an_owed_cancel_all_is_re_sent_after_a_restart_until_a_late_oms_acks_it(
    pool: asyncpg.Pool, start_halt_app: StartHaltApp, fake_oms: FakeOms
) -> None:
    halt_id = await _halt_with_nobody_listening(pool, start_halt_app)
    [owed] = await _rows(pool)

    async with start_halt_app() as app:
        assert app.service.pending_resends == 1
        await fake_oms.start("late-oms", orders=4)

        async def acked() -> bool:
            return bool(fake_oms.received) and app.service.pending_resends == 0

        await eventually(acked, within=30, what="the owed cancel_all re-sent after the restart and acked")
    [(responder, command)] = fake_oms.received
    assert (responder, command.command, command.command_id) == ("late-oms", "cancel_all", owed["command_id"])
    assert (command.halt_id, command.fund_ids) == (halt_id, ["paper-momentum"])
    [row] = await _rows(pool)
    assert row["outcome"] == "acked"
    assert row["done_at"] is not None


async def test_a_halt_lifted_while_the_service_was_down_drops_its_owed_command_at_start_up(
    pool: asyncpg.Pool, bus: Bus, funds_file: Path, start_halt_app: StartHaltApp, fake_oms: FakeOms
) -> None:
    await _halt_with_nobody_listening(pool, start_halt_app)
    async with HaltManager(funds=funds_file, pool=pool, bus=bus, run_relay=False) as manager:
        bob, alice = "operator:bob", "operator:alice"
        await manager.resume(fund_id="paper-momentum", cosigned_by=bob, requested_by=alice, reason="drill")
    await fake_oms.start("oms")

    async with start_halt_app() as app:
        # Start-up has finished: whatever it resumed would be running now.
        assert app.service.pending_resends == 0
        [row] = await _rows(pool)
        assert row["outcome"] == "lifted"
        assert row["done_at"] is not None
    assert fake_oms.received == []


async def test_an_owed_command_past_its_window_is_not_resumed(
    pool: asyncpg.Pool, start_halt_app: StartHaltApp, fake_oms: FakeOms
) -> None:
    await _halt_with_nobody_listening(pool, start_halt_app)
    # Recorded 601 s ago: the default 600 s window is measured from then, not from the restart.
    await pool.execute("UPDATE halt_oms_resends SET created_at = created_at - interval '601 seconds'")
    await fake_oms.start("oms")

    async with start_halt_app() as app:
        assert app.service.pending_resends == 0
        [row] = await _rows(pool)
        assert row["outcome"] == "expired"
        assert [h.scope for h in await app.service.manager.list_active()] == ["fund.paper-momentum"]
    assert fake_oms.received == []


async def test_a_repeated_request_after_a_restart_joins_the_owed_command(
    pool: asyncpg.Pool, start_halt_app: StartHaltApp
) -> None:
    await _halt_with_nobody_listening(pool, start_halt_app)
    async with start_halt_app() as app:
        response = await app.post("/v1/halts", "alice", FUND_HALT)
        assert response.status_code == 200, response.text
        assert app.service.pending_resends == 1
        rows = await _rows(pool)
        assert [r["outcome"] for r in rows] == [None]
