"""What the API serves: quotes, bars, fund status and halts in force (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from mts1b_operations.core.funds import FundMode
from mts1b_operations.core.schemas import HaltMode, HaltSeverity

from ._intervals import BarInterval

__all__ = ["Bar", "BarSource", "FundStatus", "HaltInForce", "Quote"]

BarSource = Literal["published", "aggregated"]


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest top of book of a symbol."""

    symbol: str
    ts: Annotated[datetime, msgspec.Meta(description="When the quote was taken (UTC).")]
    bid: float
    ask: float
    bid_size: float
    ask_size: float


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """An OHLCV bar over [start, end)."""

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
    """A halt in force, as mirrored from the KV bucket ``mts_halts``."""

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
    """One fund of the registry: its mode, latest NAV and day P&L, and the halts that bind it."""

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
