"""Market replay: seedable synthetic trades, quotes, bars and news per scenario, or a file of trades.

Run it with ``python -m mts1b_operations.devstack.replay`` (``mts dev up`` does).

Only the scenarios are imported eagerly: `mts dev` needs their names, and numpy and polars
(the generator's) would slow every `mts` command down. The rest loads on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .scenarios import (
    CALM,
    DEFAULT_SCENARIO,
    FLASH_CRASH,
    SCENARIO_NAMES,
    SCENARIOS,
    VOL_REGIME,
    Phase,
    Scenario,
    UnknownScenarioError,
    get_scenario,
)

if TYPE_CHECKING:
    from .file_source import REQUIRED_COLUMNS, TradeFileError, read_trades
    from .generator import (
        BAR_COLUMNS,
        DEFAULT_PRICES,
        DEFAULT_SYMBOLS,
        NEWS_COLUMNS,
        QUOTE_COLUMNS,
        TRADE_COLUMNS,
        TRADING_SECONDS_PER_YEAR,
        MarketBatch,
        MarketGenerator,
    )
    from .publisher import MarketPublisher, Message, Pacer, bar_messages, batch_messages, trade_messages
    from .runner import ReplayStats, SyntheticOptions, new_run_id, run_file, run_synthetic

_LAZY = {
    "file_source": ("REQUIRED_COLUMNS", "TradeFileError", "read_trades"),
    "generator": (
        "BAR_COLUMNS", "DEFAULT_PRICES", "DEFAULT_SYMBOLS", "NEWS_COLUMNS", "QUOTE_COLUMNS",
        "TRADE_COLUMNS", "TRADING_SECONDS_PER_YEAR", "MarketBatch", "MarketGenerator",
    ),
    "publisher": ("MarketPublisher", "Message", "Pacer", "bar_messages", "batch_messages", "trade_messages"),
    "runner": ("ReplayStats", "SyntheticOptions", "new_run_id", "run_file", "run_synthetic"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "BAR_COLUMNS",
    "CALM",
    "DEFAULT_PRICES",
    "DEFAULT_SCENARIO",
    "DEFAULT_SYMBOLS",
    "FLASH_CRASH",
    "NEWS_COLUMNS",
    "QUOTE_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCENARIOS",
    "SCENARIO_NAMES",
    "TRADE_COLUMNS",
    "TRADING_SECONDS_PER_YEAR",
    "VOL_REGIME",
    "MarketBatch",
    "MarketGenerator",
    "MarketPublisher",
    "Message",
    "Pacer",
    "Phase",
    "ReplayStats",
    "Scenario",
    "SyntheticOptions",
    "TradeFileError",
    "UnknownScenarioError",
    "bar_messages",
    "batch_messages",
    "get_scenario",
    "new_run_id",
    "read_trades",
    "run_file",
    "run_synthetic",
    "trade_messages",
]
