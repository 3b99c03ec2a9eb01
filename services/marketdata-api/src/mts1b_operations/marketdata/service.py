"""The running service's state and the use cases both entrypoints call.

:class:`MarketData` holds the in-memory books (latest quote per symbol, latest NAV per fund), the
halts mirror, the bars store and the funds registry. HTTP handlers read through it; the NATS
consumers write through it. The start-up hook builds one and leaves it in the service context
(:func:`market_data` finds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import asyncpg

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import Delivery, PoisonMessageError, TransientError
from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.runtime import ServiceContext

from .adapters import BarsStore, HaltsMirror
from .domain import (
    AGGREGATION_SOURCES,
    DURATIONS,
    Bar,
    BarsQuery,
    FundStatus,
    HaltInForce,
    LatestBook,
    Quote,
    UnknownSymbolError,
    aggregate,
    bucket_floor,
    fund_statuses,
    merge_bars,
    validate_symbol,
)

__all__ = ["AGGREGATION_ROW_CAP", "STATE_KEY", "MarketData", "market_data"]

STATE_KEY: Final = "marketdata"
AGGREGATION_ROW_CAP: Final = 250_000
"""At most this many finer bars are read to build coarser ones for one request; beyond it the
oldest buckets are left out (ask for a narrower range)."""

_BEGINNING: Final = datetime(1, 1, 2, tzinfo=UTC)
_UNAVAILABLE: Final[tuple[type[BaseException], ...]] = (*TRANSIENT_ERRORS, asyncpg.InterfaceError)
_QUOTE_PREFIX: Final = f"{subjects.PREFIX}.marketdata.quote."
_NAV_PREFIX: Final = f"{subjects.PREFIX}.portfolio.nav."


def _covers(published: list[Bar], query: BarsQuery) -> bool:
    """True when the published bars alone are the newest ``limit`` buckets of the window, without a
    gap: nothing aggregated could make it into the answer."""
    if len(published) < query.limit:
        return False
    _, hi = query.window
    step = DURATIONS[query.interval]
    first = bucket_floor(published[0].start, query.interval)
    last = bucket_floor(published[-1].start, query.interval)
    return last == hi - step and last - first == step * (query.limit - 1)


@dataclass(eq=False)
class MarketData:
    """What the service knows and the questions it answers."""

    bars: BarsStore
    halts: HaltsMirror
    funds: FundsRegistry
    quotes: LatestBook[str, Quote] = field(default_factory=LatestBook)
    navs: LatestBook[str, schemas.Nav] = field(default_factory=LatestBook)
    row_cap: int = AGGREGATION_ROW_CAP

    # ------------------------------------------------------------------ reads

    def quote(self, symbol: str) -> Quote:
        validate_symbol(symbol)
        quote = self.quotes.get(symbol)
        if quote is None:
            raise UnknownSymbolError(symbol, "quote")
        return quote

    async def bar_series(self, query: BarsQuery) -> list[Bar]:
        """The bars ``query`` asks for: published ones, completed by bars aggregated from the coarsest
        finer interval that has data in the window (see ``domain._aggregate``), newest last."""
        published = await self.bars.published(
            query.symbol, query.interval, query.start or _BEGINNING, query.end, query.limit
        )
        aggregated: list[Bar] = []
        sources = AGGREGATION_SOURCES[query.interval]
        if sources and not _covers(published, query):
            lo, hi = query.window
            source = await self.bars.first_source(query.symbol, sources, lo, hi)
            if source is not None:
                frame, truncated = await self.bars.finer(query.symbol, source, lo, hi, self.row_cap)
                aggregated = aggregate(
                    frame, symbol=query.symbol, interval=query.interval, drop_oldest=truncated
                )
        series = merge_bars(published, aggregated, interval=query.interval, limit=query.limit)
        if not series and query.symbol not in self.quotes and not await self.bars.has_symbol(query.symbol):
            raise UnknownSymbolError(query.symbol, "bars")
        return series

    def fund_statuses(self) -> list[FundStatus]:
        return fund_statuses(self.funds, self.navs.get, self.halts.halts())

    def halts_in_force(self) -> list[HaltInForce]:
        return self.halts.halts()

    # ------------------------------------------------------------------ writes (consumers)

    def on_quote(self, subject: str, data: bytes, headers: Mapping[str, str]) -> None:
        quote = schemas.decode(data, schemas.Quote)
        if subject != _QUOTE_PREFIX + quote.symbol:
            raise ValueError(f"quote of {quote.symbol!r} published on {subject!r}")
        view = Quote(
            symbol=quote.symbol,
            ts=quote.ts,
            bid=quote.bid,
            ask=quote.ask,
            bid_size=quote.bid_size,
            ask_size=quote.ask_size,
        )
        self.quotes.put(quote.symbol, view, quote.ts)

    def on_nav(self, subject: str, data: bytes, headers: Mapping[str, str]) -> None:
        nav = schemas.decode(data, schemas.Nav)
        if subject != _NAV_PREFIX + nav.fund_id:
            raise ValueError(f"NAV of {nav.fund_id!r} published on {subject!r}")
        self.navs.put(nav.fund_id, nav, nav.ts)

    async def on_bar(self, delivery: Delivery) -> None:
        """Store a published bar (durable consumer handler); Postgres outages are retried."""
        bar = schemas.decode(delivery.data, schemas.Bar)
        expected = subjects.marketdata_bar(bar.interval, bar.symbol)
        if delivery.subject != expected:
            raise PoisonMessageError(f"a {bar.interval} bar of {bar.symbol!r} on {delivery.subject!r}")
        try:
            await self.bars.upsert(bar)
        except _UNAVAILABLE as exc:
            raise TransientError(f"Postgres unavailable: {exc!r}") from exc


def market_data(context: ServiceContext) -> MarketData:
    """The service's :class:`MarketData` (built by the start-up hook)."""
    found = context.state.get(STATE_KEY)
    if not isinstance(found, MarketData):
        raise RuntimeError("the market-data start-up hook has not run (no MarketData in the context)")
    return found
