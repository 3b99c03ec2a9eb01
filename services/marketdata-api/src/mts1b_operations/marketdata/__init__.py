"""The mts1b-marketdata-api service: public, read-only market data fed from NATS.

Run it with ``mts serve marketdata-api`` or ``python -m mts1b_operations.marketdata``.
"""

from .bootstrap import build_spec, service_spec
from .ratelimit import RateLimitSettings, load_rate_limit_settings
from .service import MarketData, market_data

__all__ = [
    "MarketData",
    "RateLimitSettings",
    "build_spec",
    "load_rate_limit_settings",
    "market_data",
    "service_spec",
]
