"""Per-client rate limiting of the public API: Litestar's ``RateLimitConfig`` with our middleware.

Settings (environment, read at start-up; a bad value stops it with one line naming the variable):

- ``MTS_RATE_LIMIT``: ``<unit>:<requests>``, unit one of second, minute, hour, day
  (default ``minute:600``): at most that many requests per client in each fixed window.
- ``MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER``: unset (default) means the client is the TCP peer. Set
  it (e.g. ``X-Forwarded-For``) only when the service is reachable *solely* through a proxy that
  sets that header: the client is then the header's last (rightmost) address, the one the proxy
  itself appended; earlier entries are the client's own say and are ignored. A missing or
  malformed header falls back to the peer.
- ``MTS_RATE_LIMIT_STORE``: ``memory`` (default; each replica counts in its own process) or
  ``nats``: the counters live in the NATS KV bucket ``MTS_RATE_LIMIT_BUCKET`` (default
  ``mts_marketdata_ratelimit``), shared by every replica, so the limit holds per client across
  the whole deployment behind a load balancer.
- ``MTS_RATE_LIMIT_STORE_TIMEOUT``: seconds (default 0.5, at most 10) one shared-store operation
  may take before the request is admitted anyway (fail open).

The limit covers the market-data routes (/v1/quotes, /v1/bars, /v1/funds, /v1/halts); health,
readiness, metrics and the OpenAPI schema are served outside it. Every limited answer carries
``RateLimit-Policy``, ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``; a
refused one is a 429 JSON error that also carries ``Retry-After`` (seconds).

Why a middleware of our own behind Litestar's ``RateLimitConfig`` (``middleware_class``): the
stock one keeps a list with one timestamp per request of the window (its cost grows with the
limit), does its read-modify-write under a lock that only spans one process and one route, and
sends no ``Retry-After``. Ours keeps a counter and the window's reset time (the same fixed-window
rule): in the process without any lock (no ``await`` between read and write), or in the shared
store with a compare-and-set (so concurrent requests on different replicas never lose a count);
and it adds ``Retry-After``. If the shared store does not answer in time, requests are admitted
(fail open: market data stays readable) and a warning is logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, cast, get_args

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    DurationUnit,
    RateLimitConfig,
    RateLimitMiddleware,
    get_remote_address,
)
from litestar.stores.base import Store
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mts1b_operations.core.settings import SettingsError

from .adapters import NatsKVStore

__all__ = [
    "BUCKET_ENV",
    "DEFAULT_BUCKET",
    "DEFAULT_RATE_LIMIT",
    "RATE_LIMIT_ENV",
    "STORE_ENV",
    "STORE_STATE_KEY",
    "STORE_TIMEOUT_ENV",
    "TRUSTED_PROXY_ENV",
    "CountingRateLimitMiddleware",
    "MarketDataRateLimitConfig",
    "RateLimitSettings",
    "StoreKind",
    "client_identifier",
    "load_rate_limit_settings",
    "rate_limit_config",
]

log = logging.getLogger(__name__)

RATE_LIMIT_ENV: Final = "MTS_RATE_LIMIT"
TRUSTED_PROXY_ENV: Final = "MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER"
STORE_ENV: Final = "MTS_RATE_LIMIT_STORE"
BUCKET_ENV: Final = "MTS_RATE_LIMIT_BUCKET"
STORE_TIMEOUT_ENV: Final = "MTS_RATE_LIMIT_STORE_TIMEOUT"
DEFAULT_RATE_LIMIT: Final = "minute:600"
DEFAULT_BUCKET: Final = "mts_marketdata_ratelimit"
STORE_STATE_KEY: Final = "marketdata.rate_limit_store"
"""Where the start-up hook leaves the shared store in ``ServiceContext.state`` (absent: memory)."""

StoreKind = Literal["memory", "nats"]

_HEADER_NAME: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_BUCKET_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_REQUESTS: Final = 1_000_000_000
_CAS_ATTEMPTS: Final = 16
_WARN_EVERY: Final = 30.0
_SWEEP_ABOVE: Final = 4096


class RateLimitSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The rate limit: ``requests`` per ``unit`` per client."""

    unit: DurationUnit = "minute"
    requests: int = 600
    trusted_proxy_header: str | None = None
    store: StoreKind = "memory"
    bucket: str = DEFAULT_BUCKET
    store_timeout: float = 0.5
    """Seconds one shared-store operation may take before the request is admitted (fail open)."""

    @property
    def window_seconds(self) -> int:
        return DURATION_VALUES[self.unit]


def _parse_limit(raw: str) -> tuple[DurationUnit, int]:
    unit, sep, count = raw.partition(":")
    units = get_args(DurationUnit)
    if not sep or unit.strip() not in units:
        raise SettingsError(
            RATE_LIMIT_ENV, f"must be <unit>:<requests> with unit one of {', '.join(units)} (got {raw!r})"
        )
    try:
        requests = int(count.strip())
    except ValueError:
        raise SettingsError(RATE_LIMIT_ENV, f"the count must be a whole number (got {raw!r})") from None
    if not 1 <= requests <= _MAX_REQUESTS:
        raise SettingsError(RATE_LIMIT_ENV, f"the count must be between 1 and {_MAX_REQUESTS} (got {raw!r})")
    return cast(DurationUnit, unit.strip()), requests


