"""Group commit: concurrent submissions in one process flushed together, one result each.

Every :meth:`GroupCommitter.submit` queues its item and waits on a future of its own. One worker
task takes what is queued (at most ``max_batch`` items) and hands it to ``flush`` in one call,
which for the audit chain is one Postgres transaction; the n-th result goes to the n-th caller.
If ``flush`` raises, every caller of that batch gets the exception. Only one flush runs at a
time: batches of one process would queue on the chain head's lock anyway, and while one is in
flight the next one fills up, which is where the batching comes from under load.

``linger`` bounds how long a batch waits for more items once it has one; it only waits while
items keep arriving (a lone caller is flushed at once instead of paying the linger).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommitter", "GroupCommitterClosedError"]

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class GroupCommitterClosedError(RuntimeError):
    """``submit`` after ``close``."""


class GroupCommitter(Generic[ItemT, ResultT]):
    """Batches concurrent ``submit`` calls into calls of ``flush`` (see the module docstring)."""

    def __init__(
        self,
        flush: Callable[[Sequence[ItemT]], Awaitable[Sequence[ResultT]]],
        *,
        max_batch: int = 256,
        linger: float = 0.002,
        name: str = "group-commit",
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch: must be a positive integer (got {max_batch!r})")
        if not isinstance(linger, int | float) or not 0 <= linger <= 1:
            raise ValueError(f"linger: must be between 0 and 1 second (got {linger!r})")
        self._flush = flush
        self.max_batch = max_batch
        self.linger = float(linger)
        self._name = name
        self._pending: deque[tuple[ItemT, asyncio.Future[ResultT]]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        """Batches flushed so far (failed ones included)."""
        self.items = 0
        """Items flushed so far."""

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Items queued and not yet taken into a batch."""
        return len(self._pending)

    async def submit(self, item: ItemT) -> ResultT:
        """Queue ``item``; return its result once its batch is flushed (or raise the batch's error)."""
        if self._closed:
            raise GroupCommitterClosedError(f"{self._name} is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._pending.append((item, future))
        self._ensure_worker().set()
        return await future

    async def close(self) -> None:
        """Refuse new items, flush the queued ones, stop the worker."""
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is None:
            return
        assert self._wakeup is not None
        self._wakeup.set()
        await worker

    def _ensure_worker(self) -> asyncio.Event:
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = asyncio.create_task(self._run(self._wakeup), name=self._name)
        assert self._wakeup is not None
        return self._wakeup

    async def _run(self, wakeup: asyncio.Event) -> None:
        while True:
            if not self._pending:
                if self._closed:
                    return
                wakeup.clear()
                await wakeup.wait()
                continue
            await self._linger()
            batch = self._take()
            if batch:
                await self._flush_batch(batch)

    async def _linger(self) -> None:
        if self.linger <= 0 or len(self._pending) >= self.max_batch:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        seen = len(self._pending)
        while seen < self.max_batch and loop.time() < deadline:
            # One pass of the event loop: callers that are ready to submit (typically those the
            # previous batch just answered) get to join this batch.
            await asyncio.sleep(0)
            if len(self._pending) == seen:
                return
            seen = len(self._pending)

    def _take(self) -> list[tuple[ItemT, asyncio.Future[ResultT]]]:
        batch: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        while self._pending and len(batch) < self.max_batch:
            item, future = self._pending.popleft()
            if not future.cancelled():  # its caller gave up before it was written: drop it
                batch.append((item, future))
        return batch

    async def _flush_batch(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"flush returned {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
                    # Mark it retrieved: a caller that was cancelled meanwhile never will, and
                    # asyncio would log it as lost although every live caller receives it.
                    future.exception()
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
