"""A store call that meets asyncpg's pool race after a Postgres restart is retried, not failed.

Found by the chaos soak (tests/chaos): right after Postgres restarts, asyncpg's pool can hand
out a connection its floor maintenance is still reconnecting, and the query fails with
``InternalClientError: cannot switch to state 15; another operation (2) is in progress``. A
resume meeting it answered HTTP 500. The race cannot be produced on demand, so the pool here
raises it once and then passes every call to a real pool on a real Postgres.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from mts1b_operations.halt.adapters.postgres import HaltStore

RACE = "cannot switch to state 15; another operation (2) is in progress"


class RacingPool:
    """A real pool whose first ``fetch`` fails the way asyncpg's does during the race."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.fetches = 0

    async def fetch(self, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        self.fetches += 1
        if self.fetches == 1:
            raise asyncpg.InternalClientError(RACE)
        return await self._pool.fetch(*args, **kwargs)


async def test_a_read_meeting_the_pool_race_is_retried(pool: asyncpg.Pool) -> None:
    racing = RacingPool(pool)
    store = HaltStore(racing, source="mts1b-halt", retry_for=5.0)  # type: ignore[arg-type]

    assert await store.active_in(["fund.paper-momentum"]) == {}
    assert racing.fetches == 2
