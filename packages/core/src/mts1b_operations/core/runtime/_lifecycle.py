"""``run_service``: the life of every service process, from settings to a clean exit.

settings -> Postgres and NATS (retried until ``connect_deadline``) -> schema revision of every
migration set the spec names -> streams -> ``on_startup`` hooks -> outbox relay -> consumers ->
HTTP (granian) -> heartbeat -> restart-command listener. SIGTERM, SIGINT or the restart command
drains in reverse: HTTP, consumers (in-flight work finishes), relay, ``on_shutdown`` hooks, a
final ``ready=false`` heartbeat, NATS, Postgres; then exit 0.

Exit codes: 0 clean stop, 1 start-up or serving failure, 2 bad setting, 3 schema behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import uuid
from collections.abc import Awaitable
from urllib.parse import urlsplit

import asyncpg
import msgspec

from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.db import (
    SchemaBehindError,
    check_schema_current,
    create_pool,
    discover_migrations,
    redact_dsn,
)
from mts1b_operations.core.outbox import OutboxRelay
from mts1b_operations.core.settings import Settings, load_settings_or_exit
from mts1b_operations.core.telemetry import TelemetryConfigError, configure_tracing

from ._app import create_app
from ._commands import RestartListener
from ._heartbeat import HeartbeatPublisher
from ._server import HttpServer, HttpServerError
from ._spec import Consumer, ServiceContext, ServiceSpec

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_SCHEMA_BEHIND", "EXIT_SETTINGS", "run_service"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_SETTINGS = 2
EXIT_SCHEMA_BEHIND = 3

STEP_TIMEOUT = 10.0
FINAL_HEARTBEAT_DEADLINE = 2.0

log = logging.getLogger("mts1b_operations.runtime")


class StartupError(RuntimeError):
    """A start-up step failed; the message is the one line printed on stderr."""


def _nats_hosts(url: str) -> str:
    """``host:port`` of each server, without any credentials the URL may carry."""
    return ", ".join(urlsplit(part.strip()).netloc.rsplit("@", 1)[-1] for part in url.split(","))


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


async def _step(what: str, work: Awaitable[object], *, service_code: bool = False) -> None:
    try:
        await work
    except Exception as exc:
        if service_code:
            # A bug in the service's own hook or consumer: the traceback is what its author needs.
            log.exception("%s failed", what)
        raise StartupError(f"{what} failed: {_one_line(exc)}") from exc


class _Lifecycle:
    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self.instance_id = str(uuid.uuid4())
        self.label = spec.title
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._failure_line = ""
        self.pool: asyncpg.Pool | None = None
        self.bus: Bus | None = None
        self.context: ServiceContext | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[Consumer] = []
        self.hooks_ran = False
        self.server: HttpServer | None = None
        self.heartbeat: HeartbeatPublisher | None = None
        self.listener: RestartListener | None = None

    def request_stop(self, reason: str) -> None:
        if self._stop.is_set():
            log.info("already stopping (%s); ignoring %s", self._stop_reason, reason)
            return
        self._stop_reason = reason
        log.info("stop requested: %s", reason)
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        starting = asyncio.create_task(self._start(), name="start-up")
        stopping = asyncio.create_task(self._stop.wait(), name="stop-requested")
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await starting
                return EXIT_OK
            failure = starting.exception()
            if failure is not None:
                return self._startup_failure(failure)
            return await self._serve_until_stopped(stopping)
        finally:
            stopping.cancel()
            await self._drain()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if self._failure_line:
                # Last, after the drain's log lines: the one line an operator has to read.
                print(f"{self.label}: {self._failure_line}", file=sys.stderr, flush=True)

    def _startup_failure(self, exc: BaseException) -> int:
        log.debug("start-up failed", exc_info=exc)
        if isinstance(exc, SchemaBehindError):
            self._failure_line = str(exc)
            return EXIT_SCHEMA_BEHIND
        self._failure_line = (
            str(exc) if isinstance(exc, StartupError) else f"start-up failed: {_one_line(exc)}"
        )
        return EXIT_FAILURE

    async def _serve_until_stopped(self, stopping: asyncio.Task[object]) -> int:
        assert self.server is not None
        server_down = asyncio.create_task(self.server.wait_stopped(), name="http-watch")
        try:
            await asyncio.wait({stopping, server_down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            server_down.cancel()
        if self._stop.is_set():
            return EXIT_OK
        self._failure_line = "the HTTP server stopped unexpectedly"
        return EXIT_FAILURE

    async def _start(self) -> None:
        spec, settings = self.spec, self.settings
        deadline = spec.connect_deadline
        log.info("connecting to Postgres at %s", redact_dsn(settings.database_url))
        try:
            self.pool = pool = await create_pool(settings.database_url, connect_deadline=deadline)
        except Exception as exc:
            raise StartupError(f"cannot connect to Postgres (MTS_DATABASE_URL): {_one_line(exc)}") from exc
        log.info("connecting to NATS at %s", _nats_hosts(settings.nats_url))
        try:
            self.bus = bus = await connect_bus(
                settings.nats_url,
                name=f"{self.label}:{self.instance_id}",
                connect_deadline=deadline,
                stream_replicas=settings.nats_stream_replicas,
            )
        except Exception as exc:
            raise StartupError(f"cannot connect to NATS (MTS_NATS_URL): {_one_line(exc)}") from exc

        await self._check_schema(pool)
        await _step("creating the JetStream streams", bus.ensure_streams())

        self.context = context = ServiceContext(
            spec=spec,
            settings=settings,
            pool=pool,
            bus=bus,
            instance_id=self.instance_id,
            on_stop_request=self.request_stop,
        )
        self.hooks_ran = True
        for hook in spec.on_startup:
            await _step(
                f"start-up hook {getattr(hook, '__name__', hook)!r}", hook(context), service_code=True
            )

        self.relay = OutboxRelay(pool, bus, source=spec.name)
        await _step("starting the outbox relay", self.relay.start())
        context.relay = self.relay

        for factory in spec.consumers:
            try:
                consumer = factory(context)
            except Exception as exc:
                log.exception("building consumer %r failed", factory)
                raise StartupError(f"building consumer {factory!r} failed: {_one_line(exc)}") from exc
            self.consumers.append(consumer)
            await _step(f"starting consumer {type(consumer).__name__}", consumer.start(), service_code=True)

        self.server = HttpServer(create_app(context), host=settings.http_host, port=settings.http_port)
        try:
            await self.server.start()
        except HttpServerError as exc:
            raise StartupError(str(exc)) from exc
        context.ready = True

        self.heartbeat = HeartbeatPublisher(context, interval=spec.heartbeat_interval)
        self.heartbeat.start()
        self.listener = RestartListener(context)
        await _step("subscribing to the restart command", self.listener.start())
        log.info(
            "%s %s (instance %s) serving on %s",
            self.label,
            spec.resolved_version,
            self.instance_id,
            context.http_url,
        )

    async def _check_schema(self, pool: asyncpg.Pool) -> None:
        try:
            sets = discover_migrations()
        except Exception as exc:
            raise StartupError(f"cannot discover the migration sets: {_one_line(exc)}") from exc
        for name in self.spec.migrations:
            mset = sets.get(name)
            if mset is None:
                known = ", ".join(sorted(sets)) or "none"
                raise StartupError(f"migration set {name!r} is not installed (installed: {known})")
            await check_schema_current(pool, mset)

    async def _drain(self) -> None:
        context = self.context
        if context is not None:
            context.ready = False
            context.draining = True
        if self.heartbeat is not None:
            await self._quietly("stopping the heartbeat", self.heartbeat.stop())
        if self.server is not None:
            await self._quietly("stopping HTTP", self.server.stop(grace=STEP_TIMEOUT))
        if self.listener is not None:
            await self._quietly("unsubscribing from the restart command", self.listener.stop())
        for consumer in reversed(self.consumers):
            await self._quietly(
                f"stopping consumer {type(consumer).__name__}", consumer.stop(), self.spec.drain_timeout
            )
        if self.relay is not None:
            await self._quietly("stopping the outbox relay", self.relay.stop())
        if self.hooks_ran and context is not None:
            for hook in reversed(self.spec.on_shutdown):
                await self._quietly(f"shutdown hook {getattr(hook, '__name__', hook)!r}", hook(context))
        if self.heartbeat is not None:
            await self._quietly(
                "the final heartbeat",
                self.heartbeat.publish(ready=False, deadline=FINAL_HEARTBEAT_DEADLINE),
            )
        if self.bus is not None:
            await self._quietly("closing NATS", self.bus.close())
        if self.pool is not None:
            await self._close_pool()
        log.info("%s stopped", self.label)

    async def _close_pool(self) -> None:
        pool = self.pool
        assert pool is not None
        try:
            await asyncio.wait_for(pool.close(), STEP_TIMEOUT)
        except Exception as exc:
            log.warning("closing Postgres: %s; terminating the pool", _one_line(exc))
            pool.terminate()

    @staticmethod
    async def _quietly(what: str, work: Awaitable[object], limit: float = STEP_TIMEOUT) -> None:
        try:
            async with asyncio.timeout(limit):
                await work
        except Exception as exc:
            log.warning("drain: %s failed: %s", what, _one_line(exc))


def _settings(spec: ServiceSpec) -> Settings:
    settings = load_settings_or_exit(spec.name)
    if not os.environ.get("MTS_HTTP_PORT", "").strip():
        settings = msgspec.structs.replace(settings, http_port=spec.default_port)
    return settings


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run_service(spec: ServiceSpec) -> int:
    """Run the service until it is stopped; return the process exit code (see the module doc)."""
    try:
        settings = _settings(spec)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_SETTINGS
    try:
        tracing = configure_tracing(spec.title)
    except TelemetryConfigError as exc:
        print(f"{spec.title}: configuration error: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETTINGS
    _configure_logging()
    try:
        return asyncio.run(_Lifecycle(spec, settings).run())
    finally:
        if tracing is not None:
            tracing.shutdown()
