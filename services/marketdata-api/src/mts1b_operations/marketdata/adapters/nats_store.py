"""A Litestar :class:`~litestar.stores.base.Store` on a NATS JetStream KV bucket.

Every service already talks to NATS, so a KV bucket is the natural place for state that the
replicas of a service share — here the rate-limit counters, so that several replicas behind a
load balancer enforce one limit per client. Values are Litestar's ``StorageObject`` (the data
with its own expiry); the bucket's ``ttl`` only collects keys nobody touches any more.

Beyond the Store interface, :meth:`NatsKVStore.get_versioned` and
:meth:`NatsKVStore.compare_and_set` give an atomic read-modify-write across processes (the
bucket's per-key revision), which the rate limiter uses so that concurrent requests on
different replicas never overwrite each other's count.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Final

import msgspec
from litestar.stores.base import StorageObject, Store
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from mts1b_operations.core.bus import Bus

__all__ = ["NatsKVStore", "kv_key"]

_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def kv_key(key: str) -> str:
    """``key`` as a valid KV key: characters other than letters, digits, ``_`` and ``-`` become
    ``=XX`` (their UTF-8 bytes in hex), so distinct keys stay distinct (``:`` of an IPv6 address,
    ``.`` of an IPv4 one)."""
    if key and all(ch in _SAFE for ch in key):
        return key
    return "".join(ch if ch in _SAFE else "".join(f"={b:02X}" for b in ch.encode()) for ch in key) or "="


class NatsKVStore(Store):
    """Litestar Store on the KV bucket ``bucket``; every operation is bounded by ``timeout`` seconds
    (``TimeoutError`` past it). Build one with :meth:`open`."""

    __slots__ = ("_js", "_kv", "_timeout", "bucket")

    def __init__(self, kv: KeyValue, *, bucket: str, js: JetStreamContext, timeout: float = 0.5) -> None:
        self._kv = kv
        self._js = js
        self._timeout = timeout
        self.bucket = bucket

    @classmethod
    async def open(cls, bus: Bus, bucket: str, *, ttl: float, op_timeout: float = 0.5) -> NatsKVStore:
        """Bind ``bucket`` (created with one value per key and ``ttl`` seconds of retention if missing)."""
        kv = await bus.kv(bucket, history=1, ttl=ttl, description="shared state of mts1b-marketdata-api")
        return cls(kv, bucket=bucket, js=bus.js, timeout=op_timeout)

    async def _entry(self, key: str) -> tuple[StorageObject | None, int]:
        """The stored object (None when absent) and the revision a compare-and-set must name."""
        try:
            async with asyncio.timeout(self._timeout):
                entry = await self._kv.get(kv_key(key))
        except KeyNotFoundError as exc:
            # A deleted key leaves a tombstone whose revision the next write must name.
            tombstone = getattr(exc, "entry", None)
            return None, int(tombstone.revision) if tombstone is not None else 0
        try:
            stored = StorageObject.from_bytes(entry.value or b"")
        except msgspec.DecodeError:
            return None, int(entry.revision or 0)
        return stored, int(entry.revision or 0)

    async def get_versioned(self, key: str) -> tuple[bytes | None, int]:
        """The value (None when absent or expired) and the key's revision for :meth:`compare_and_set`."""
        stored, revision = await self._entry(key)
        if stored is None or stored.expired:
            return None, revision
        return stored.data, revision

    async def compare_and_set(
        self, key: str, value: str | bytes, revision: int, expires_in: int | timedelta | None = None
    ) -> bool:
        """Write ``value`` only if the key is still at ``revision``; False when another writer won."""
        data = value.encode() if isinstance(value, str) else value
        try:
            async with asyncio.timeout(self._timeout):
                stored = StorageObject.new(data, expires_in).to_bytes()
                await self._kv.update(kv_key(key), stored, last=revision)
        except KeyWrongLastSequenceError:
            return False
        return True

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        async with asyncio.timeout(self._timeout):
            await self._kv.put(kv_key(key), StorageObject.new(data, expires_in).to_bytes())

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        stored, revision = await self._entry(key)
        if stored is None or stored.expired:
            return None
        if renew_for is not None and stored.expires_at is not None:
            # Best effort: a concurrent write wins over the renewal.
            await self.compare_and_set(key, stored.data, revision, renew_for)
        return stored.data

    async def delete(self, key: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._kv.delete(kv_key(key))

    async def delete_all(self) -> None:
        async with asyncio.timeout(self._timeout):
            await self._js.purge_stream(f"KV_{self.bucket}")

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        stored, _ = await self._entry(key)
        if stored is None or stored.expired or stored.expires_at is None:
            return None
        return stored.expires_in

    def __repr__(self) -> str:
        return f"NatsKVStore(bucket={self.bucket!r})"
