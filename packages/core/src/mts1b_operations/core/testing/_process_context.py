"""``service_process``: ``start_service`` for async tests, the process stopped when the block ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from ._service_process import ServiceProcess, start_service

__all__ = ["service_process"]


@asynccontextmanager
async def service_process(
    module: str,
    *,
    database_url: str,
    nats_url: str,
    log_dir: Path,
    env: Mapping[str, str | None] | None = None,
    port: int | None = None,
    ready_timeout: float = 30.0,
) -> AsyncIterator[ServiceProcess]:
    """``python -m <module>`` started and ready (:func:`start_service`), stopped on exit.

    Both block on the process, so they run in a thread: the test's event loop (its own NATS
    responders, say) goes on meanwhile.
    """
    process = await asyncio.to_thread(
        start_service,
        module,
        database_url=database_url,
        nats_url=nats_url,
        log_dir=log_dir,
        env=env,
        port=port,
        ready_timeout=ready_timeout,
    )
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)
