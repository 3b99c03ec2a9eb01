"""Postgres adapter of the watchdogs: configuration (``watchdog_config``) and state (``watchdog_state``).

Writes that go with an event take the caller's connection, so the row and the outbox event
commit together; reads and the periodic bookkeeping take the pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Connection = asyncpg.Connection | PoolConnectionProxy

__all__ = ["EvaluationMark", "StoredConfig", "StoredState", "WatchdogStore"]

_JSON_OBJECT: Final = msgspec.json.Decoder(dict[str, Any])
_ENCODE: Final = msgspec.json.Encoder()

# First key of pg_advisory_xact_lock(int, int) serialising changes of one watchdog's config:
# the row may not exist yet, so FOR UPDATE alone would let two requests both start from nothing.
_CONFIG_LOCK_CLASS: Final = 0x6D74_7763  # "mtwc"


@dataclass(frozen=True, slots=True)
class StoredConfig:
    """The parameters an operator set (overrides of the defaults), and who set them last."""

    overrides: dict[str, Any]
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True)
class StoredState:
    status: Literal["running", "paused"] = "running"
    paused_until: datetime | None = None
    paused_by: str | None = None
    pause_reason: str | None = None
    last_value: float | None = None
    last_subject: str | None = None
    last_evaluated_at: datetime | None = None
    last_alert_at: datetime | None = None
    firing: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvaluationMark:
    """The latest evaluation of a watchdog, flushed periodically (not worth a write per evaluation)."""

    name: str
    last_value: float | None
    last_subject: str | None
    last_evaluated_at: datetime


def _config(row: asyncpg.Record) -> StoredConfig:
    return StoredConfig(
        overrides=_JSON_OBJECT.decode(row["params"]),
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


def _state(row: asyncpg.Record) -> StoredState:
    return StoredState(
        status=row["status"],
        paused_until=row["paused_until"],
        paused_by=row["paused_by"],
        pause_reason=row["pause_reason"],
        last_value=row["last_value"],
        last_subject=row["last_subject"],
        last_evaluated_at=row["last_evaluated_at"],
        last_alert_at=row["last_alert_at"],
        firing=_JSON_OBJECT.decode(row["firing"]),
    )


_STATE_COLUMNS: Final = (
    "name, status, paused_until, paused_by, pause_reason, last_value, last_subject, "
    "last_evaluated_at, last_alert_at, firing::text AS firing"
)


class WatchdogStore:
    """Reads and writes of the two tables; every method names the watchdog it touches."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def load_all(self) -> tuple[dict[str, StoredConfig], dict[str, StoredState]]:
        async with self.pool.acquire() as conn:
            configs = await conn.fetch(
                "SELECT name, params::text AS params, updated_at, updated_by FROM watchdog_config"
            )
            states = await conn.fetch(f"SELECT {_STATE_COLUMNS} FROM watchdog_state")  # noqa: S608 - constants
        return {r["name"]: _config(r) for r in configs}, {r["name"]: _state(r) for r in states}

    async def load(self, name: str) -> tuple[StoredConfig | None, StoredState | None]:
        async with self.pool.acquire() as conn:
            config = await conn.fetchrow(
                "SELECT params::text AS params, updated_at, updated_by FROM watchdog_config WHERE name = $1",
                name,
            )
            state = await conn.fetchrow(
                f"SELECT {_STATE_COLUMNS} FROM watchdog_state WHERE name = $1",  # noqa: S608 - constants
                name,
            )
        return (_config(config) if config else None), (_state(state) if state else None)

    @staticmethod
    async def lock_config(conn: Connection, name: str) -> StoredConfig | None:
        """Serialise config changes of ``name`` until the transaction ends; the stored overrides."""
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _CONFIG_LOCK_CLASS, name)
        row = await conn.fetchrow(
            "SELECT params::text AS params, updated_at, updated_by FROM watchdog_config WHERE name = $1", name
        )
        return _config(row) if row else None

    @staticmethod
    async def save_config(
        conn: Connection, name: str, overrides: Mapping[str, Any], actor: str
    ) -> StoredConfig:
        row = await conn.fetchrow(
            """
            INSERT INTO watchdog_config (name, params, updated_at, updated_by)
            VALUES ($1, $2::jsonb, now(), $3)
            ON CONFLICT (name) DO UPDATE
                SET params = EXCLUDED.params, updated_at = EXCLUDED.updated_at,
                    updated_by = EXCLUDED.updated_by
            RETURNING params::text AS params, updated_at, updated_by
            """,
            name,
            _ENCODE.encode(dict(overrides)).decode(),
            actor,
        )
        assert row is not None
        return _config(row)

    @staticmethod
    async def set_pause(
        conn: Connection, name: str, *, until: datetime | None, actor: str | None, reason: str | None = None
    ) -> StoredState:
        """Pause ``name`` until ``until``, or resume it (``until`` None)."""
        row = await conn.fetchrow(
            f"""
            INSERT INTO watchdog_state (name, status, paused_until, paused_by, pause_reason, updated_at)
            VALUES ($1, CASE WHEN $2::timestamptz IS NULL THEN 'running' ELSE 'paused' END, $2, $3, $4, now())
            ON CONFLICT (name) DO UPDATE SET
                status = EXCLUDED.status, paused_until = EXCLUDED.paused_until,
                paused_by = EXCLUDED.paused_by, pause_reason = EXCLUDED.pause_reason, updated_at = now()
            RETURNING {_STATE_COLUMNS}
            """,  # noqa: S608 - constants
            name,
            until,
            actor,
            reason,
        )
        assert row is not None
        return _state(row)

    @staticmethod
    async def save_alerting(
        conn: Connection,
        name: str,
        *,
        firing: Mapping[str, Any],
        last_value: float | None,
        last_subject: str | None,
        evaluated_at: datetime,
        alerted_at: datetime | None,
    ) -> None:
        """The firing subjects and latest evaluation, in the transaction that enqueues the alerts."""
        await conn.execute(
            """
            INSERT INTO watchdog_state
                (name, firing, last_value, last_subject, last_evaluated_at, last_alert_at, updated_at)
            VALUES ($1, $2::jsonb, $3, $4, $5, $6, now())
            ON CONFLICT (name) DO UPDATE SET
                firing = EXCLUDED.firing, last_value = EXCLUDED.last_value,
                last_subject = EXCLUDED.last_subject, last_evaluated_at = EXCLUDED.last_evaluated_at,
                last_alert_at = COALESCE(EXCLUDED.last_alert_at, watchdog_state.last_alert_at),
                updated_at = now()
            """,
            name,
            _ENCODE.encode(dict(firing)).decode(),
            last_value,
            last_subject,
            evaluated_at,
            alerted_at,
        )

    async def mark_evaluations(self, marks: Iterable[EvaluationMark]) -> None:
        """Record the latest evaluation of several watchdogs at once (never moving one backwards)."""
        rows = [(m.name, m.last_value, m.last_subject, m.last_evaluated_at) for m in marks]
        if not rows:
            return
        await self.pool.executemany(
            """
            INSERT INTO watchdog_state (name, last_value, last_subject, last_evaluated_at, updated_at)
            VALUES ($1, $2, $3, $4, now())
            ON CONFLICT (name) DO UPDATE SET
                last_value = EXCLUDED.last_value, last_subject = EXCLUDED.last_subject,
                last_evaluated_at = EXCLUDED.last_evaluated_at, updated_at = now()
            WHERE watchdog_state.last_evaluated_at IS NULL
               OR watchdog_state.last_evaluated_at <= EXCLUDED.last_evaluated_at
            """,
            rows,
        )

    async def expire_pauses(self) -> list[str]:
        """Turn pauses whose time is up back into running; the watchdogs that resumed."""
        rows = await self.pool.fetch(
            """
            UPDATE watchdog_state
            SET status = 'running', paused_until = NULL, paused_by = NULL, pause_reason = NULL,
                updated_at = now()
            WHERE status = 'paused' AND paused_until <= now()
            RETURNING name
            """
        )
        return [row["name"] for row in rows]
