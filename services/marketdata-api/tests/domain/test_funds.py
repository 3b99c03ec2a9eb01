"""Fund status: NAV and P&L from the latest NAV, halted by firm or fund halts, strategy halts listed."""

from __future__ import annotations

from datetime import UTC, datetime

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import HaltRequested, Nav
from mts1b_operations.marketdata.domain import fund_status, fund_statuses, halt_in_force

FUND = Fund(fund_id="paper-momentum", mode="paper", strategies=["mom-us-eq", "mom-eu-eq"])
OTHER = Fund(fund_id="live-equities", mode="live", strategies=["stat-arb-1"])
T = datetime(2024, 1, 2, 15, tzinfo=UTC)


def halt(key: str, severity: str, fund_id: str | None = None, strategy_id: str | None = None):  # type: ignore[no-untyped-def]
    payload = HaltRequested(
        halt_id=f"h-{key}", severity=severity, mode="block_new", fund_id=fund_id,  # type: ignore[arg-type]
        strategy_id=strategy_id, reason="r", requested_by="operator:a", requested_at=T,
    )  # fmt: skip
    return halt_in_force(key, payload)


def test_a_fund_without_news_has_nulls() -> None:
    status = fund_status(FUND, None, [])
    assert (status.nav, status.day_pnl, status.last_update, status.halted) == (None, None, None, False)
    assert status.mode == "paper"
    assert status.halts == []
    assert status.halted_strategies == []


def test_nav_and_pnl_come_from_the_latest_nav() -> None:
    status = fund_status(FUND, Nav(fund_id=FUND.fund_id, ts=T, nav=1_000_000.0, day_pnl=-1250.5), [])
    assert (status.nav, status.day_pnl, status.last_update) == (1_000_000.0, -1250.5, T)


def test_which_halts_bind_which_fund() -> None:
    halts = [
        halt("strategy.mom-us-eq", "STRATEGY_HALT", "paper-momentum", "mom-us-eq"),
        halt("fund.live-equities", "FUND_HALT", "live-equities"),
    ]
    mine, other = fund_statuses([FUND, OTHER], lambda _: None, halts)
    assert not mine.halted  # a strategy halt does not halt the fund
    assert mine.halted_strategies == ["mom-us-eq"]
    assert [h.key for h in mine.halts] == ["strategy.mom-us-eq"]
    assert other.halted
    assert [h.key for h in other.halts] == ["fund.live-equities"]

    firm = halt("firm", "FIRM_HALT")
    mine, other = fund_statuses([FUND, OTHER], lambda _: None, [*halts, firm])
    assert mine.halted
    assert other.halted
    assert "firm" in [h.key for h in mine.halts]
    assert "firm" in [h.key for h in other.halts]


def test_a_strategy_halt_without_fund_id_binds_the_owning_fund() -> None:
    h = halt("strategy.stat-arb-1", "STRATEGY_HALT", None, "stat-arb-1")
    mine, other = fund_statuses([FUND, OTHER], lambda _: None, [h])
    assert mine.halts == []
    assert other.halted_strategies == ["stat-arb-1"]
