"""The alert tracker on a real Postgres: persisted state, redeliveries skipped, the alert view."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from mts1b_operations.core.db import discover_migrations, downgrade
from mts1b_operations.core.testing import eventually
from mts1b_operations.halt.alerts import AlertTracker, StreamPosition
from mts1b_operations.halt.policy import AlertTrack

T0 = datetime(2025, 3, 1, 14, 30, tzinfo=UTC)


def state(consecutive: int, *, acted: tuple[str, ...] = (), subject: str = "paper-momentum") -> AlertTrack:
    firing = consecutive > 0
    return AlertTrack(
        watchdog="vol_dd",
        subject_id=subject,
        firing=firing,
        consecutive=consecutive,
        acted=acted,
        alert_id=f"a-{consecutive}",
        message="vol above target",
        value=0.3,
        threshold=0.2,
        fired_at=T0,
        since=T0 if firing else None,
    )


def at(seq: int, *, stream: str = "OPERATIONS", seconds: int | None = None) -> StreamPosition:
    return StreamPosition(stream, seq, T0 + timedelta(seconds=seq if seconds is None else seconds))


async def apply(pool: asyncpg.Pool, tracker: AlertTracker, new: AlertTrack, position: StreamPosition) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        _, fresh = await tracker.lock(conn, new.watchdog, new.subject_id, position)
        if fresh:
            await tracker.save(conn, new, position)
        return fresh


async def test_state_is_stored_and_read_back_and_the_view_answers_from_it(pool: asyncpg.Pool) -> None:
    tracker = AlertTracker(pool)
    assert await tracker.is_firing("vol_dd", "paper-momentum") is False
    assert await apply(pool, tracker, state(2, acted=("portfolio_vol_dd",)), at(5))
    # A new tracker (a restarted service) sees the same.
    again = AlertTracker(pool)
    assert await again.get("vol_dd", "paper-momentum") == state(2, acted=("portfolio_vol_dd",))
    assert await again.is_firing("vol_dd", "paper-momentum") is True
    assert await again.is_firing("vol_dd", "other-fund") is False
    assert [s.subject_id for s in await again.firing()] == ["paper-momentum"]
    assert await again.firing(["strategy"]) == []
    assert await apply(pool, tracker, state(0), at(6))
    assert await again.is_firing("vol_dd", "paper-momentum") is False
    assert await again.firing() == []


async def test_a_redelivered_or_older_message_is_not_applied_twice(pool: asyncpg.Pool) -> None:
    tracker = AlertTracker(pool)
    assert await apply(pool, tracker, state(1), at(10))
    assert not await apply(pool, tracker, state(2), at(10)), "the same message applied twice"
    assert not await apply(pool, tracker, state(2), at(9)), "an older message applied after a newer one"
    assert (await tracker.get("vol_dd", "paper-momentum")) == state(1)
    assert await apply(pool, tracker, state(2), at(11))
    # A recreated stream starts its sequence over, with later store times: applied.
    assert await apply(pool, tracker, state(3), at(1, seconds=100))
    assert (await tracker.get("vol_dd", "paper-momentum")) == state(3)


async def test_concurrent_first_alerts_of_a_pair_are_serialised(pool: asyncpg.Pool) -> None:
    tracker = AlertTracker(pool)

    async def second() -> AlertTrack | None:
        async with pool.acquire() as conn, conn.transaction():
            previous, _ = await tracker.lock(conn, "vol_dd", "paper-momentum", at(2))
            count = 1 if previous is None else previous.consecutive + 1
            await tracker.save(conn, state(count), at(2))
            return previous

    async def second_is_waiting() -> bool:
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        return bool(waiting)

    async with pool.acquire() as conn, conn.transaction():
        previous, _ = await tracker.lock(conn, "vol_dd", "paper-momentum", at(1))
        assert previous is None
        other = asyncio.create_task(second())
        await eventually(second_is_waiting, what="the second alert to wait for the pair's lock")
        await tracker.save(conn, state(1), at(1))
    seen_by_second = await other
    assert seen_by_second == state(1), "the second alert did not see the first one's state"
    assert (await tracker.get("vol_dd", "paper-momentum")) == state(2)


async def test_lock_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await AlertTracker(pool).lock(conn, "vol_dd", "x", at(1))


async def test_the_table_check_refuses_an_inconsistent_state(pool: asyncpg.Pool) -> None:
    bad = AlertTrack(**{**{f: getattr(state(1), f) for f in state(1).__struct_fields__}, "since": None})
    with pytest.raises(asyncpg.CheckViolationError):
        await apply(pool, AlertTracker(pool), bad, at(1))


async def test_the_migration_downgrades(halt_db: str, pool: asyncpg.Pool) -> None:
    await asyncio.to_thread(downgrade, halt_db, discover_migrations()["halt"], "0002")
    assert await pool.fetchval("SELECT to_regclass('halt_watchdog_alerts')") is None


async def test_acted_rules_are_added_only_within_the_same_firing_episode(pool: asyncpg.Pool) -> None:
    tracker = AlertTracker(pool)
    episode = state(1)
    assert await apply(pool, tracker, episode, at(1))
    async with pool.acquire() as conn, conn.transaction():
        marked = await tracker.mark_acted(conn, episode, ["b_rule", "a_rule"])
        again = await tracker.mark_acted(conn, episode, ["a_rule"])
    assert marked is not None
    assert again is not None
    assert again.acted == ("a_rule", "b_rule")
    # Resolved meanwhile: a late mark of the old episode changes nothing.
    assert await apply(pool, tracker, state(0), at(2))
    async with pool.acquire() as conn, conn.transaction():
        assert await tracker.mark_acted(conn, episode, ["c_rule"]) is None
    assert (await tracker.get("vol_dd", "paper-momentum")) == state(0)