def load_rate_limit_settings(env: Mapping[str, str] | None = None) -> RateLimitSettings:
    """Read the rate-limit settings (see the module doc); a bad value raises ``SettingsError``."""
    env = os.environ if env is None else env
    unit, requests = _parse_limit(env.get(RATE_LIMIT_ENV, "").strip() or DEFAULT_RATE_LIMIT)
    header = env.get(TRUSTED_PROXY_ENV, "").strip() or None
    if header is not None and not _HEADER_NAME.fullmatch(header):
        raise SettingsError(TRUSTED_PROXY_ENV, f"must be a header name like X-Forwarded-For (got {header!r})")
    store = env.get(STORE_ENV, "").strip().lower() or "memory"
    if store not in get_args(StoreKind):
        raise SettingsError(STORE_ENV, f"must be memory or nats (got {store!r})")
    bucket = env.get(BUCKET_ENV, "").strip() or DEFAULT_BUCKET
    if not _BUCKET_NAME.fullmatch(bucket):
        raise SettingsError(BUCKET_ENV, f"must be a bucket name (letters, digits, _ and -; got {bucket!r})")
    raw_timeout = env.get(STORE_TIMEOUT_ENV, "").strip() or "0.5"
    try:
        store_timeout = float(raw_timeout)
    except ValueError:
        raise SettingsError(STORE_TIMEOUT_ENV, f"must be a number of seconds (got {raw_timeout!r})") from None
    if not 0 < store_timeout <= 10:
        raise SettingsError(STORE_TIMEOUT_ENV, f"must be in (0, 10] seconds (got {raw_timeout!r})")
    return RateLimitSettings(
        unit=unit,
        requests=requests,
        trusted_proxy_header=header,
        store=cast(StoreKind, store),
        bucket=bucket,
        store_timeout=store_timeout,
    )


def client_identifier(trusted_proxy_header: str | None) -> Callable[[Request[Any, Any, Any]], str]:
    """The function naming the client of a request (see ``MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER``)."""
    if trusted_proxy_header is None:
        return get_remote_address
    name = trusted_proxy_header.lower()

    def identify(request: Request[Any, Any, Any]) -> str:
        raw = request.headers.get(name)
        if raw:
            candidate = raw.rsplit(",", 1)[-1].strip()
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
        return get_remote_address(request)

    identify.__name__ = f"client_from_{name.replace('-', '_')}"
    return identify


class _Window(msgspec.Struct, frozen=True, array_like=True):
    """Requests counted in the current fixed window, and when (Unix seconds) it resets."""

    count: int
    reset: int


_encode_window = msgspec.json.Encoder().encode
_decode_window = msgspec.json.Decoder(_Window).decode


class _LocalWindows:
    """The counters of one process (``MTS_RATE_LIMIT_STORE=memory``).

    Read and write happen without an ``await`` in between, so they are atomic under asyncio and
    need no lock; expired windows are swept once a minute when many clients have been seen.
    """

    __slots__ = ("_sweep_at", "_windows")

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._sweep_at = 0

    def get(self, key: str) -> _Window | None:
        return self._windows.get(key)

    def put(self, key: str, window: _Window, now: int) -> None:
        self._windows[key] = window
        if now >= self._sweep_at and len(self._windows) > _SWEEP_ABOVE:
            self._sweep_at = now + 60
            self._windows = {k: w for k, w in self._windows.items() if w.reset > now}


@dataclass
class MarketDataRateLimitConfig(RateLimitConfig):
    """Litestar's config plus the per-process counters shared by the middleware of every route."""

    local: _LocalWindows = field(default_factory=_LocalWindows, repr=False, compare=False)


