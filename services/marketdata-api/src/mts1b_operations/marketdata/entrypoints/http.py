"""The public HTTP API (Litestar): quotes, bars, fund status and halts in force; read-only, no auth.

Every route sits behind the per-client rate limit (``ratelimit``). Errors are JSON
``{"status_code", "detail", "extra": {"code", "field"}}``: 400 ``invalid_parameter`` naming the
parameter, 404 ``unknown_symbol``, 429 ``rate_limited`` (with ``Retry-After``), 503
``unavailable`` when Postgres does not answer; never a 500 for bad input.

Bars carry a strong ``ETag`` (a hash of the body) and ``Cache-Control``; a request whose
``If-None-Match`` names the current tag gets ``304 Not Modified`` without a body.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import asyncpg
import msgspec
from litestar import MediaType, Request, Response, Router, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, PathParameter, QueryParameter
from litestar.status_codes import (
    HTTP_304_NOT_MODIFIED,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.runtime import ErrorBody, ServiceContext
from mts1b_operations.core.schemas.marketdata_api import Bar, BarInterval, FundStatus, HaltInForce, Quote

from ..domain import DEFAULT_LIMIT, MAX_LIMIT, InvalidParameterError, UnknownSymbolError, bars_query
from ..ratelimit import RateLimitSettings, rate_limit_config
from ..service import market_data

__all__ = ["BARS_TIMEOUT", "RESPONSES", "api_router", "etag_matches"]

log = logging.getLogger(__name__)

BARS_TIMEOUT: Final = 10.0
"""Seconds a bars query may take before the answer is 503 (Postgres frozen or overloaded)."""

# OpenAPI patterns are ECMA-262, where "$" only matches at the very end; the domain re-checks with \Z.
_SYMBOL_PATTERN: Final = r"^[A-Za-z0-9_\-:=@^~]{1,128}$"
_TAGS: Final = ["market data"]

_BAD_REQUEST = ResponseSpec(
    data_container=ErrorBody,
    description="A parameter is malformed or out of range; extra.field names it",
)
_TOO_MANY = ResponseSpec(
    data_container=ErrorBody,
    description="Rate limit exceeded for this client; Retry-After says after how many seconds to retry",
)
RESPONSES: Final[dict[int, ResponseSpec]] = {400: _BAD_REQUEST, 429: _TOO_MANY}
_NOT_FOUND = ResponseSpec(data_container=ErrorBody, description="Nothing is known of this symbol")
_UNAVAILABLE = ResponseSpec(data_container=ErrorBody, description="Postgres did not answer; retry")

_RATE_HEADERS: Final = [
    ResponseHeader(
        name="RateLimit-Limit", documentation_only=True, value="", description="Requests allowed per window"
    ),
    ResponseHeader(
        name="RateLimit-Remaining",
        documentation_only=True,
        value="",
        description="Requests left in the window",
    ),
    ResponseHeader(
        name="RateLimit-Reset",
        documentation_only=True,
        value="",
        description="Seconds until the window resets",
    ),
    ResponseHeader(
        name="RateLimit-Policy",
        documentation_only=True,
        value="",
        description="The limit, as '<requests>; w=<seconds>'",
    ),
]
_CACHE_HEADERS: Final = [
    ResponseHeader(
        name="ETag", documentation_only=True, value="", description="Strong validator of the body"
    ),
    ResponseHeader(
        name="Cache-Control",
        documentation_only=True,
        value="",
        description="How long the answer may be reused",
    ),
]

Symbol = Annotated[
    str,
    PathParameter(
        description="A symbol as published on the bus: 1-128 of letters, digits and _-:=@^~",
        pattern=_SYMBOL_PATTERN,
        max_length=128,
    ),
]


# ---------------------------------------------------------------------- error answers


def _error(status: int, detail: str, **extra: Any) -> Response[ErrorBody]:
    return Response(
        ErrorBody(status_code=status, detail=detail, extra=extra),
        status_code=status,
        media_type=MediaType.JSON,
    )


def _invalid_parameter(_: Request[Any, Any, Any], exc: InvalidParameterError) -> Response[ErrorBody]:
    return _error(HTTP_400_BAD_REQUEST, str(exc), code="invalid_parameter", field=exc.parameter)


def _validation_failed(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's own parameter checks (type, pattern, bounds), named like ours."""
    errors = exc.extra if isinstance(exc.extra, list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    field = first.get("key")
    message = first.get("message") or exc.detail
    detail = f"{field}: {message}" if field else str(message)
    return _error(HTTP_400_BAD_REQUEST, detail, code="invalid_parameter", field=field, errors=errors)


def _unknown_symbol(_: Request[Any, Any, Any], exc: UnknownSymbolError) -> Response[ErrorBody]:
    return _error(HTTP_404_NOT_FOUND, str(exc), code="unknown_symbol", field="symbol", symbol=exc.symbol)


def _unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("answering 503: %r", exc)
    return _error(
        HTTP_503_SERVICE_UNAVAILABLE,
        f"the bars store did not answer ({type(exc).__name__}); retry",
        code="unavailable",
    )


_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    InvalidParameterError: _invalid_parameter,
    ValidationException: _validation_failed,
    UnknownSymbolError: _unknown_symbol,
    asyncpg.InterfaceError: _unavailable,
    asyncpg.QueryCanceledError: _unavailable,
    **{error: _unavailable for error in TRANSIENT_ERRORS if issubclass(error, Exception)},
}


