"""Serve a Litestar app with granian's embedded server, inside the lifecycle's own asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server.embed import Server
from litestar import Litestar

__all__ = ["HttpServer", "HttpServerError"]

log = logging.getLogger(__name__)


class HttpServerError(RuntimeError):
    """The HTTP server could not start (e.g. the port is taken)."""


class HttpServer:
    """One granian worker running in the current loop, so the app and the lifecycle share it.

    ``start`` returns once the socket is bound; ``stop`` makes granian stop accepting connections,
    finish its in-flight requests and run the app's lifespan shutdown.
    """

    def __init__(self, app: Litestar, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server = Server(
            app,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            log_level=LogLevels.error,
        )
        self._bound = asyncio.Event()
        self._server.on_startup(self._bound.set)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, bind_within: float = 10.0) -> None:
        self._task = asyncio.create_task(self._server.serve(), name=f"granian:{self.port}")
        bound = asyncio.create_task(self._bound.wait())
        try:
            done, _ = await asyncio.wait(
                {self._task, bound}, timeout=bind_within, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            bound.cancel()
        if self._task in done:
            exc = self._task.exception()
            # granian's errors carry a Rust backtrace after the first line.
            first = str(exc).strip().splitlines()[0] if exc and str(exc).strip() else ""
            reason = f"{type(exc).__name__}: {first}" if exc else "the server stopped at once"
            raise HttpServerError(f"cannot serve HTTP on {self.host}:{self.port}: {reason}")
        if bound not in done:
            await self.stop()
            raise HttpServerError(
                f"cannot serve HTTP on {self.host}:{self.port}: not bound after {bind_within:g}s"
            )

    async def wait_stopped(self) -> None:
        """Return when the server task ends (for the lifecycle to notice an unexpected stop)."""
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def stop(self, grace: float = 10.0) -> None:
        task = self._task
        if task is None or task.done():
            return
        self._server.stop()  # type: ignore[no-untyped-call]
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.warning("HTTP server did not stop within %gs; cancelling it", grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
