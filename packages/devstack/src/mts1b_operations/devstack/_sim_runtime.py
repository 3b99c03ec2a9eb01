"""What the market replay and the paper OMS processes share: signals, logging, connecting, pacing.

Both are plain processes (no HTTP): SIGTERM or SIGINT sets a stop event, the process drains
and exits 0. Under `mts dev up` they are started with ``--exit-with-parent``, so a supervisor
killed without cleaning up does not leave them behind: they notice the re-parenting and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from mts1b_operations.core.bus import Bus, connect_bus

__all__ = ["configure_logging", "connect_until_stopped", "run_until_stopped", "sleep_or_stop"]

log = logging.getLogger(__name__)


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("nats").setLevel(logging.WARNING)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; True when stopped."""
    if seconds > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def connect_until_stopped(url: str, *, name: str, stop: asyncio.Event) -> Bus | None:
    """Connect to NATS, retrying for as long as it takes; None when ``stop`` is set first."""
    connecting = asyncio.create_task(connect_bus(url, name=name, connect_deadline=None))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if connecting.done():
        return connecting.result()
    connecting.cancel()
    await asyncio.gather(connecting, return_exceptions=True)
    return None


async def _watch_parent(stop: asyncio.Event, parent: int) -> None:
    while not await sleep_or_stop(stop, 1.0):
        if os.getppid() != parent:
            log.warning("parent process %d is gone; stopping", parent)
            stop.set()


async def run_until_stopped(
    main: Callable[[asyncio.Event], Awaitable[None]], *, name: str, exit_with_parent: bool = False
) -> int:
    """Run ``main(stop)``; SIGTERM/SIGINT set ``stop``. Exit status 0, or 1 when ``main`` failed."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(stop, os.getppid())) if exit_with_parent else None
    try:
        await main(stop)
    except Exception:
        log.exception("%s failed", name)
        return 1
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    log.info("%s stopped", name)
    return 0