# ---------------------------------------------------------------------- caching


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: ``*`` or any listed tag equal to ``etag`` under weak comparison."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def _not_modified(headers: dict[str, str]) -> Response[Any]:
    return Response(None, status_code=HTTP_304_NOT_MODIFIED, headers=headers)


_encode = msgspec.json.Encoder().encode


# ---------------------------------------------------------------------- routes


@get(
    "/quotes/{symbol:str}",
    operation_id="getQuote",
    summary="Latest quote of a symbol",
    description="The newest top of book received for the symbol (kept in memory; warm-started from "
    "the MARKETDATA stream on boot).",
    responses={**RESPONSES, 404: _NOT_FOUND},
    response_headers=_RATE_HEADERS,
)
async def get_quote(symbol: Symbol, request: Request[Any, Any, Any]) -> Quote:
    # The hottest route: the context from the app's state saves the dependency resolution (~6%).
    return market_data(request.app.state.context).quote(symbol)


@get(
    "/bars/{symbol:str}",
    operation_id="listBars",
    summary="OHLCV bars of a symbol",
    description=(
        "Bars of one interval whose start lies in [start, end), the newest `limit` of them, oldest "
        "first (newest last). Without `end` the range ends with the bucket in progress. Intervals not "
        "published as such are aggregated from the coarsest finer interval present, in UTC-aligned "
        "buckets (1d = the UTC calendar day); published bars win over aggregated ones. A time without "
        "an offset is UTC. The answer carries an ETag; send it back in If-None-Match to get 304."
    ),
    responses={
        **RESPONSES,
        304: ResponseSpec(data_container=None, description="Unchanged since the ETag sent in If-None-Match"),
        404: _NOT_FOUND,
        503: _UNAVAILABLE,
    },
    response_headers=[*_CACHE_HEADERS, *_RATE_HEADERS],
)
async def list_bars(
    symbol: Symbol,
    context: NamedDependency[ServiceContext],
    interval: Annotated[BarInterval, QueryParameter(description="Bar interval")] = "1d",
    start: Annotated[
        datetime | None,
        QueryParameter(description="Earliest bar start (inclusive), ISO 8601, 1970-01-01 to 2100-01-01"),
    ] = None,
    end: Annotated[
        datetime | None,
        QueryParameter(description="Latest bar start (exclusive), ISO 8601, after start; default: now"),
    ] = None,
    limit: Annotated[
        int,
        QueryParameter(
            ge=1, description=f"How many bars at most (the newest); above {MAX_LIMIT} it is capped"
        ),
    ] = DEFAULT_LIMIT,
    if_none_match: Annotated[
        str | None,
        HeaderParameter(name="If-None-Match", description="ETag of an earlier answer", required=False),
    ] = None,
) -> Response[list[Bar]]:
    now = datetime.now(UTC)
    query = bars_query(symbol, interval, start=start, end=end, limit=limit, now=now)
    async with asyncio.timeout(BARS_TIMEOUT):
        series = await market_data(context).bar_series(query)
    body = _encode(series)
    settled = query.end_given and query.is_closed(now)
    headers = {
        "ETag": f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"',
        "Cache-Control": "public, max-age=60" if settled else "public, max-age=5",
    }
    if if_none_match and etag_matches(if_none_match, headers["ETag"]):
        return _not_modified(headers)
    answer: Response[Any] = Response(body, media_type=MediaType.JSON, headers=headers)
    return answer


@get(
    "/funds",
    operation_id="listFunds",
    summary="Status of every fund",
    description="Each fund of the registry (MTS_FUNDS_FILE) with its mode, latest NAV and day P&L, "
    "whether it is halted and the halts in force that bind it, and when it was last updated.",
    responses=RESPONSES,
    response_headers=_RATE_HEADERS,
)
async def list_funds(context: NamedDependency[ServiceContext]) -> list[FundStatus]:
    return market_data(context).fund_statuses()


@get(
    "/halts",
    operation_id="listHalts",
    summary="Halts in force",
    description="A mirror of the KV bucket mts_halts: one entry per scope (firm, fund.<id>, "
    "strategy.<id>) with a halt in force, ordered by key.",
    responses=RESPONSES,
    response_headers=_RATE_HEADERS,
)
async def list_halts(context: NamedDependency[ServiceContext]) -> list[HaltInForce]:
    return market_data(context).halts_in_force()


def api_router(rate_limit: RateLimitSettings) -> Router:
    """The /v1 market-data routes behind the per-client rate limit."""
    return Router(
        path="/v1",
        route_handlers=[get_quote, list_bars, list_funds, list_halts],
        middleware=[rate_limit_config(rate_limit).middleware],
        exception_handlers=_EXCEPTION_HANDLERS,
        tags=_TAGS,
    )
