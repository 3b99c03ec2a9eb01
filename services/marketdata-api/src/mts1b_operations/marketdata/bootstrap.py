"""How the runtime starts mts1b-marketdata-api: ``service_spec()`` (entry point
``mts1b_operations.services``).

Start-up: the rate-limit settings are read first (``MTS_RATE_LIMIT*``; a bad one exits 2 naming
the variable). The hook ``start_marketdata`` reads the funds registry (MTS_FUNDS_FILE; without
it /v1/funds is an empty list), builds the service state and, with ``MTS_RATE_LIMIT_STORE=nats``,
binds the shared rate-limit bucket. Then the consumers start — the quote, NAV and halts feeds
each return once warm (the last value of every subject read), then the bars consumer — and only
then does HTTP serve, so a restarted instance answers with quotes at once.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Final

from mts1b_operations.core.funds import FundsRegistry, load_funds
from mts1b_operations.core.runtime import Hook, ServiceContext, ServiceSpec
from mts1b_operations.core.settings import SettingsError

from .adapters import BarsStore, HaltsMirror, NatsKVStore
from .entrypoints import api_router, bars_ingest, halts_mirror, nav_feed, quote_feed
from .ratelimit import STORE_STATE_KEY, RateLimitSettings, load_rate_limit_settings
from .service import STATE_KEY, MarketData

__all__ = ["NAME", "build_spec", "service_spec", "startup_hook"]

log = logging.getLogger(__name__)

NAME: Final = "marketdata-api"

OTEL_EXCLUDED_URLS: Final = "OTEL_PYTHON_LITESTAR_EXCLUDED_URLS"
UNTRACED_BY_DEFAULT: Final = "/v1/quotes/"


def _untrace_quote_reads() -> None:
    """Leave quote reads out of tracing unless the operator chose what to exclude.

    A quote read is a dictionary lookup served thousands of times a second; the HTTP server span
    around it costs more than the read (about 35 of 90 µs) and says nothing a metric does not.
    OpenTelemetry's own variables decide: set ``OTEL_PYTHON_LITESTAR_EXCLUDED_URLS`` (or
    ``OTEL_PYTHON_EXCLUDED_URLS``), even to an empty value, to trace them again.
    """
    if OTEL_EXCLUDED_URLS not in os.environ and "OTEL_PYTHON_EXCLUDED_URLS" not in os.environ:
        os.environ[OTEL_EXCLUDED_URLS] = UNTRACED_BY_DEFAULT


def _funds(context: ServiceContext) -> FundsRegistry:
    path = context.settings.funds_file
    if path is None:
        log.warning("MTS_FUNDS_FILE is not set: /v1/funds answers an empty list")
        return FundsRegistry.empty()
    try:
        return load_funds(path)
    except ValueError as exc:
        raise SettingsError("MTS_FUNDS_FILE", str(exc)) from None


def startup_hook(rate_limit: RateLimitSettings) -> Hook:
    """The start-up hook for ``rate_limit`` (see the module doc)."""

    async def start_marketdata(context: ServiceContext) -> None:
        _untrace_quote_reads()  # before the app (and its tracing middleware) is built
        funds = _funds(context)
        context.state[STATE_KEY] = MarketData(
            bars=BarsStore(context.pool), halts=HaltsMirror(context.bus), funds=funds
        )
        if rate_limit.store == "nats":
            # Counters expire with their window; the bucket's TTL only sweeps abandoned keys.
            ttl = float(max(2 * rate_limit.window_seconds, 60))
            store = await NatsKVStore.open(
                context.bus, rate_limit.bucket, ttl=ttl, op_timeout=rate_limit.store_timeout
            )
            context.state[STORE_STATE_KEY] = store
        log.info(
            "market data: %d fund(s); rate limit %d per %s per client (%s store%s)",
            len(funds), rate_limit.requests, rate_limit.unit, rate_limit.store,
            f", trusting {rate_limit.trusted_proxy_header}" if rate_limit.trusted_proxy_header else "",
        )  # fmt: skip

    return start_marketdata


def build_spec(rate_limit: RateLimitSettings) -> ServiceSpec:
    """The service's declaration for the given rate-limit settings (tests build their own)."""
    return ServiceSpec(
        name=NAME,
        import_name="mts1b_operations.marketdata",
        default_port=8105,
        migrations=("core", NAME),
        description=(
            "Public, read-only market data fed from NATS: latest quotes, OHLCV bars (aggregated from "
            "finer bars when not published), fund status and halts in force. No authentication; "
            "rate-limited per client IP (429 with Retry-After)."
        ),
        route_handlers=[api_router(rate_limit)],
        consumers=[quote_feed, nav_feed, halts_mirror, bars_ingest],
        on_startup=[startup_hook(rate_limit)],
    )


def service_spec(env: Mapping[str, str] | None = None) -> ServiceSpec:
    """The spec from the environment; a bad MTS_RATE_LIMIT* setting exits 2 with one line naming it."""
    try:
        rate_limit = load_rate_limit_settings(env)
    except SettingsError as exc:
        print(f"mts1b-{NAME}: configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    return build_spec(rate_limit)
