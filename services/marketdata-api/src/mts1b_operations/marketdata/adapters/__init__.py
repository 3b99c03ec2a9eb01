"""Adapters of the market-data service: Postgres (bars), NATS (feeds, halts mirror, shared store)."""

from .kv import HALTS_BUCKET, HaltsMirror
from .nats import LastValueFeed, MessageHandler
from .nats_store import NatsKVStore, kv_key
from .postgres import BarsStore

__all__ = [
    "HALTS_BUCKET",
    "BarsStore",
    "HaltsMirror",
    "LastValueFeed",
    "MessageHandler",
    "NatsKVStore",
    "kv_key",
]
