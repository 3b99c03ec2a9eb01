"""The answers of the market-data API (``mts1b-marketdata-api``), as they go on the wire.

The service encodes these Structs and the SDK (``mts1b_operations.client``) decodes into them, so
the two cannot drift. They are HTTP answers, not bus payloads: untagged, and without the bus
payloads' constraints, because what the service serves was checked when it was received and
these annotations are also what its OpenAPI schema documents (a ``Meta`` added here changes the
schema). Unknown fields from a newer service are ignored on decode.

The names ``Quote`` and ``Bar`` are those of the OpenAPI components; the bus payloads of the same
names are :class:`mts1b_operations.core.schemas.Quote` and :class:`~mts1b_operations.core.schemas.Bar`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from mts1b_operations.core.funds import FundMode
from mts1b_operations.core.schemas import HaltMode, HaltSeverity
from mts1b_operations.core.subjects import BarInterval

__all__ = ["Bar", "BarInterval", "BarSource", "FundStatus", "HaltInForce", "Quote"]

BarSource = Literal["published", "aggregated"]


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest top of book of a symbol (``GET /v1/quotes/{symbol}``)."""

    symbol: str
    ts: Annotated[datetime, msgspec.Meta(description="When the quote was taken (UTC).")]
    bid: float
    ask: float
    bid_size: float
    ask_size: float


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """An OHLCV bar over [start, end) (``GET /v1/bars/{symbol}``)."""

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
    source: Annotated[
        BarSource,
        msgspec.Meta(
            description="published: as received on the bus; aggregated: built here from finer bars "
            "(UTC-aligned buckets)."
        ),
    ] = "published"


class HaltInForce(msgspec.Struct, frozen=True, kw_only=True):
    """A halt in force, as held in the KV bucket ``mts_halts`` under ``key`` (``GET /v1/halts``)."""

    key: Annotated[str, msgspec.Meta(description="The bucket key: firm, fund.<fund_id> or strategy.<id>.")]
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
    """One fund of the registry: its mode, latest NAV and day P&L, and the halts in force that bind
    it (``GET /v1/funds``)."""

    fund_id: str
    mode: FundMode
    nav: Annotated[float | None, msgspec.Meta(description="Latest net asset value; null before any.")]
    day_pnl: Annotated[float | None, msgspec.Meta(description="Profit and loss of the day so far.")]
    halted: Annotated[
        bool, msgspec.Meta(description="True while a firm halt or a halt of this fund is in force.")
    ]
    halts: Annotated[
        list[HaltInForce],
        msgspec.Meta(description="Halts in force that bind the fund: firm, the fund's own, its strategies'."),
    ]
    halted_strategies: Annotated[
        list[str], msgspec.Meta(description="The fund's strategies under a strategy halt.")
    ]
    last_update: Annotated[
        datetime | None, msgspec.Meta(description="Time of the latest NAV / P&L update; null before any.")
    ]
