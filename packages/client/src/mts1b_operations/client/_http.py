"""The base of every service client: :class:`ServiceClient`, one service's HTTP API over httpx.

It sends the bearer token, bounds every request by the connect and read timeouts, retries
idempotent GETs (only) on transport errors and 502/503/504 with jittered exponential backoff,
decodes JSON answers into the msgspec types the caller names, and turns error answers into
the :mod:`~mts1b_operations.client._errors` tree. Service clients (halt, audit, ...) subclass it
or hold one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar, overload
from urllib.parse import urlsplit

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ._config import ClientConfig, ServiceName
from ._errors import (
    ApiError,
    ConfigurationError,
    ServiceUnavailableError,
    TimeoutError,
    TransportError,
    UnexpectedResponseError,
    error_for_status,
)

if TYPE_CHECKING:
    from typing import Self

    from mts1b_operations.core.runtime import Liveness

__all__ = ["RETRIED_STATUSES", "ServiceClient", "api_error_from_response"]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Answers worth another try of an idempotent GET: the service or a proxy in front of it is not ready.
RETRIED_STATUSES = frozenset({502, 503, 504})
QueryParams = Mapping[str, str | int | float | bool | None]


def _user_agent() -> str:
    try:
        return f"mts1b-operations-client/{version('mts1b-operations-client')}"
    except PackageNotFoundError:  # pragma: no cover - only outside an install
        return "mts1b-operations-client"


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def api_error_from_response(response: httpx.Response) -> ApiError:
    """The :class:`ApiError` subclass for an error answer, with the service's code, message and field.

    Reads the services' error body ``{"status_code", "detail", "extra"}`` where ``extra`` is
    ``{"code": ..., "field": ...}`` or Litestar's validation list ``[{"key": ..., "message": ...}]``;
    anything else falls back to the status line and a code derived from the status.
    """
    cls, default_code = error_for_status(response.status_code)
    body: object = None
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = response.text[:500] or None
    message = response.reason_phrase or f"HTTP {response.status_code}"
    code: str | None = None
    field: str | None = None
    if isinstance(body, dict):
        message = _str_or_none(body.get("detail")) or _str_or_none(body.get("message")) or message
        code = _str_or_none(body.get("code"))
        field = _str_or_none(body.get("field"))
        extra = body.get("extra")
        if isinstance(extra, dict):
            code = _str_or_none(extra.get("code")) or code
            field = _str_or_none(extra.get("field")) or _str_or_none(extra.get("key")) or field
        elif isinstance(extra, list) and extra and isinstance(extra[0], dict):
            first = extra[0]
            field = _str_or_none(first.get("key")) or _str_or_none(first.get("field")) or field
            if (detail := _str_or_none(first.get("message"))) is not None:
                message = f"{message}: {detail}"
    elif isinstance(body, str):
        message = body.strip().splitlines()[0] if body.strip() else message
    request = response.request
    return cls(
        response.status_code,
        message,
        code=code or default_code,
        field=field,
        method=request.method,
        url=str(request.url),
        body=body,
    )


class ServiceClient:
    """One service's HTTP API: ``async with ServiceClient(url, token=...) as c: await c.get(path, T)``.

    ``get_attempts`` is how often a GET is tried in all (1 = no retry); POST, PUT, PATCH and
    DELETE are sent exactly once, because a retry could apply them twice. ``transport`` replaces
    httpx's network transport (tests, ASGI apps in-process).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        get_attempts: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("base_url", f"must be an http:// or https:// URL (got {base_url!r})")
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if not value > 0:
                raise ConfigurationError(name, f"must be a positive number of seconds (got {value!r})")
        if get_attempts < 1:
            raise ConfigurationError("get_attempts", f"must be at least 1 (got {get_attempts!r})")
        if backoff < 0 or max_backoff < backoff:
            raise ConfigurationError(
                "backoff", f"must be >= 0 and <= max_backoff (got {backoff!r}, max {max_backoff!r})"
            )
        if token is not None and (not token.strip() or any(ch.isspace() for ch in token)):
            raise ConfigurationError("token", "must be a non-empty token without spaces")
        self._read_timeout = read_timeout
        self._get_attempts = get_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        merged = {"User-Agent": _user_agent(), "Accept": "application/json", **(headers or {})}
        if token is not None:
            merged["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=merged,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def for_service(
        cls,
        service: ServiceName,
        config: ClientConfig | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """A client of ``service`` configured from ``config`` (default: :meth:`ClientConfig.from_env`)."""
        config = config or ClientConfig.from_env()
        return cls(
            config.url_for(service),
            token=config.token,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            get_attempts=config.get_attempts,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def healthz(self) -> Liveness:
        """``GET /v1/healthz``: which service and instance answers."""
        from mts1b_operations.core.runtime import Liveness  # here: importing litestar is slow

        return await self.get("/v1/healthz", Liveness)

    async def get(self, path: str, into: type[T], *, params: QueryParams | None = None) -> T:
        """GET ``path`` and decode the JSON answer into ``into``; retried per ``get_attempts``."""
        response = await self.send("GET", path, params=params)
        return self._decode(response, into)

    @overload
    async def post(
        self, path: str, into: type[T], *, body: object = None, headers: Mapping[str, str] | None = None
    ) -> T: ...
    @overload
    async def post(
        self, path: str, into: None = None, *, body: object = None, headers: Mapping[str, str] | None = None
    ) -> None: ...
    async def post(
        self,
        path: str,
        into: type[T] | None = None,
        *,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> T | None:
        """POST ``body`` (a msgspec Struct, dict, list ...) as JSON; sent once, never retried."""
        response = await self.send("POST", path, body=body, headers=headers)
        return None if into is None else self._decode(response, into)

    @overload
    async def put(self, path: str, into: type[T], *, body: object = None) -> T: ...
    @overload
    async def put(self, path: str, into: None = None, *, body: object = None) -> None: ...
    async def put(self, path: str, into: type[T] | None = None, *, body: object = None) -> T | None:
        response = await self.send("PUT", path, body=body)
        return None if into is None else self._decode(response, into)

    @overload
    async def patch(self, path: str, into: type[T], *, body: object = None) -> T: ...
    @overload
    async def patch(self, path: str, into: None = None, *, body: object = None) -> None: ...
    async def patch(self, path: str, into: type[T] | None = None, *, body: object = None) -> T | None:
        response = await self.send("PATCH", path, body=body)
        return None if into is None else self._decode(response, into)

    @overload
    async def delete(self, path: str, into: type[T]) -> T: ...
    @overload
    async def delete(self, path: str, into: None = None) -> None: ...
    async def delete(self, path: str, into: type[T] | None = None) -> T | None:
        response = await self.send("DELETE", path)
        return None if into is None else self._decode(response, into)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (a GET with retries) and return a 2xx answer; raise the mapped error otherwise."""
        method = method.upper()
        content = None if body is None else msgspec.json.encode(body)
        request_headers = dict(headers or {})
        if content is not None:
            request_headers.setdefault("Content-Type", "application/json")
        request = self._http.build_request(
            method,
            path,
            params={k: v for k, v in (params or {}).items() if v is not None} or None,
            content=content,
            headers=request_headers,
        )
        attempts = self._get_attempts if method == "GET" else 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self._backoff, max=self._max_backoff)
            + wait_random(0, self._backoff),
            retry=retry_if_exception_type((TransportError, ServiceUnavailableError)),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                response = await self._send_once(request)
        if not 200 <= response.status_code < 300:
            raise UnexpectedResponseError(
                f"{method} {request.url} answered {response.status_code} {response.reason_phrase}",
                status=response.status_code,
                method=method,
                url=str(request.url),
            )
        return response

    async def _send_once(self, request: httpx.Request) -> httpx.Response:
        where = f"{request.method} {request.url}"
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException as exc:
            unknown = "" if request.method == "GET" else "; it may or may not have been applied"
            raise TimeoutError(
                f"no answer to {where} in time ({type(exc).__name__}){unknown}",
                method=request.method,
                url=str(request.url),
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"{where} failed: {type(exc).__name__}: {exc}", method=request.method, url=str(request.url)
            ) from exc
        if response.status_code >= 400:
            raise api_error_from_response(response)
        return response

    def _decode(self, response: httpx.Response, into: type[T]) -> T:
        try:
            return msgspec.json.decode(response.content, type=into)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            request = response.request
            raise UnexpectedResponseError(
                f"{request.method} {request.url} answered a body that is not a valid "
                f"{getattr(into, '__name__', into)}: {exc}",
                status=response.status_code,
                method=request.method,
                url=str(request.url),
            ) from exc
