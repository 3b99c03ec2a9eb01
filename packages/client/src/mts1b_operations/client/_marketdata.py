"""The market-data API: :class:`MarketDataClient` (quotes, bars, fund status, halts in force).

Example::

    from mts1b_operations.client import MarketDataClient

    async with MarketDataClient.from_env() as md:          # MTS_MARKETDATA_URL
        quote = await md.quote("AAPL")
        bars = await md.bars("AAPL", "1d", limit=30)      # newest last
        for fund in await md.funds():
            print(fund.fund_id, fund.nav, fund.halted)

The API needs no token. Errors are the SDK's tree: an unknown symbol is
:class:`~._errors.NotFoundError` (``code`` ``unknown_symbol``), a bad parameter
:class:`~._errors.BadRequestError` with ``field`` naming it, and a refused request past the rate
limit an :class:`~._errors.ApiError` with ``status`` 429 and ``code`` ``rate_limited`` (its
``body["extra"]["retry_after"]`` says when to retry). The types below mirror the service's
answers (unknown fields from a newer service are ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote as percent_encode

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity

from ._config import ClientConfig
from ._http import ServiceClient

if TYPE_CHECKING:
    from typing import Self

    import httpx

__all__ = ["Bar", "BarInterval", "FundStatus", "HaltInForce", "MarketDataClient", "Quote"]

BarInterval = Literal["1m", "5m", "15m", "1h", "1d"]


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest top of book of a symbol."""

    symbol: str
    ts: datetime
    bid: float
    ask: float
    bid_size: float
    ask_size: float


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """An OHLCV bar over [start, end); ``source`` is ``published`` or ``aggregated`` (from finer bars)."""

    symbol: str
    interval: BarInterval
    start: datetime
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float | None = None
    trade_count: int | None = None
    source: Literal["published", "aggregated"] = "published"


class HaltInForce(msgspec.Struct, frozen=True, kw_only=True):
    """A halt in force, as held in the KV bucket ``mts_halts`` under ``key``."""

    key: str
    halt_id: str
    severity: HaltSeverity
    mode: HaltMode
    fund_id: str | None = None
    strategy_id: str | None = None
    reason: str
    requested_by: str
    requested_at: datetime
    forced: bool = False


class FundStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A fund's mode, latest NAV and day P&L, and the halts in force that bind it."""

    fund_id: str
    mode: Literal["paper", "live"]
    nav: float | None
    day_pnl: float | None
    halted: bool
    halts: list[HaltInForce]
    halted_strategies: list[str]
    last_update: datetime | None


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class MarketDataClient(ServiceClient):
    """The ``mts1b-marketdata-api`` API (public, read-only)."""

    @classmethod
    def from_env(
        cls, config: ClientConfig | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """A client of MTS_MARKETDATA_URL, see ``ClientConfig``."""
        return cls.for_service("marketdata-api", config, transport=transport)

    async def quote(self, symbol: str) -> Quote:
        """The latest quote of ``symbol``."""
        return await self.get(f"/v1/quotes/{_path_token(symbol)}", Quote)

    async def bars(
        self,
        symbol: str,
        interval: BarInterval = "1d",
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """Bars of ``symbol`` starting in [start, end), the newest ``limit`` (capped at 5000), newest last."""
        params = {"interval": interval, "start": _instant(start), "end": _instant(end), "limit": limit}
        return await self.get(f"/v1/bars/{_path_token(symbol)}", list[Bar], params=params)

    async def funds(self) -> list[FundStatus]:
        """Every fund of the registry with its NAV, day P&L and halts."""
        return await self.get("/v1/funds", list[FundStatus])

    async def halts(self) -> list[HaltInForce]:
        """The halts in force, ordered by key."""
        return await self.get("/v1/halts", list[HaltInForce])


def _path_token(symbol: str) -> str:
    # Percent-encoded, so a malformed symbol reaches the service (and its 400), not another path.
    return percent_encode(symbol, safe="")
