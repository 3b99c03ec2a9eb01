"""status(): the firm covers every fund, a fund covers its strategies; resuming under a broader halt."""

from __future__ import annotations

import pytest

from mts1b_operations.halt import HaltManager, HaltRequest, HaltValidationError, NotHaltedError

from .conftest import LIVE, PAPER, Operators


def firm_halt(
    *, triggered_by_watchdog: str | None = None, watchdog_subject_id: str | None = None
) -> HaltRequest:
    return HaltRequest(
        severity="FIRM_HALT",
        reason="OMS unreachable",
        requested_by="watchdog:dependency",
        triggered_by_watchdog=triggered_by_watchdog,
        watchdog_subject_id=watchdog_subject_id,
    )


def fund_halt(fund_id: str = PAPER) -> HaltRequest:
    return HaltRequest(
        severity="FUND_HALT", fund_id=fund_id, reason="drawdown", requested_by="mts1b-riskengine"
    )


def strategy_halt(strategy_id: str = "mom-us-eq") -> HaltRequest:
    return HaltRequest(severity="STRATEGY_HALT", strategy_id=strategy_id, reason="drift", requested_by="svc")


async def test_nothing_halted(manager: HaltManager) -> None:
    for status in (
        await manager.status(),
        await manager.status(fund_id=PAPER),
        await manager.status(strategy_id="mom-us-eq"),
    ):
        assert not status.halted
        assert status.halts == []
        assert status.since is None
    assert (await manager.status(strategy_id="mom-us-eq")).scope == "strategy.mom-us-eq"


async def test_a_fund_halt_covers_its_strategies_only(manager: HaltManager) -> None:
    halt = await manager.request(fund_halt())
    own = await manager.status(fund_id=PAPER)
    assert own.halted
    assert own.halts == [halt]
    assert own.since == halt.requested_at
    inherited = await manager.status(strategy_id="mom-eu-eq")
    assert inherited.halted
    assert inherited.halts == [halt]
    assert not (await manager.status(fund_id=LIVE)).halted
    assert not (await manager.status(strategy_id="stat-arb-1")).halted
    assert not (await manager.status()).halted


async def test_the_firm_covers_everything_and_halts_list_broadest_first(manager: HaltManager) -> None:
    strategy = await manager.request(strategy_halt())
    fund = await manager.request(fund_halt())
    firm = await manager.request(firm_halt(watchdog_subject_id="oms", triggered_by_watchdog="dependency"))
    status = await manager.status(strategy_id="mom-us-eq")
    assert status.halts == [firm, fund, strategy]
    assert status.since == strategy.requested_at  # the earliest halt in force
    assert (await manager.status(fund_id=LIVE)).halts == [firm]
    assert (await manager.status(strategy_id="stat-arb-1")).halts == [firm]
    assert (await manager.status()).halts == [firm]
    assert [h.halt_id for h in await manager.list_active()] == [strategy.halt_id, fund.halt_id, firm.halt_id]


async def test_status_checks_its_arguments(manager: HaltManager) -> None:
    with pytest.raises(HaltValidationError, match=r"^fund_id: unknown fund 'nope'"):
        await manager.status(fund_id="nope")
    with pytest.raises(HaltValidationError, match=r"^fund_id: strategy 'stat-arb-1' belongs to fund"):
        await manager.status(fund_id=PAPER, strategy_id="stat-arb-1")


async def test_resuming_a_fund_under_a_firm_halt_lifts_its_own_and_says_it_is_still_halted(
    manager: HaltManager, operator: Operators
) -> None:
    alice = await operator("alice")
    fund = await manager.request(fund_halt())
    firm = await manager.request(firm_halt(triggered_by_watchdog="dependency", watchdog_subject_id="oms"))

    result = await manager.resume(fund_id=PAPER, cosigned_by=alice)

    assert result.resumed.halt_id == fund.halt_id
    assert not result.resumed.active
    assert result.still_halted
    assert result.halted_by == [firm]
    assert f"is still halted by FIRM_HALT {firm.halt_id}" in result.message
    status = await manager.status(fund_id=PAPER)
    assert status.halted
    assert status.halts == [firm]

    with pytest.raises(NotHaltedError) as again:
        await manager.resume(fund_id=PAPER, cosigned_by=alice)
    assert "no halt of its own" in str(again.value)
    assert "still halted by FIRM_HALT" in str(again.value)


async def test_resuming_what_is_not_halted(manager: HaltManager, operator: Operators) -> None:
    with pytest.raises(NotHaltedError, match="it is not halted") as caught:
        await manager.resume(strategy_id="mom-us-eq", cosigned_by=await operator("alice"))
    assert caught.value.scope == "strategy.mom-us-eq"
