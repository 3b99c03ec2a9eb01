"""The latest value per key (quote per symbol, NAV per fund), kept in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["LatestBook"]

K = TypeVar("K")
V = TypeVar("V")


class LatestBook(Generic[K, V]):
    """Keeps, per key, the value with the newest timestamp.

    A value older than the one held is ignored, so replaying a stream (a warm start, a consumer
    reset after a reconnect) never moves a key back in time.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[K, tuple[datetime, V]] = {}

    def put(self, key: K, value: V, ts: datetime) -> bool:
        """Hold ``value`` unless the value held for ``key`` is newer; True when it was taken."""
        held = self._items.get(key)
        if held is not None and held[0] > ts:
            return False
        self._items[key] = (ts, value)
        return True

    def get(self, key: K) -> V | None:
        held = self._items.get(key)
        return None if held is None else held[1]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> Iterator[tuple[K, V]]:
        for key, (_, value) in self._items.items():
            yield key, value
