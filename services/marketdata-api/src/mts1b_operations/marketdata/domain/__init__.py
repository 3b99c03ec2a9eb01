"""The market-data domain: request validation, bar aggregation, fund status; pure, no I/O.

What it builds are the API's wire shapes from ``core.schemas.marketdata_api`` (re-exported here),
so what the service encodes is what the SDK decodes.
"""

from mts1b_operations.core.schemas.marketdata_api import Bar, BarSource, FundStatus, HaltInForce, Quote

from ._aggregate import BAR_COLUMNS, aggregate, merge_bars
from ._books import LatestBook
from ._errors import InvalidParameterError, MarketDataError, UnknownSymbolError
from ._funds import fund_status, fund_statuses, halt_in_force
from ._intervals import (
    AGGREGATION_SOURCES,
    DURATIONS,
    INTERVALS,
    BarInterval,
    bucket_ceil,
    bucket_floor,
    parse_interval,
)
from ._requests import (
    DEFAULT_LIMIT,
    EARLIEST,
    LATEST,
    MAX_LIMIT,
    SYMBOL_PATTERN,
    BarsQuery,
    bars_query,
    validate_symbol,
)

__all__ = [
    "AGGREGATION_SOURCES",
    "BAR_COLUMNS",
    "DEFAULT_LIMIT",
    "DURATIONS",
    "EARLIEST",
    "INTERVALS",
    "LATEST",
    "MAX_LIMIT",
    "SYMBOL_PATTERN",
    "Bar",
    "BarInterval",
    "BarSource",
    "BarsQuery",
    "FundStatus",
    "HaltInForce",
    "InvalidParameterError",
    "LatestBook",
    "MarketDataError",
    "Quote",
    "UnknownSymbolError",
    "aggregate",
    "bars_query",
    "bucket_ceil",
    "bucket_floor",
    "fund_status",
    "fund_statuses",
    "halt_in_force",
    "merge_bars",
    "parse_interval",
    "validate_symbol",
]
