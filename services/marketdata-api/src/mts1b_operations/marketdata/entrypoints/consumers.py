"""What the service consumes from NATS, as consumer factories for the runtime (``ServiceSpec.consumers``).

- quotes: ``mts.v1.marketdata.quote.*`` → the latest quote per symbol, in memory;
- NAV: ``mts.v1.portfolio.nav.*`` → the latest NAV and day P&L per fund, in memory;
- halts: the KV bucket ``mts_halts`` → the halts in force, in memory;
- bars: ``mts.v1.marketdata.bar.>`` → the ``bars`` table (idempotent upserts).

The in-memory views are per instance, so each instance follows every message with an ordered
consumer of its own, warm-started from the last message per subject (see ``adapters.nats``).
Bars go to the shared Postgres, so all instances share one durable consumer: each bar is stored
once, by whichever instance fetched it, and a bar that fails is redelivered.
"""

from __future__ import annotations

from typing import Final

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import ConsumerSpec, DurableConsumer
from mts1b_operations.core.runtime import ServiceContext

from ..adapters import HaltsMirror, LastValueFeed
from ..service import market_data

__all__ = [
    "BARS_DURABLE",
    "BAR_SUBJECTS",
    "NAV_SUBJECTS",
    "QUOTE_SUBJECTS",
    "bars_ingest",
    "halts_mirror",
    "nav_feed",
    "quote_feed",
]

QUOTE_SUBJECTS: Final = f"{subjects.PREFIX}.marketdata.quote.*"
NAV_SUBJECTS: Final = f"{subjects.PREFIX}.portfolio.nav.*"
BAR_SUBJECTS: Final = f"{subjects.PREFIX}.marketdata.bar.>"
BARS_DURABLE: Final = "marketdata-api-bars"


def quote_feed(context: ServiceContext) -> LastValueFeed:
    return LastValueFeed(
        context.bus,
        name="quotes",
        stream="MARKETDATA",
        subject=QUOTE_SUBJECTS,
        handle=market_data(context).on_quote,
    )


def nav_feed(context: ServiceContext) -> LastValueFeed:
    return LastValueFeed(
        context.bus,
        name="fund NAV",
        stream="PORTFOLIO",
        subject=NAV_SUBJECTS,
        handle=market_data(context).on_nav,
    )


def halts_mirror(context: ServiceContext) -> HaltsMirror:
    return market_data(context).halts


def bars_ingest(context: ServiceContext) -> DurableConsumer:
    spec = ConsumerSpec(
        stream="MARKETDATA",
        durable=BARS_DURABLE,
        filter_subjects=(BAR_SUBJECTS,),
        description="mts1b-marketdata-api: published bars into Postgres",
    )
    return DurableConsumer(context.bus, spec, market_data(context).on_bar)
