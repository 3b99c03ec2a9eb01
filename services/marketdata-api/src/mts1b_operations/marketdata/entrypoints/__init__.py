"""Entrypoints of the market-data service: the HTTP API and the NATS consumers."""

from .consumers import bars_ingest, halts_mirror, nav_feed, quote_feed
from .http import api_router, etag_matches

__all__ = ["api_router", "bars_ingest", "etag_matches", "halts_mirror", "nav_feed", "quote_feed"]
