"""Bearer-token guards for operator endpoints: ``guards=[requires_role("operator")]``.

The guard reads ``Authorization: Bearer <token>``, authenticates it against the ``operators``
table through the service's pool on every request (no cache, so a revoked token stops working
at once), answers 401 with ``WWW-Authenticate: Bearer`` when the token is missing, malformed,
unknown, revoked or expired, 403 naming the needed role when the role is too low, and 503 when
Postgres cannot answer. The operator lands on ``request.state.operator``; read it with
:func:`current_operator`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, ServiceUnavailableException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Guard

from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.operators import AuthenticationError, Operator, Role, authenticate, check_role

from ._app import ErrorBody
from ._spec import ServiceContext

__all__ = ["AUTH_RESPONSES", "AUTH_TIMEOUT", "REALM", "current_operator", "requires_role"]

REALM = "mts1b-operations"
#: Seconds the token lookup may take before the request is answered 503 (Postgres frozen, pool empty).
AUTH_TIMEOUT = 5.0

#: OpenAPI ``responses`` of a guarded route: ``@get(..., responses={**AUTH_RESPONSES, ...})``.
AUTH_RESPONSES: dict[int, ResponseSpec] = {
    401: ResponseSpec(
        data_container=ErrorBody,
        description="No bearer token, or one that is malformed, unknown, revoked or expired "
        "(extra.code says which)",
    ),
    403: ResponseSpec(data_container=ErrorBody, description="The operator's role is below the one needed"),
    503: ResponseSpec(data_container=ErrorBody, description="The operator store (Postgres) did not answer"),
}

_STATE_KEY = "operator"
# Postgres down, restarting, frozen or out of connections: the client may retry, so 503 not 500.
_UNAVAILABLE: tuple[type[BaseException], ...] = (TimeoutError, asyncpg.InterfaceError, *TRANSIENT_ERRORS)


def _challenge(error: str | None = None, description: str | None = None) -> str:
    parts = [f'Bearer realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        clean = description.replace("\\", "").replace('"', "'")
        parts.append(f'error_description="{clean}"')
    return ", ".join(parts)


def _unauthorized(exc: AuthenticationError) -> NotAuthorizedException:
    # RFC 6750 3.1: a request without credentials gets the bare challenge, a bad token invalid_token.
    challenge = _challenge() if exc.code == "token_missing" else _challenge("invalid_token", exc.message)
    return NotAuthorizedException(
        detail=exc.message, headers={"WWW-Authenticate": challenge}, extra={"code": exc.code}
    )


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("token_malformed", "the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _context(connection: ASGIConnection[Any, Any, Any, Any]) -> ServiceContext:
    context = connection.app.state.get("context")
    if not isinstance(context, ServiceContext):
        raise RuntimeError("requires_role needs an app built by core.runtime.create_app (no ServiceContext)")
    return context


async def _operator(connection: ASGIConnection[Any, Any, Any, Any], within: float) -> Operator:
    try:
        token = _bearer_token(connection)
        async with asyncio.timeout(within):
            return await authenticate(_context(connection).pool, token)
    except AuthenticationError as exc:
        raise _unauthorized(exc) from None
    except _UNAVAILABLE as exc:
        raise ServiceUnavailableException(
            detail=f"the operator store did not answer: {type(exc).__name__}",
            extra={"code": "auth_unavailable"},
        ) from exc


def requires_role(role: Role, *, timeout: float = AUTH_TIMEOUT) -> Guard:
    """A Litestar guard admitting active operators whose role is ``role`` or higher.

    ``role`` is checked now, so a typo fails at import rather than on the first request.
    ``timeout`` bounds the token lookup; past it the request is answered 503.
    """
    minimum = check_role(role)
    if not timeout > 0:
        raise ValueError(f"timeout: must be a positive number of seconds (got {timeout!r})")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        operator = await _operator(connection, timeout)
        if not operator.has_role(minimum):
            raise PermissionDeniedException(
                detail=f"this endpoint needs role {minimum!r} or higher; "
                f"operator {operator.name!r} has role {operator.role!r}",
                headers={"WWW-Authenticate": _challenge("insufficient_scope")},
                extra={"code": "insufficient_role", "required_role": minimum, "role": operator.role},
            )
        connection.state[_STATE_KEY] = operator

    guard.__name__ = guard.__qualname__ = f"requires_role_{minimum}"
    return guard


def current_operator(connection: ASGIConnection[Any, Any, Any, Any]) -> Operator:
    """The operator the guard authenticated for this request (``request.state.operator``).

    Raises ``RuntimeError`` on a route without a :func:`requires_role` guard: a wiring bug.
    """
    operator = connection.state.get(_STATE_KEY)
    if not isinstance(operator, Operator):
        raise RuntimeError(f"no operator on {connection.url.path}: guard the route with requires_role(...)")
    return operator
