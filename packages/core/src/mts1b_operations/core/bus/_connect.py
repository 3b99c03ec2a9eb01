"""The NATS connection: initial connect retried until a deadline, endless reconnect after."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import unquote, urlsplit

import msgspec
import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, PubAck, StorageType, StreamInfo
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KeyValue
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_random,
)

from ._errors import BusConnectError, BusUnavailableError
from ._publish import publish
from ._streams import DEFAULT_STREAMS, StreamSpec, ensure_streams

__all__ = ["Bus", "connect_bus", "split_servers"]

log = logging.getLogger(__name__)

RECONNECT_TIME_WAIT: Final = 1
# A PING every 2 s, and the connection is declared stale after 2 unanswered: a dead server
# (or a network partition that keeps the socket open) is noticed within about 6 s.
PING_INTERVAL: Final = 2
MAX_OUTSTANDING_PINGS: Final = 2
CONNECT_TIMEOUT: Final = 2
# For the first connect only: each server gets two tries, then nats-py gives up and tenacity
# decides. Afterwards the client reconnects forever (-1), see connect_bus.
_INITIAL_ATTEMPTS_PER_SERVER: Final = 1
_USERINFO: Final = re.compile(r"//[^@/]*@")


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, for logs and error messages."""
    return _USERINFO.sub("//***@", url)


def shared_credentials(servers: Sequence[str]) -> tuple[str | None, str | None, str | None]:
    """``(user, password, token)`` options for nats-py, when the URLs carry credentials.

    nats-py adds the servers a cluster announces (its ``connect_urls``) to its pool without any
    credentials, and on a reconnect to one of them it sends the connection's ``user``/``password``
    options if set, else nothing: the server then refuses it (Authorization Violation). Handing
    the URLs' credentials over as options makes every server of the pool, announced or listed,
    use them. Servers that disagree on their credentials are left to carry their own.
    """
    found = set()
    for server in servers:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        found.add((parts.username, parts.password))
    if len(found) != 1:
        return None, None, None
    ((user, password),) = found
    if user is None:
        return None, None, None
    if password is None:
        return None, None, unquote(user)
    return unquote(user), unquote(password), None


def split_servers(url: str) -> list[str]:
    """``nats://a:4222,nats://b:4222`` -> the list of server URLs (a cluster's seed servers)."""
    if not isinstance(url, str):
        raise TypeError(f"url: expected a str, got {type(url).__name__}")
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError(f"url: no NATS server URL in {redact_url(url)!r}")
    for server in servers:
        if "://" in server and server.split("://", 1)[0] not in ("nats", "tls", "ws", "wss"):
            raise ValueError(f"url: {redact_url(server)!r} is not a nats://, tls://, ws:// or wss:// URL")
    return servers


