"""Periodic ServiceHeartbeat on mts.v1.operations.service.heartbeat.<service>."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from datetime import UTC, datetime

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import ServiceHeartbeat

from ._spec import ServiceContext

__all__ = ["HeartbeatPublisher"]

log = logging.getLogger(__name__)


class HeartbeatPublisher:
    """Publishes the instance's heartbeat every ``interval`` seconds until stopped.

    A failed publish (NATS down) is logged once per outage and skipped: the next beat is the retry.
    """

    def __init__(self, context: ServiceContext, *, interval: float) -> None:
        self.context = context
        self.interval = interval
        self.subject = subjects.service_heartbeat(context.name)
        self._host = socket.gethostname()
        self._seq = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failing = False
        self.sent = 0

    def message(self, *, ready: bool) -> ServiceHeartbeat:
        ctx = self.context
        return ServiceHeartbeat(
            service=ctx.name,
            instance_id=ctx.instance_id,
            pid=os.getpid(),
            host=self._host,
            http_url=ctx.http_url,
            ready=ready,
            version=ctx.spec.resolved_version,
            started_at=ctx.started_at,
            sent_at=datetime.now(UTC),
        )

    async def publish(self, *, ready: bool, deadline: float) -> bool:
        """Send one heartbeat; True when NATS acknowledged it."""
        msg_id = f"{self.context.instance_id}:{next(self._seq)}"
        try:
            await self.context.bus.publish(
                self.subject,
                self.message(ready=ready),
                msg_id=msg_id,
                timeout=min(1.0, deadline),
                deadline=deadline,
            )
        except Exception as exc:
            if not self._failing:
                log.warning("heartbeat not published (%s: %s); will keep trying", type(exc).__name__, exc)
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat published again")
        self._failing = False
        self.sent += 1
        return True

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.publish(ready=self.context.ready and not self.context.draining, deadline=self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"heartbeat:{self.context.name}")

    async def stop(self) -> None:
        """Stop the periodic beat (no final beat: the lifecycle sends that once everything is drained)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
