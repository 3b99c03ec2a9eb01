"""GroupCommitter on its own: batching, one result per caller, failures, cancellation, close."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from mts1b_operations.audit.adapters.group_commit import GroupCommitter, GroupCommitterClosedError


async def until_pending(committer: GroupCommitter[int, str], n: int) -> None:
    """Bounded wait until ``n`` items are queued."""
    for _ in range(1000):
        if committer.pending == n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{committer.pending} items queued, expected {n}")


class Recorder:
    """A flush that records its batches; it can be held, to let a queue build up, or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.entered = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self, items: Sequence[int]) -> list[str]:
        self.batches.append(list(items))
        self.entered.set()
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [f"r{i}" for i in items]


async def test_concurrent_submissions_are_flushed_together_each_getting_its_result() -> None:
    flush = Recorder()
    committer = GroupCommitter(flush, max_batch=10)
    results = await asyncio.gather(*(committer.submit(i) for i in range(25)))
    assert results == [f"r{i}" for i in range(25)]
    assert [len(b) for b in flush.batches] == [10, 10, 5]
    assert sorted(i for b in flush.batches for i in b) == list(range(25))
    assert (committer.batches, committer.items) == (3, 25)
    await committer.close()


async def test_while_a_flush_is_in_flight_the_next_batch_fills() -> None:
    flush = Recorder()
    flush.release.clear()
    committer = GroupCommitter(flush, max_batch=100, linger=0)
    first = asyncio.create_task(committer.submit(0))
    await flush.entered.wait()
    later = [asyncio.create_task(committer.submit(i)) for i in range(1, 31)]
    await until_pending(committer, 30)
    flush.release.set()
    assert await first == "r0"
    assert [await t for t in later] == [f"r{i}" for i in range(1, 31)]
    assert flush.batches == [[0], list(range(1, 31))]
    await committer.close()


async def test_a_lone_caller_is_flushed_at_once_despite_the_linger() -> None:
    flush = Recorder()
    committer = GroupCommitter(flush, linger=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await committer.submit(7) == "r7"
    assert loop.time() - started < 0.5
    await committer.close()


async def test_a_failed_flush_fails_every_caller_of_its_batch_only() -> None:
    flush = Recorder()
    committer = GroupCommitter(flush, max_batch=4)
    flush.fail = RuntimeError("disk on fire")
    results = await asyncio.gather(*(committer.submit(i) for i in range(4)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and str(r) == "disk on fire" for r in results)
    flush.fail = None
    assert await committer.submit(9) == "r9", "the committer keeps working after a failed batch"
    await committer.close()


async def test_a_cancelled_caller_is_left_out_of_its_batch() -> None:
    flush = Recorder()
    flush.release.clear()
    committer = GroupCommitter(flush, linger=0)
    first = asyncio.create_task(committer.submit(0))
    await flush.entered.wait()
    doomed = asyncio.create_task(committer.submit(1))
    kept = asyncio.create_task(committer.submit(2))
    await until_pending(committer, 2)
    doomed.cancel()
    flush.release.set()
    assert (await first, await kept) == ("r0", "r2")
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert flush.batches == [[0], [2]]
    await committer.close()


async def test_close_flushes_what_is_queued_then_refuses() -> None:
    flush = Recorder()
    flush.release.clear()
    committer = GroupCommitter(flush)
    pending = [asyncio.create_task(committer.submit(i)) for i in range(3)]
    await flush.entered.wait()
    assert committer.pending == 0, "all three went into the first batch"
    closing = asyncio.create_task(committer.close())
    flush.release.set()
    await closing
    assert [await p for p in pending] == ["r0", "r1", "r2"]
    with pytest.raises(GroupCommitterClosedError):
        await committer.submit(4)


def test_arguments_are_checked() -> None:
    for kwargs, name in (
        ({"max_batch": 0}, "max_batch"),
        ({"linger": 2}, "linger"),
        ({"max_batch": True}, "max_batch"),
    ):
        with pytest.raises(ValueError, match=name):
            GroupCommitter(Recorder(), **kwargs)  # type: ignore[arg-type]
