from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None] | T | None],
    *,
    within: float = 30.0,
    what: str = "condition",
    poll: float = 0.02,
) -> T:
    """Poll ``check`` (sync or async) until it returns something truthy, and return that.

    A bounded wait on a condition, not a sleep standing in for one: it returns the moment the
    condition holds and fails the test naming ``what`` when it has not within ``within`` seconds.
    """
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(poll)