class _ConnectionState:
    """Callbacks of one connection: log every transition and keep counters for health checks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.connected = asyncio.Event()
        self.disconnects = 0
        self.reconnects = 0
        self.closed = False
        self.last_error: BaseException | None = None
        self.client: Client | None = None

    def where(self) -> str:
        url = self.client.connected_url if self.client is not None else None
        return f"{url.hostname}:{url.port}" if url is not None else "-"

    async def on_error(self, error: Exception) -> None:
        self.last_error = error
        log.warning("nats[%s]: %r", self.name, error)

    async def on_disconnected(self) -> None:
        self.connected.clear()
        # close() also reports a disconnect, with the client already marked closed.
        if not self.closed and not (self.client is not None and self.client.is_closed):
            self.disconnects += 1
            log.warning("nats[%s]: disconnected; reconnecting", self.name)

    async def on_reconnected(self) -> None:
        self.reconnects += 1
        self.connected.set()
        log.info("nats[%s]: reconnected to %s", self.name, self.where())

    async def on_closed(self) -> None:
        self.closed = True
        self.connected.clear()
        log.info("nats[%s]: connection closed", self.name)


def _check_replicas(replicas: object) -> int:
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 5:
        raise ValueError(f"stream_replicas: {replicas!r} must be an int from 1 to 5")
    return replicas


class Bus:
    """One NATS connection with JetStream: publish, streams, KV, health.

    ``stream_replicas`` is the replica count of every stream and KV bucket this connection creates
    (MTS_NATS_STREAM_REPLICAS): carried by the connection so that each place that ensures a stream
    or a bucket asks for the same count, and none shrinks what another grew.
    """

    def __init__(self, nc: Client, *, name: str, state: _ConnectionState, stream_replicas: int = 1) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._state = state
        self.name = name
        self.stream_replicas = _check_replicas(stream_replicas)

    @property
    def nc(self) -> Client:
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self._js

    @property
    def is_connected(self) -> bool:
        return bool(self._nc.is_connected)

    @property
    def is_closed(self) -> bool:
        return bool(self._nc.is_closed)

    @property
    def reconnects(self) -> int:
        """How often the connection came back after a loss (consumers re-check their state)."""
        return self._state.reconnects

    @property
    def disconnects(self) -> int:
        return self._state.disconnects

    @property
    def last_error(self) -> BaseException | None:
        return self._state.last_error

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once connected and the reconnect is counted; ``TimeoutError`` after ``timeout`` s,
        ``BusUnavailableError`` at once when the connection is closed.

        nats-py marks the client connected before it calls the reconnected callback, and marks it
        reconnecting before the disconnected callback: the client's status alone can be ahead of
        ``reconnects`` and of the connected event, so both must agree.
        """
        if self.is_closed:
            raise BusUnavailableError(f"nats[{self.name}]: the connection is closed; it will not come back")
        await asyncio.wait_for(self._until_connected(), timeout)

    async def _until_connected(self) -> None:
        connected = self._state.connected
        while not (self.is_connected and connected.is_set()):
            if connected.is_set():
                # The loss is not reported yet (the disconnected callback clears the event).
                await asyncio.sleep(0.02)
            else:
                await connected.wait()

    async def ping(self, timeout: float = 1.0) -> float:  # noqa: ASYNC109
        """Round trip to the server in seconds; raises ``BusUnavailableError`` when it does not answer."""
        if timeout <= 0:
            raise ValueError(f"timeout: {timeout!r} must be positive seconds")
        if not self.is_connected:
            raise BusUnavailableError(f"nats[{self.name}]: not connected (closed={self.is_closed})")
        try:
            # nats-py annotates the timeout as int but hands it to asyncio.wait_for.
            return float(await self._nc.rtt(cast(int, timeout)))
        except nats.errors.Error as exc:
            raise BusUnavailableError(f"nats[{self.name}]: no PONG within {timeout}s: {exc!r}") from exc

    async def publish(
        self,
        subject: str,
        payload: msgspec.Struct | bytes,
        *,
        msg_id: str,
        headers: dict[str, str] | None = None,
        timeout: float = 2.0,  # noqa: ASYNC109 (per attempt, within deadline)
        deadline: float | None = 30.0,
    ) -> PubAck:
        """Publish with ``Nats-Msg-Id: msg_id`` and the current trace context.

        Timeouts, no responders and connection loss are retried (each attempt waits at most
        ``timeout`` s) until a PubAck arrives or ``deadline`` s have passed (``None``: forever);
        then ``PublishError`` names the subject. ``PubAck.duplicate`` tells that the stream already
        held this ``msg_id`` (an earlier attempt had landed).
        """
        return await publish(
            self._js, subject, payload, msg_id=msg_id, headers=headers, timeout=timeout, deadline=deadline
        )

    async def ensure_streams(
        self,
        specs: Sequence[StreamSpec] = DEFAULT_STREAMS,
        *,
        replicas: int | None = None,
        deadline: float = 30.0,
    ) -> list[StreamInfo]:
        """Create missing streams and update drifted ones; safe to call from many services at once.

        ``replicas`` defaults to the connection's ``stream_replicas``.
        """
        count = self.stream_replicas if replicas is None else replicas
        return await ensure_streams(self._js, specs, replicas=count, deadline=deadline)

    async def kv(self, bucket: str, **config: Any) -> KeyValue:
        """Bind the KV bucket, creating it first (file storage unless ``storage`` is given) if missing.

        ``config`` takes the fields of ``nats.js.api.KeyValueConfig`` (history, ttl, replicas...);
        it applies only when the bucket is created. ``replicas`` defaults to ``stream_replicas``.
        """
        try:
            return await self._js.key_value(bucket)
        except BucketNotFoundError:
            pass
        config.setdefault("storage", StorageType.FILE)
        config.setdefault("replicas", self.stream_replicas)
        try:
            return await self._js.create_key_value(KeyValueConfig(bucket=bucket, **config))
        except BadRequestError:
            # Created at the same moment by another process with a different config: use theirs.
            return await self._js.key_value(bucket)

    async def close(self) -> None:
        """Flush what is pending and close; idempotent."""
        if self._nc.is_closed:
            return
        try:
            await self._nc.close()
        except (OSError, nats.errors.Error) as exc:
            # Closing while the server is gone: nats-py fails flushing what was buffered for it.
            log.info("nats[%s]: closed while disconnected (%r); buffered data dropped", self.name, exc)
        self._state.closed = True
        self._state.connected.clear()

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _connect_once(servers: list[str], name: str) -> tuple[Client, _ConnectionState]:
    # A state per attempt: callbacks of a failed attempt's client never touch the Bus's state.
    state = _ConnectionState(name)
    nc = Client()
    state.client = nc
    user, password, token = shared_credentials(servers)
    try:
        await nc.connect(
            servers=servers,
            name=name,
            error_cb=state.on_error,
            disconnected_cb=state.on_disconnected,
            reconnected_cb=state.on_reconnected,
            closed_cb=state.on_closed,
            allow_reconnect=True,
            max_reconnect_attempts=_INITIAL_ATTEMPTS_PER_SERVER,
            reconnect_time_wait=RECONNECT_TIME_WAIT,
            connect_timeout=CONNECT_TIMEOUT,
            ping_interval=PING_INTERVAL,
            max_outstanding_pings=MAX_OUTSTANDING_PINGS,
            user=user,
            password=password,
            token=token,
        )
    except BaseException:
        await nc.close()
        raise
    return nc, state


