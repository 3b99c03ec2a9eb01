"""The ``operators`` table: register, look up, revoke and authenticate operators.

Every function takes an asyncpg pool or connection (``add_operator`` inside a caller's
transaction takes the connection). Authentication reads the table on every call and caches
nothing, so a revocation takes effect on the very next request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from ._errors import (
    AuthenticationError,
    OperatorExistsError,
    OperatorNotFoundError,
    OperatorValidationError,
)
from ._model import Operator, Role, check_name, check_role, name_of_actor
from ._tokens import display_prefix, hash_token, is_well_formed, new_token

__all__ = [
    "Database",
    "add_operator",
    "authenticate",
    "get_operator",
    "is_registered_operator",
    "list_operators",
    "revoke_operator",
]

# All run queries; a connection lets the caller put add_operator in its own transaction.
Database = asyncpg.Pool | asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_COLUMNS = "name, role, created_at, expires_at, revoked_at, created_by, token_prefix"


def _operator(row: asyncpg.Record | Any) -> Operator:
    return Operator(
        name=row["name"],
        role=check_role(row["role"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        created_by=row["created_by"],
        token_prefix=row["token_prefix"],
    )


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is None:
        return
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        raise OperatorValidationError(
            "expires_at", f"must be a timezone-aware datetime or None (got {expires_at!r})"
        )
    if expires_at <= datetime.now(UTC):
        raise OperatorValidationError("expires_at", f"must be in the future (got {expires_at.isoformat()})")


async def add_operator(
    db: Database,
    name: str,
    role: Role,
    *,
    created_by: str,
    expires_at: datetime | None = None,
) -> tuple[Operator, str]:
    """Register ``name`` with ``role``; returns the operator and its bearer token.

    The token is returned once and never stored (only its SHA-256 is): hand it to the operator
    now. Raises :class:`OperatorValidationError` naming a bad argument and
    :class:`OperatorExistsError` when the name is taken (also by a revoked operator).
    """
    check_name(name)
    check_role(role)
    if not isinstance(created_by, str) or not created_by.strip():
        raise OperatorValidationError(
            "created_by", f"must name who registers the operator (got {created_by!r})"
        )
    _check_expiry(expires_at)
    token = new_token()
    try:
        # ON CONFLICT rather than catching the unique violation: inside a caller's transaction
        # the violation would abort the whole transaction.
        row = await db.fetchrow(
            f"""
            INSERT INTO operators (name, role, token_hash, token_prefix, expires_at, created_by)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (name) DO NOTHING
            RETURNING {_COLUMNS}
            """,  # noqa: S608 - the interpolated text is a constant column list
            name,
            role,
            hash_token(token),
            display_prefix(token),
            expires_at,
            created_by.strip(),
        )
    except asyncpg.CheckViolationError:
        # Only the expiry can pass the checks above and fail the table's (the clocks differ).
        raise OperatorValidationError("expires_at", "must be after the time of registration") from None
    if row is None:
        existing = await get_operator(db, name)
        raise OperatorExistsError(name, revoked=existing is not None and existing.revoked_at is not None)
    return _operator(row), token


async def get_operator(db: Database, name: str) -> Operator | None:
    """The operator named ``name`` (whatever its status), or ``None``."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM operators WHERE name = $1", name)  # noqa: S608
    return None if row is None else _operator(row)


async def list_operators(db: Database) -> list[Operator]:
    """Every registered operator, revoked and expired ones included, by name."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM operators ORDER BY name")  # noqa: S608
    return [_operator(row) for row in rows]


async def revoke_operator(db: Database, name: str) -> Operator:
    """Revoke ``name``'s token from now on; revoking again keeps the first revocation time.

    Raises :class:`OperatorNotFoundError` for an unknown name.
    """
    row = await db.fetchrow(
        f"""
        UPDATE operators SET revoked_at = coalesce(revoked_at, now())
        WHERE name = $1
        RETURNING {_COLUMNS}
        """,  # noqa: S608
        name,
    )
    if row is None:
        raise OperatorNotFoundError(name)
    return _operator(row)


async def authenticate(db: Database, token: str | None) -> Operator:
    """The active operator whose token this is; :class:`AuthenticationError` otherwise.

    Expiry is judged by the database clock, so every service agrees on it.
    """
    if token is None or not token.strip():
        raise AuthenticationError("token_missing", "no bearer token was presented")
    if not is_well_formed(token):
        raise AuthenticationError(
            "token_malformed", "the bearer token is not an mts token ('mts_' followed by 43 characters)"
        )
    row = await db.fetchrow(
        f"SELECT {_COLUMNS}, now() AS checked_at FROM operators WHERE token_hash = $1",  # noqa: S608
        hash_token(token),
    )
    if row is None:
        raise AuthenticationError("token_unknown", "the bearer token does not belong to any operator")
    operator = _operator(row)
    if operator.revoked_at is not None:
        raise AuthenticationError(
            "token_revoked",
            f"the token of operator {operator.name!r} was revoked at {operator.revoked_at.isoformat()}",
        )
    if operator.status(row["checked_at"]) == "expired":
        assert operator.expires_at is not None
        raise AuthenticationError(
            "token_expired",
            f"the token of operator {operator.name!r} expired at {operator.expires_at.isoformat()}",
        )
    return operator


async def is_registered_operator(db: Database, actor: str, *, min_role: Role = "operator") -> Operator | None:
    """The active operator behind ``actor`` (``operator:<name>``) holding at least ``min_role``, or ``None``.

    ``None`` for any other actor (a service, a watchdog), an unknown, revoked or expired
    operator, or one whose role is below ``min_role``: e.g. who may cosign a resume.
    """
    check_role(min_role, "min_role")
    name = name_of_actor(actor)
    if name is None:
        return None
    row = await db.fetchrow(
        f"SELECT {_COLUMNS}, now() AS checked_at FROM operators WHERE name = $1",  # noqa: S608
        name,
    )
    if row is None:
        return None
    operator = _operator(row)
    if operator.status(row["checked_at"]) != "active" or not operator.has_role(min_role):
        return None
    return operator
