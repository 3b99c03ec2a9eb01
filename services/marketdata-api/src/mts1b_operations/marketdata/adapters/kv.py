"""A live mirror of the KV bucket ``mts_halts`` (one key per halt in force, owned by mts1b-halt).

Keys are ``firm``, ``fund.<fund_id>`` and ``strategy.<strategy_id>``; each value is the JSON of
the halt's ``HaltRequested`` payload. A KV bucket is a stream (``KV_<bucket>``, one subject
``$KV.<bucket>.<key>`` per key, the last message per subject being the key's value), so the
mirror follows it with the same warm-started ordered consumer as the quotes: puts replace a key,
deletes and purges (``KV-Operation`` header, or a server marker) drop it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from nats.js.kv import KV_DEL, KV_OP, KV_PURGE

from mts1b_operations.core import schemas
from mts1b_operations.core.bus import Bus

from ..domain import HaltInForce, halt_in_force
from .nats import LastValueFeed

__all__ = ["HALTS_BUCKET", "HaltsMirror"]

log = logging.getLogger(__name__)

HALTS_BUCKET: Final = "mts_halts"
_MARKER_REASON: Final = "Nats-Marker-Reason"  # nats-server 2.11+: a key removed by TTL or purge


class HaltsMirror:
    """The halts in force, as the bucket holds them; :meth:`start` returns once the values present
    are read (or after ``warm_timeout`` s with a warning)."""

    def __init__(self, bus: Bus, *, bucket: str = HALTS_BUCKET, warm_timeout: float = 15.0) -> None:
        self._bus = bus
        self.bucket = bucket
        self._prefix = f"$KV.{bucket}."
        self._halts: dict[str, HaltInForce] = {}
        self._feed = LastValueFeed(
            bus,
            name=f"halts mirror ({bucket})",
            stream=f"KV_{bucket}",
            subject=f"{self._prefix}>",
            handle=self._apply,
            warm_timeout=warm_timeout,
        )

    @property
    def warm(self) -> bool:
        return self._feed.warm

    def halts(self) -> list[HaltInForce]:
        """Every halt in force, ordered by key."""
        return [self._halts[key] for key in sorted(self._halts)]

    def _apply(self, subject: str, data: bytes, headers: Mapping[str, str]) -> None:
        key = subject.removeprefix(self._prefix)
        if headers.get(KV_OP) in (KV_DEL, KV_PURGE) or _MARKER_REASON in headers:
            self._halts.pop(key, None)
            return
        try:
            halt = schemas.decode(data, schemas.HaltRequested)
        except schemas.SchemaError:
            self._halts.pop(key, None)
            raise
        self._halts[key] = halt_in_force(key, halt)

    async def start(self) -> None:
        # Same settings as mts1b-halt's open_bucket: whichever service starts first creates it.
        await self._bus.kv(self.bucket, history=1)
        await self._feed.start()

    async def stop(self) -> None:
        await self._feed.stop()
