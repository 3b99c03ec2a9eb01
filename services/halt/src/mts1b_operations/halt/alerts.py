"""Which watchdog alerts are firing, as the halt service has seen them (table ``halt_watchdog_alerts``).

The watchdog-alerts consumer folds every alert into the row of its (watchdog, subject) pair
inside a transaction (:meth:`AlertTracker.lock` then :meth:`AlertTracker.save`) and, once the
policy's halts are requested, records the rules that acted (:meth:`AlertTracker.mark_acted`),
so the consecutive counts and the rules that acted survive a restart. The tracker is also the halt
library's alert view: :meth:`AlertTracker.is_firing` answers the resume pre-flight check from
Postgres, so every instance of the service gives the same answer.

A redelivered message (same stream, sequence and store time not newer than the last applied) is
recognised and skipped, so the count never grows twice for one alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import asyncpg

from .policy import AlertTrack

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = asyncpg.Connection | PoolConnectionProxy

__all__ = ["AlertTracker", "StreamPosition"]

_COLUMNS: Final = (
    "watchdog, subject_id, firing, consecutive, acted, alert_id, message, value, threshold, fired_at, since"
)
# First key of pg_advisory_xact_lock(int, int) for a (watchdog, subject) pair: the row may not
# exist yet, so FOR UPDATE alone would let two instances both insert the first alert's state.
_PAIR_LOCK_CLASS: Final = 0x6D74_6861  # "mtha"
_LOCK_PAIR: Final = "SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))"
_SELECT_ONE: Final = f"""
SELECT {_COLUMNS}, last_stream, last_sequence, last_stored_at
FROM halt_watchdog_alerts WHERE watchdog = $1 AND subject_id = $2
"""  # noqa: S608 - constants only
_UPSERT: Final = f"""
INSERT INTO halt_watchdog_alerts ({_COLUMNS}, last_stream, last_sequence, last_stored_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (watchdog, subject_id) DO UPDATE SET
    firing = EXCLUDED.firing, consecutive = EXCLUDED.consecutive, acted = EXCLUDED.acted,
    alert_id = EXCLUDED.alert_id, message = EXCLUDED.message, value = EXCLUDED.value,
    threshold = EXCLUDED.threshold, fired_at = EXCLUDED.fired_at, since = EXCLUDED.since,
    last_stream = EXCLUDED.last_stream, last_sequence = EXCLUDED.last_sequence,
    last_stored_at = EXCLUDED.last_stored_at, updated_at = now()
"""  # noqa: S608 - constants only


_MARK_ACTED: Final = f"""
UPDATE halt_watchdog_alerts
SET acted = ARRAY(SELECT DISTINCT unnest(acted || $4::text[]) ORDER BY 1), updated_at = now()
WHERE watchdog = $1 AND subject_id = $2 AND firing AND since = $3
RETURNING {_COLUMNS}
"""  # noqa: S608 - constants only


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where an alert sits in its stream: what tells a redelivery from a new message."""

    stream: str
    sequence: int
    stored_at: datetime

    def is_after(self, other: StreamPosition) -> bool:
        # A recreated stream starts its sequence over, but its messages are stored later.
        if self.stream != other.stream:
            return True
        return self.sequence > other.sequence or self.stored_at > other.stored_at


def _track(row: asyncpg.Record) -> AlertTrack:
    return AlertTrack(
        watchdog=row["watchdog"],
        subject_id=row["subject_id"],
        firing=row["firing"],
        consecutive=row["consecutive"],
        acted=tuple(row["acted"]),
        alert_id=row["alert_id"],
        message=row["message"],
        value=row["value"],
        threshold=row["threshold"],
        fired_at=row["fired_at"],
        since=row["since"],
    )


class AlertTracker:
    """The persisted state of every (watchdog, subject) pair, and the library's alert view."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def lock(
        self, conn: Connection, watchdog: str, subject_id: str, position: StreamPosition
    ) -> tuple[AlertTrack | None, bool]:
        """Lock the pair's row for this transaction; ``(state, fresh)``.

        ``fresh`` is False when the message at ``position`` was applied already (a redelivery).
        """
        if not conn.is_in_transaction():
            raise RuntimeError("AlertTracker.lock must run inside a transaction")
        await conn.execute(_LOCK_PAIR, _PAIR_LOCK_CLASS, watchdog, subject_id)
        row = await conn.fetchrow(_SELECT_ONE, watchdog, subject_id)
        if row is None:
            return None, True
        last = StreamPosition(row["last_stream"], row["last_sequence"], row["last_stored_at"])
        return _track(row), position.is_after(last)

    async def save(self, conn: Connection, state: AlertTrack, position: StreamPosition) -> None:
        """Store the pair's state after the message at ``position`` (same transaction as :meth:`lock`)."""
        await conn.execute(
            _UPSERT,
            state.watchdog,
            state.subject_id,
            state.firing,
            state.consecutive,
            list(state.acted),
            state.alert_id,
            state.message,
            state.value,
            state.threshold,
            state.fired_at,
            state.since,
            position.stream,
            position.sequence,
            position.stored_at,
        )

    async def mark_acted(
        self, conn: Connection, state: AlertTrack, rules: Sequence[str]
    ) -> AlertTrack | None:
        """Add ``rules`` to the rules that acted in ``state``'s firing episode, if it still runs.

        Nothing changes when the pair has resolved or begun a new episode meanwhile.
        """
        row = await conn.fetchrow(_MARK_ACTED, state.watchdog, state.subject_id, state.since, list(rules))
        return None if row is None else _track(row)

    async def get(self, watchdog: str, subject_id: str) -> AlertTrack | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM halt_watchdog_alerts WHERE watchdog = $1 AND subject_id = $2",  # noqa: S608
            watchdog,
            subject_id,
        )
        return None if row is None else _track(row)

    async def firing(self, watchdogs: Sequence[str] = ()) -> list[AlertTrack]:
        """Every pair currently firing (of the given watchdog kinds, or all), oldest episode first."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM halt_watchdog_alerts "  # noqa: S608
            "WHERE firing AND (cardinality($1::text[]) = 0 OR watchdog = ANY($1::text[])) "
            "ORDER BY since, watchdog, subject_id",
            list(watchdogs),
        )
        return [_track(row) for row in rows]

    async def is_firing(self, watchdog: str, subject_id: str) -> bool:
        """Whether the latest alert of ``watchdog`` on ``subject_id`` is a firing one."""
        state = await self.get(watchdog, subject_id)
        return state is not None and state.firing
