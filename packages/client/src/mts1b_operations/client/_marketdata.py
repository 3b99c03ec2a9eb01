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
``body["extra"]["retry_after"]`` says when to retry). The answer types (:class:`Quote`,
:class:`Bar`, :class:`FundStatus`, :class:`HaltInForce`) are core's wire shapes
(``mts1b_operations.core.schemas.marketdata_api``), the Structs the service itself encodes;
unknown fields from a newer service are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote as percent_encode

from mts1b_operations.core.schemas.marketdata_api import Bar, BarInterval, FundStatus, HaltInForce, Quote

from ._config import ClientConfig
from ._http import ServiceClient

if TYPE_CHECKING:
    from typing import Self

    import httpx

__all__ = ["Bar", "BarInterval", "FundStatus", "HaltInForce", "MarketDataClient", "Quote"]


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
