"""Watchdog parameters suited to the market replay, written once into ``watchdog_config``.

The production defaults are sized for a real market day: VPIN over 50 buckets, volatility
from daily NAV bars. A replayed scenario lasts minutes, and its paper funds publish a NAV
every two seconds, so under the defaults neither watchdog would have an answer before the
scenario's event has long passed. The dev stack therefore sets, as an operator would with
``mts mts1b-operations watchdog config``:

- vpin: a window of 10 buckets (about a minute of a flash crash's volume); V stays 10,000.
- portfolio_vol_dd: 4-second NAV bars, 8 of them in the estimate, annualised with the
  replay's own clock (252 days of 6.5 trading hours, the basis of the scenarios' volatility).

news_spike keeps its defaults: the replay's news rates fit them. Rows an operator already
has are left alone (``ON CONFLICT DO NOTHING``), and nothing is written when the watchdogs'
tables are not there (the service is not installed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import asyncpg

from .replay.generator import TRADING_SECONDS_PER_YEAR

__all__ = ["DEV_WATCHDOG_PARAMS", "NAV_BAR_SECONDS", "seed_watchdog_params"]

NAV_BAR_SECONDS: Final = 4

DEV_WATCHDOG_PARAMS: Final[Mapping[str, Mapping[str, Any]]] = {
    "vpin": {"window": 10},
    "portfolio_vol_dd": {
        "bar_seconds": NAV_BAR_SECONDS,
        "window": 8,
        "periods_per_year": TRADING_SECONDS_PER_YEAR / NAV_BAR_SECONDS,
    },
}

_ACTOR: Final = "mts dev up"


async def seed_watchdog_params(
    dsn: str, params: Mapping[str, Mapping[str, Any]] = DEV_WATCHDOG_PARAMS
) -> list[str]:
    """Write ``params`` as the overrides of the watchdogs that have none yet; the names written."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        if await conn.fetchval("SELECT to_regclass('watchdog_config')") is None:
            return []
        written: list[str] = []
        for name, overrides in params.items():
            status = await conn.execute(
                "INSERT INTO watchdog_config (name, params, updated_by) VALUES ($1, $2::jsonb, $3) "
                "ON CONFLICT (name) DO NOTHING",
                name,
                json.dumps(dict(overrides)),
                _ACTOR,
            )
            if status.endswith(" 1"):
                written.append(name)
        return written
    finally:
        await conn.close()