class CountingRateLimitMiddleware(RateLimitMiddleware):
    """Fixed-window rate limiting with a counter, compare-and-set on a shared store, and Retry-After.

    The counters live in the shared store the start-up hook left in the service context
    (``STORE_STATE_KEY``), else in the process (:class:`_LocalWindows`).
    """

    # One lock per store for shared stores without compare-and-set: Litestar builds one middleware
    # per route, and the count of a client spans routes.
    _locks: ClassVar[dict[int, asyncio.Lock]] = {}
    _last_warning: ClassVar[float] = 0.0

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        super().__init__(app, config)
        self._local = config.local if isinstance(config, MarketDataRateLimitConfig) else _LocalWindows()
        self._window_seconds = DURATION_VALUES[self.unit]
        self._static_headers = [
            (
                config.rate_limit_policy_header_key.lower().encode(),
                f"{self.max_requests}; w={self._window_seconds}".encode(),
            ),
            (config.rate_limit_limit_header_key.lower().encode(), str(self.max_requests).encode()),
        ]
        self._remaining_key = config.rate_limit_remaining_header_key.lower().encode()
        self._reset_key = config.rate_limit_reset_header_key.lower().encode()
        self._store: Store | None = None
        self._store_resolved = False
        self._key_prefix = f"{type(self).__name__}::"
        self._peer_is_client = (
            config.identifier_for_request is get_remote_address and config.check_throttle_handler is None
        )

    async def _key(self, scope: Scope, app: Litestar) -> str | None:
        """The client's counter key, or None when this request is not limited."""
        if self._peer_is_client:
            # The common case without building a Request: the key Litestar would derive.
            client = scope.get("client")
            return f"{self._key_prefix}{client[0] if client else '127.0.0.1'}"
        request: Request[Any, Any, Any] = app.request_class(scope)
        if not await self.should_check_request(request=request):
            return None
        return self.cache_key_from_request(request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: Litestar = scope["litestar_app"]
        key = await self._key(scope, app)
        if key is not None:
            if not self._store_resolved:
                # Resolved on the first request: the app gets its context only after it is built.
                self._store, self._store_resolved = self._shared_store(app), True
            store = self._store
            window = self._admit_local(key) if store is None else await self._admit_shared(store, key)
            if window is not None and self.config.set_rate_limit_headers:
                send = self._with_headers(send, window)
        await self.app(scope, receive, send)

    @staticmethod
    def _shared_store(app: Litestar) -> Store | None:
        state = getattr(app.state.get("context"), "state", None)
        store = state.get(STORE_STATE_KEY) if isinstance(state, dict) else None
        return store if isinstance(store, Store) else None

    def _admit_local(self, key: str) -> _Window:
        now = int(time.time())
        window = self._next(self._local.get(key), now)
        self._local.put(key, window, now)
        return window

    async def _admit_shared(self, store: Store, key: str) -> _Window | None:
        """Count this request in ``store``; the window after it, or None when the store failed (admitted)."""
        try:
            if isinstance(store, NatsKVStore):
                return await self._admit_versioned(store, key)
            lock = self._locks.setdefault(id(store), asyncio.Lock())
            async with lock:
                now = int(time.time())
                window = self._next(_decoded(await store.get(key)), now)
                await store.set(key, _encode_window(window), expires_in=max(window.reset - now, 1))
                return window
        except TooManyRequestsException:
            raise
        except Exception as exc:
            self._warn(store, exc)
            return None

    async def _admit_versioned(self, store: NatsKVStore, key: str) -> _Window:
        for _ in range(_CAS_ATTEMPTS):
            now = int(time.time())
            raw, revision = await store.get_versioned(key)
            window = self._next(_decoded(raw), now)
            encoded = _encode_window(window)
            if await store.compare_and_set(key, encoded, revision, expires_in=max(window.reset - now, 1)):
                return window
        raise self._refusal(_Window(self.max_requests, int(time.time()) + 1), "too many concurrent requests")

    def _next(self, current: _Window | None, now: int) -> _Window:
        if current is None or current.reset <= now:
            current = _Window(0, now + self._window_seconds)
        if current.count >= self.max_requests:
            why = f"rate limit of {self.max_requests} requests per {self.unit} exceeded"
            raise self._refusal(current, why)
        return _Window(current.count + 1, current.reset)

    def _refusal(self, window: _Window, why: str) -> TooManyRequestsException:
        retry_after = max(window.reset - int(time.time()), 1)
        headers = {name.decode(): value.decode() for name, value in self._headers(window)}
        headers["Retry-After"] = str(retry_after)
        return TooManyRequestsException(
            detail=f"{why}; retry in {retry_after} s",
            headers=headers,
            extra={"code": "rate_limited", "retry_after": retry_after},
        )

    def _headers(self, window: _Window) -> list[tuple[bytes, bytes]]:
        remaining = max(self.max_requests - window.count, 0)
        reset = max(window.reset - int(time.time()), 0)
        return [
            *self._static_headers,
            (self._remaining_key, str(remaining).encode()),
            (self._reset_key, str(reset).encode()),
        ]

    def _with_headers(self, send: Send, window: _Window) -> Send:
        extra = self._headers(window)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        return send_with_headers

    @classmethod
    def _warn(cls, store: Store, exc: Exception) -> None:
        now = time.monotonic()
        if now - cls._last_warning >= _WARN_EVERY:
            cls._last_warning = now
            log.warning("rate limit store %r failed (%r); admitting requests unlimited meanwhile", store, exc)


def _decoded(raw: bytes | None) -> _Window | None:
    if not raw:
        return None
    try:
        return _decode_window(raw)
    except msgspec.DecodeError:
        return None


def rate_limit_config(settings: RateLimitSettings) -> MarketDataRateLimitConfig:
    """Litestar's RateLimitConfig for ``settings``, using :class:`CountingRateLimitMiddleware`."""
    return MarketDataRateLimitConfig(
        rate_limit=(settings.unit, settings.requests),
        identifier_for_request=client_identifier(settings.trusted_proxy_header),
        middleware_class=CountingRateLimitMiddleware,
        store="marketdata_rate_limit",
    )
