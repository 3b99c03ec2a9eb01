"""The paper OMS: orders and positions of the paper funds, trading on the replayed market.

Run it with ``python -m mts1b_operations.devstack.oms`` (``mts dev up`` does). It checks the
halt gate before every new order, answers ``mts.v1.oms.cmd.cancel_all`` / ``flatten`` with
acks, and publishes order events, positions, greeks, NAV, strategy P&L and signals.
"""

from .book import (
    DEFAULT_CAPITAL,
    BookEvent,
    FlattenResult,
    Holding,
    Mark,
    OptionHolding,
    Order,
    OrderRequest,
    PaperBook,
    bs_price,
)
from .commands import CommandResponder, apply_command, invalid_command_ack
from .generator import OrderGenerator, StrategyConfig, StrategyStyle, TickPlan, seed_options, strategies_of
from .publisher import REASON_HEADER, OmsPublisher, Outgoing
from .runner import DEFAULT_RESPONDER, OmsOptions, PaperOms

__all__ = [
    "DEFAULT_CAPITAL",
    "DEFAULT_RESPONDER",
    "REASON_HEADER",
    "BookEvent",
    "CommandResponder",
    "FlattenResult",
    "Holding",
    "Mark",
    "OmsOptions",
    "OmsPublisher",
    "OptionHolding",
    "Order",
    "OrderGenerator",
    "OrderRequest",
    "Outgoing",
    "PaperBook",
    "PaperOms",
    "StrategyConfig",
    "StrategyStyle",
    "TickPlan",
    "apply_command",
    "bs_price",
    "invalid_command_ack",
    "seed_options",
    "strategies_of",
]
