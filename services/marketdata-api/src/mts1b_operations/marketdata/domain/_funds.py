"""Fund status: the registry's funds with their latest NAV and the halts that bind them.

A fund is ``halted`` while a firm halt or a halt of the fund itself is in force. Its ``halts``
list every halt in force that binds it or part of it: the firm's, its own and those of its
strategies (a strategy halt names the strategy, and usually its fund). ``halted_strategies``
names its strategies under a strategy halt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import HaltRequested, Nav
from mts1b_operations.core.schemas.marketdata_api import FundStatus, HaltInForce

__all__ = ["fund_status", "fund_statuses", "halt_in_force"]


def halt_in_force(key: str, halt: HaltRequested) -> HaltInForce:
    """The API view of a halt held in the KV bucket under ``key``."""
    return HaltInForce(
        key=key,
        halt_id=halt.halt_id,
        severity=halt.severity,
        mode=halt.mode,
        fund_id=halt.fund_id,
        strategy_id=halt.strategy_id,
        reason=halt.reason,
        requested_by=halt.requested_by,
        requested_at=halt.requested_at,
        forced=halt.forced,
    )


def _binds(fund: Fund, halt: HaltInForce) -> bool:
    if halt.severity == "FIRM_HALT":
        return True
    if halt.severity == "FUND_HALT":
        return halt.fund_id == fund.fund_id
    return halt.fund_id == fund.fund_id or halt.strategy_id in fund.strategies


def fund_status(fund: Fund, nav: Nav | None, halts: Iterable[HaltInForce]) -> FundStatus:
    binding = sorted((h for h in halts if _binds(fund, h)), key=lambda h: (h.requested_at, h.key))
    halted = any(h.severity != "STRATEGY_HALT" for h in binding)
    strategies = sorted(
        {h.strategy_id for h in binding if h.severity == "STRATEGY_HALT" and h.strategy_id is not None}
    )
    return FundStatus(
        fund_id=fund.fund_id,
        mode=fund.mode,
        nav=None if nav is None else nav.nav,
        day_pnl=None if nav is None else nav.day_pnl,
        halted=halted,
        halts=binding,
        halted_strategies=strategies,
        last_update=None if nav is None else nav.ts,
    )


def fund_statuses(
    funds: Iterable[Fund], nav_of: Callable[[str], Nav | None], halts: Sequence[HaltInForce]
) -> list[FundStatus]:
    """One status per fund, in registry order; ``nav_of(fund_id)`` is the fund's latest NAV."""
    return [fund_status(fund, nav_of(fund.fund_id), halts) for fund in funds]
