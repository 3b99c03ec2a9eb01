from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
)

from ._errors import DatabaseUnavailableError

__all__ = ["TRANSIENT_ERRORS", "create_pool", "redact_dsn"]

# Worth retrying while Postgres starts, restarts or is briefly overloaded; a wrong password,
# a missing database or a bad DSN is not and fails at once. InternalClientError ("cannot switch
# to state 15; another operation is in progress") is what asyncpg's pool raises on a connection
# its floor maintenance is reconnecting just after a Postgres restart (seen by the chaos soak,
# tests/chaos): the retry gets another connection and succeeds.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InternalClientError,
)


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ``***``, safe for logs and error messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def _validate(dsn: str, min_size: int, max_size: int, connect_deadline: float | None) -> None:
    if urlsplit(dsn).scheme not in ("postgresql", "postgres"):
        raise ValueError(f"dsn must be a postgresql:// URL (got {redact_dsn(dsn)!r})")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0 (got {min_size})")
    if max_size < 1 or max_size < min_size:
        raise ValueError(
            f"max_size must be >= 1 and >= min_size (got max_size={max_size}, min_size={min_size})"
        )
    if connect_deadline is not None and connect_deadline <= 0:
        raise ValueError(f"connect_deadline must be > 0 seconds or None (got {connect_deadline})")


async def _open(dsn: str, min_size: int, max_size: int, connect_timeout: float) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, timeout=connect_timeout
    )
    try:
        # min_size=0 opens no connection; prove the server answers either way.
        await pool.fetchval("SELECT 1")
    except BaseException:
        pool.terminate()
        raise
    return pool


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_deadline: float | None = 30.0,
) -> asyncpg.Pool:
    """An asyncpg pool on ``dsn``; the first connection is retried until ``connect_deadline`` seconds.

    ``connect_deadline=None`` retries forever. Once open, the pool outlives Postgres restarts:
    asyncpg notices a connection the server closed and replaces it when it is next acquired.
    A query in flight at that moment fails with a connection error (``TRANSIENT_ERRORS``); the
    caller retries it. Raises :class:`DatabaseUnavailableError` when the deadline passes, and a
    wrong password or missing database at once.
    """
    _validate(dsn, min_size, max_size, connect_deadline)
    connect_timeout = 10.0 if connect_deadline is None else min(10.0, connect_deadline)
    retrying = AsyncRetrying(
        stop=stop_never if connect_deadline is None else stop_after_delay(connect_deadline),
        wait=wait_exponential(multiplier=0.05, max=2.0),
        retry=retry_if_exception_type(TRANSIENT_ERRORS),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await _open(dsn, min_size, max_size, connect_timeout)
    except TRANSIENT_ERRORS as exc:
        raise DatabaseUnavailableError(
            f"Postgres at {redact_dsn(dsn)} not reachable within {connect_deadline}s: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
