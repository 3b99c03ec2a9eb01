"""The halt tables in Postgres, the source of truth, and the events each change commits with.

A request inserts the halt, or, when its scope already has one in force (the partial unique
index ``halts_one_active_per_scope`` decides, even between concurrent transactions), joins
it; either way the request is recorded in ``halt_requests``. The outbox rows written in the same
transaction carry the KV put/delete and the ``halt.requested`` / ``halt.resumed`` events.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import asyncpg
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from mts1b_operations.core import subjects
from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.operators import get_operator, is_registered_operator, name_of_actor
from mts1b_operations.core.outbox import enqueue

from ..domain import (
    ActorCheck,
    Halt,
    Refusal,
    RefusalAction,
    RequestRecord,
    ValidRequest,
    check_actor_is_operator,
    refused_event,
    requested_event,
    requested_msg_id,
    resumed_event,
    resumed_msg_id,
)
from .kv import enqueue_delete, enqueue_put

__all__ = ["HaltStore", "RecordedRequest", "check_operator"]

log = logging.getLogger(__name__)

_HALT_COLUMNS: Final = (
    "halt_id, scope_key, severity, mode, fund_id, strategy_id, reason, requested_by, "
    "triggered_by_watchdog, watchdog_subject_id, requested_at, request_count, active, "
    "resumed_at, resumed_by, cosigned_by, resume_reason, forced"
)
_INSERT_HALT: Final = f"""
INSERT INTO halts (halt_id, scope_key, severity, mode, fund_id, strategy_id, reason, requested_by,
                   triggered_by_watchdog, watchdog_subject_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (scope_key) WHERE active DO NOTHING
RETURNING {_HALT_COLUMNS}
"""  # noqa: S608 - constants only
_JOIN_HALT: Final = f"""
UPDATE halts SET request_count = request_count + 1
WHERE scope_key = $1 AND active
RETURNING {_HALT_COLUMNS}
"""  # noqa: S608
_INSERT_REQUEST: Final = """
INSERT INTO halt_requests (halt_id, request_no, requested_by, reason, mode,
                           triggered_by_watchdog, watchdog_subject_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING requested_at
"""
_RESUME: Final = f"""
UPDATE halts SET active = false, resumed_at = now(), resumed_by = $2, cosigned_by = $3,
                 resume_reason = $4, forced = $5
WHERE halt_id = $1 AND active
RETURNING {_HALT_COLUMNS}
"""  # noqa: S608
_REFUSAL_COLUMNS: Final = (
    "refusal_id, action, halt_id, scope_key, requested_by, cosigned_by, code, field, problem, refused_at"
)
# Concurrent requests and resumes of one scope can make a request miss twice in a row (the halt
# it conflicted with was resumed before it could join); more than a few rounds means a bug.
_MAX_JOIN_ATTEMPTS: Final = 10


def _halt(row: asyncpg.Record | Any) -> Halt:
    return Halt(
        halt_id=row["halt_id"],
        scope=row["scope_key"],
        severity=row["severity"],
        mode=row["mode"],
        fund_id=row["fund_id"],
        strategy_id=row["strategy_id"],
        reason=row["reason"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        triggered_by_watchdog=row["triggered_by_watchdog"],
        watchdog_subject_id=row["watchdog_subject_id"],
        request_count=row["request_count"],
        active=row["active"],
        resumed_at=row["resumed_at"],
        resumed_by=row["resumed_by"],
        cosigned_by=row["cosigned_by"],
        resume_reason=row["resume_reason"],
        forced=row["forced"],
    )


def _refusal(row: asyncpg.Record | Any) -> Refusal:
    return Refusal(
        refusal_id=row["refusal_id"],
        action=row["action"],
        halt_id=row["halt_id"],
        scope=row["scope_key"],
        requested_by=row["requested_by"],
        cosigned_by=row["cosigned_by"],
        code=row["code"],
        field=row["field"],
        problem=row["problem"],
        refused_at=row["refused_at"],
    )


P = ParamSpec("P")
R = TypeVar("R")


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("halt store: Postgres unavailable (attempt %d): %r; retrying", state.attempt_number, error)


def _retried(
    method: Callable[Concatenate[HaltStore, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[HaltStore, P], Coroutine[Any, Any, R]]:
    """Retry the whole transaction while Postgres restarts or a pooled connection turns out dead."""

    @functools.wraps(method)
    async def retried(self: HaltStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async for attempt in self._retrying():
            with attempt:
                return await method(self, *args, **kwargs)
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    return retried


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as stored: the halt in force for its scope, and whether this request created it."""

    halt: Halt
    created: bool
    request_no: int
    requested_at: datetime


class HaltStore:
    """Reads and writes of the halt tables; every write commits its outbox rows with it.

    A call that meets a connection failure is retried whole for up to ``retry_for`` seconds. A
    request retried after a commit whose answer was lost joins the halt it made (one more request
    on record); a resume retried that way finds its own resume and returns it.
    """

    def __init__(self, pool: asyncpg.Pool, *, source: str, retry_for: float = 10.0) -> None:
        self._pool = pool
        self._source = source
        self._retry_for = retry_for

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            stop=stop_after_delay(self._retry_for),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            before_sleep=_log_retry,
            reraise=True,
        )

    @_retried
    async def record_request(self, req: ValidRequest, halt_id: str) -> RecordedRequest:
        """Insert a halt for the request's scope, or join the one in force; record the request."""
        scope = req.scope
        async with self._pool.acquire() as conn, conn.transaction():
            for _ in range(_MAX_JOIN_ATTEMPTS):
                row = await conn.fetchrow(
                    _INSERT_HALT,
                    halt_id,
                    scope.key,
                    scope.severity,
                    req.mode,
                    scope.fund_id,
                    scope.strategy_id,
                    req.reason,
                    req.requested_by,
                    req.triggered_by_watchdog,
                    req.watchdog_subject_id,
                )
                created = row is not None
                if row is None:
                    row = await conn.fetchrow(_JOIN_HALT, scope.key)
                if row is not None:
                    break
            else:  # pragma: no cover - needs a resume between every insert and join
                raise RuntimeError(f"halt request for {scope.key}: could neither insert nor join a halt")
            halt = _halt(row)
            request_no = halt.request_count
            requested_at: datetime = await conn.fetchval(
                _INSERT_REQUEST,
                halt.halt_id,
                request_no,
                req.requested_by,
                req.reason,
                req.mode,
                req.triggered_by_watchdog,
                req.watchdog_subject_id,
            )
            if created:
                await enqueue_put(conn, halt, source=self._source)
            event = requested_event(
                halt,
                request_no=request_no,
                requested_by=req.requested_by,
                reason=req.reason,
                requested_at=requested_at,
            )
            await enqueue(
                conn,
                source=self._source,
                subject=subjects.halt_requested(),
                payload=event,
                event_id=requested_msg_id(halt.halt_id, request_no),
            )
        return RecordedRequest(halt=halt, created=created, request_no=request_no, requested_at=requested_at)

    async def record_resume(
        self,
        halt_id: str,
        *,
        resumed_by: str,
        cosigned_by: str,
        reason: str | None,
        forced: bool,
    ) -> Halt | None:
        """Lift the halt if it is still in force (None if someone else lifted it first)."""
        attempts = 0
        async for attempt in self._retrying():
            with attempt:
                attempts += 1
                halt = await self._resume_once(
                    halt_id, resumed_by=resumed_by, cosigned_by=cosigned_by, reason=reason, forced=forced
                )
                if halt is None and attempts > 1:
                    done = await self.get(halt_id)
                    if done is not None and (done.resumed_by, done.cosigned_by) == (resumed_by, cosigned_by):
                        return done  # an earlier attempt committed; its answer was lost
                return halt
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def _resume_once(
        self,
        halt_id: str,
        *,
        resumed_by: str,
        cosigned_by: str,
        reason: str | None,
        forced: bool,
    ) -> Halt | None:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_RESUME, halt_id, resumed_by, cosigned_by, reason, forced)
            if row is None:
                return None
            halt = _halt(row)
            refusals = [
                _refusal(r)
                for r in await conn.fetch(
                    f"SELECT {_REFUSAL_COLUMNS} FROM halt_refusals "  # noqa: S608
                    "WHERE halt_id = $1 ORDER BY refusal_id",
                    halt_id,
                )
            ]
            await enqueue_delete(conn, halt, source=self._source)
            await enqueue(
                conn,
                source=self._source,
                subject=subjects.halt_resumed(),
                payload=resumed_event(halt, refusals),
                event_id=resumed_msg_id(halt.halt_id),
            )
        return halt

    @_retried
    async def record_refusal(
        self,
        action: RefusalAction,
        *,
        code: str,
        problem: str,
        field: str | None = None,
        halt_id: str | None = None,
        scope: str | None = None,
        requested_by: str | None = None,
        cosigned_by: str | None = None,
    ) -> Refusal:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""
                INSERT INTO halt_refusals
                    (action, halt_id, scope_key, requested_by, cosigned_by, code, field, problem)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                RETURNING {_REFUSAL_COLUMNS}
                """,  # noqa: S608
                action,
                halt_id,
                scope,
                _clip(requested_by),
                _clip(cosigned_by),
                code,
                field,
                problem,
            )
            refusal = _refusal(row)
            # The refusal is a fact the audit chain must hold, so it commits with its event.
            await enqueue(
                conn,
                source=self._source,
                subject=subjects.halt_refused(),
                payload=refused_event(refusal),
                event_id=f"halt-refusal:{refusal.refusal_id}",
            )
        return refusal

    @_retried
    async def refusals(self, *, halt_id: str | None = None, limit: int = 100) -> list[Refusal]:
        rows = await self._pool.fetch(
            f"SELECT {_REFUSAL_COLUMNS} FROM halt_refusals "  # noqa: S608
            "WHERE ($1::text IS NULL OR halt_id = $1) ORDER BY refusal_id DESC LIMIT $2",
            halt_id,
            limit,
        )
        return [_refusal(r) for r in rows]

    @_retried
    async def get(self, halt_id: str) -> Halt | None:
        row = await self._pool.fetchrow(f"SELECT {_HALT_COLUMNS} FROM halts WHERE halt_id = $1", halt_id)  # noqa: S608
        return None if row is None else _halt(row)

    @_retried
    async def active_in(self, scope_keys: list[str]) -> dict[str, Halt]:
        """The halts in force on these scopes, by scope key."""
        rows = await self._pool.fetch(
            f"SELECT {_HALT_COLUMNS} FROM halts WHERE active AND scope_key = ANY($1::text[])",  # noqa: S608
            scope_keys,
        )
        return {row["scope_key"]: _halt(row) for row in rows}

    @_retried
    async def list_active(self) -> list[Halt]:
        rows = await self._pool.fetch(
            f"SELECT {_HALT_COLUMNS} FROM halts WHERE active ORDER BY requested_at, halt_id"  # noqa: S608
        )
        return [_halt(r) for r in rows]

    @_retried
    async def history(self, *, limit: int) -> list[Halt]:
        rows = await self._pool.fetch(
            f"SELECT {_HALT_COLUMNS} FROM halts ORDER BY requested_at DESC, halt_id DESC LIMIT $1",  # noqa: S608
            limit,
        )
        return [_halt(r) for r in rows]

    @_retried
    async def requests(self, halt_id: str) -> list[RequestRecord]:
        rows = await self._pool.fetch(
            "SELECT halt_id, request_no, requested_by, reason, mode, triggered_by_watchdog, "
            "watchdog_subject_id, requested_at FROM halt_requests WHERE halt_id = $1 ORDER BY request_no",
            halt_id,
        )
        return [
            RequestRecord(
                halt_id=r["halt_id"],
                request_no=r["request_no"],
                requested_by=r["requested_by"],
                reason=r["reason"],
                mode=r["mode"],
                triggered_by_watchdog=r["triggered_by_watchdog"],
                watchdog_subject_id=r["watchdog_subject_id"],
                requested_at=r["requested_at"],
            )
            for r in rows
        ]


def _clip(actor: str | None) -> str | None:
    """A refused actor as given (it may be junk), bounded so a refusal is always recordable."""
    if actor is None:
        return None
    return actor if len(actor) <= 512 else actor[:509] + "..."


async def check_operator(pool: asyncpg.Pool, actor: str) -> ActorCheck:
    """Whether ``actor`` is an active registered operator with role operator or admin, and if not, why."""
    registered = await is_registered_operator(pool, actor, min_role="operator")
    if registered is not None:
        return ActorCheck(actor, True)
    name = name_of_actor(actor)
    found = await get_operator(pool, name) if name is not None else None
    return check_actor_is_operator(
        actor, registered=None, found=found, is_operator_form=name is not None, now=datetime.now(UTC)
    )