async def connect_bus(
    url: str, *, name: str, connect_deadline: float | None = None, stream_replicas: int = 1
) -> Bus:
    """Connect to NATS (``url`` may list several servers, comma-separated).

    ``stream_replicas`` (1-5) is the replica count of the streams and KV buckets the Bus creates.

    The first connect is retried with exponential backoff until ``connect_deadline`` seconds
    have passed (``None``: forever), then ``BusConnectError``. Once connected, the client
    reconnects forever after any loss.
    """
    servers = split_servers(url)
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: a connection name is required (it shows in NATS monitoring)")
    if connect_deadline is not None and connect_deadline <= 0:
        raise ValueError(f"connect_deadline: {connect_deadline!r} must be positive seconds or None")
    _check_replicas(stream_replicas)

    shown = redact_url(url)

    def log_retry(retry: RetryCallState) -> None:
        error = retry.outcome.exception() if retry.outcome else None
        log.warning("nats[%s]: connect attempt %d to %s failed: %r", name, retry.attempt_number, shown, error)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type((OSError, TimeoutError, nats.errors.Error)),
        stop=stop_never if connect_deadline is None else stop_after_delay(connect_deadline),
        wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
        before_sleep=log_retry,
    )
    try:
        async for attempt in retrying:
            with attempt:
                nc, state = await _connect_once(servers, name)
    except RetryError as exc:
        raise BusConnectError(shown, connect_deadline, exc.last_attempt.exception()) from None
    # nats-py has no "retry the first connect" switch apart from retrying forever inside
    # connect(); the bounded first attempt above lets tenacity own the deadline, and from
    # here on a lost connection is re-established endlessly.
    nc.options["max_reconnect_attempts"] = -1
    state.connected.set()
    log.info("nats[%s]: connected to %s", name, state.where())
    return Bus(nc, name=name, state=state, stream_replicas=stream_replicas)
