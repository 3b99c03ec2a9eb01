"""The auto-halt policy end to end: watchdog alerts on real NATS -> halts in Postgres and resumes."""

from __future__ import annotations

import pytest

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually
from mts1b_operations.halt.bootstrap import watchdog_alerts

from .conftest import FakeOms, HaltApp, publish_alert, watchdog_alert


async def _active(app: HaltApp) -> list[str]:
    return [h.scope for h in await app.service.manager.list_active()]


async def _wait_count(
    app: HaltApp, watchdog: str, subject_id: str, consecutive: int, *, firing: bool = True
) -> None:
    async def reached() -> bool:
        state = await app.service.tracker.get(watchdog, subject_id)
        return state is not None and state.consecutive == consecutive and state.firing == firing

    await eventually(reached, what=f"{watchdog}/{subject_id} at {consecutive} consecutive (firing={firing})")


async def _wait_halt(app: HaltApp, scope: str) -> None:
    async def halted() -> bool:
        return scope in await _active(app)

    await eventually(halted, what=f"a halt on {scope}")


async def test_a_vol_dd_alert_halts_the_fund_as_the_watchdog(halt_app: HaltApp, bus: Bus) -> None:
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-momentum"))
    await _wait_halt(halt_app, "fund.paper-momentum")
    [halt] = await halt_app.service.manager.list_active()
    assert halt.severity == "FUND_HALT"
    assert halt.requested_by == "watchdog:portfolio_vol_dd"
    assert halt.mode == "block_new"
    assert (halt.triggered_by_watchdog, halt.watchdog_subject_id) == ("vol_dd", "paper-momentum")
    assert "vol_dd firing on paper-momentum" in halt.reason


THIRD_IN_A_ROW = """\
rules:
  - {name: strategy_watchdog, watchdog: strategy, severity: STRATEGY_HALT, mode: cancel_open, consecutive: 3}
oms:
  ack_timeout: 1.0
"""


@pytest.mark.parametrize("policy_text", [THIRD_IN_A_ROW])
async def test_strategy_alerts_halt_at_the_third_in_a_row_and_a_resolve_resets(
    halt_app: HaltApp, bus: Bus
) -> None:
    for _ in range(2):
        await publish_alert(bus, watchdog_alert("strategy", "mom-us-eq"))
    await _wait_count(halt_app, "strategy", "mom-us-eq", 2)
    assert await _active(halt_app) == [], "halted below the threshold"

    await publish_alert(bus, watchdog_alert("strategy", "mom-us-eq", "resolved"))
    await _wait_count(halt_app, "strategy", "mom-us-eq", 0, firing=False)
    for _ in range(2):
        await publish_alert(bus, watchdog_alert("strategy", "mom-us-eq"))
    await _wait_count(halt_app, "strategy", "mom-us-eq", 2)
    assert await _active(halt_app) == [], "the resolve did not reset the count"

    await publish_alert(bus, watchdog_alert("strategy", "mom-us-eq"))
    await _wait_halt(halt_app, "strategy.mom-us-eq")
    [halt] = await halt_app.service.manager.list_active()
    assert (halt.severity, halt.strategy_id, halt.fund_id) == ("STRATEGY_HALT", "mom-us-eq", "paper-momentum")
    assert halt.requested_by == "watchdog:strategy_watchdog"
    assert "3 consecutive firing alerts" in halt.reason


@pytest.mark.parametrize("policy_text", [THIRD_IN_A_ROW])
async def test_the_count_survives_a_restart_of_the_consumer(halt_app: HaltApp, bus: Bus) -> None:
    for _ in range(2):
        await publish_alert(bus, watchdog_alert("strategy", "mr-us-eq"))
    await _wait_count(halt_app, "strategy", "mr-us-eq", 2)
    assert await _active(halt_app) == []
    await halt_app.consumer.stop()
    restarted = watchdog_alerts(halt_app.context)
    await restarted.start()
    try:
        await publish_alert(bus, watchdog_alert("strategy", "mr-us-eq"))
        await _wait_halt(halt_app, "strategy.mr-us-eq")
    finally:
        await restarted.stop()


async def test_a_resume_while_the_watchdog_fires_needs_force_and_a_reason(
    halt_app: HaltApp, bus: Bus
) -> None:
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-meanrev"))
    await _wait_halt(halt_app, "fund.paper-meanrev")

    preflight = (await halt_app.get("/v1/halts/preflight", scope="paper-meanrev")).json()
    assert preflight["watchdog_firing"] is True
    assert preflight["needs_force"] is True

    refused = await halt_app.post("/v1/halts/resume", "alice", {"scope": "paper-meanrev"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["extra"]["code"] == "watchdog_alerting"
    assert "still alerting" in refused.json()["detail"]
    no_reason = await halt_app.post("/v1/halts/resume", "alice", {"scope": "paper-meanrev", "force": True})
    assert (no_reason.status_code, no_reason.json()["extra"]["field"]) == (409, "reason")
    assert "fund.paper-meanrev" in await _active(halt_app)

    forced = await halt_app.post(
        "/v1/halts/resume",
        "alice",
        {"scope": "paper-meanrev", "force": True, "reason": "vol data feed glitch"},
    )
    assert forced.status_code == 200, forced.text
    resumed = forced.json()["result"]["resumed"]
    assert resumed["forced"] is True
    assert resumed["resume_reason"] == "vol data feed glitch"

    # The same firing episode does not halt again over the operator's forced resume.
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-meanrev"))
    await _wait_count(halt_app, "vol_dd", "paper-meanrev", 2)
    assert await _active(halt_app) == []


async def test_once_the_alert_resolves_a_plain_resume_goes_through(halt_app: HaltApp, bus: Bus) -> None:
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-momentum"))
    await _wait_halt(halt_app, "fund.paper-momentum")
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-momentum", "resolved"))
    await _wait_count(halt_app, "vol_dd", "paper-momentum", 0, firing=False)
    response = await halt_app.post("/v1/halts/resume", "bob", {"scope": "fund:paper-momentum"})
    assert response.status_code == 200, response.text
    assert response.json()["preflight"]["watchdog_firing"] is False
    assert response.json()["result"]["resumed"]["forced"] is False
    # A new episode halts again.
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-momentum"))
    await _wait_halt(halt_app, "fund.paper-momentum")


async def test_a_dependency_alert_on_the_oms_halts_the_firm_and_others_do_not(
    halt_app: HaltApp, bus: Bus
) -> None:
    await publish_alert(bus, watchdog_alert("dependency", "postgres"))
    await _wait_count(halt_app, "dependency", "postgres", 1)
    assert await _active(halt_app) == []
    await publish_alert(bus, watchdog_alert("dependency", "paper-oms"))
    await _wait_halt(halt_app, "firm")
    [halt] = await halt_app.service.manager.list_active()
    assert (halt.mode, halt.requested_by) == ("block_new", "watchdog:dependency_oms")
    assert (halt.triggered_by_watchdog, halt.watchdog_subject_id) == ("dependency", "paper-oms")
    preflight = (await halt_app.get("/v1/halts/preflight")).json()
    assert preflight["watchdog_firing"] is True


async def test_an_alert_on_an_unknown_fund_is_refused_once_per_episode_and_not_retried(
    halt_app: HaltApp, bus: Bus
) -> None:
    await publish_alert(bus, watchdog_alert("vol_dd", "ghost-fund"))
    await publish_alert(bus, watchdog_alert("vol_dd", "ghost-fund"))
    await _wait_count(halt_app, "vol_dd", "ghost-fund", 2)
    assert await _active(halt_app) == []
    state = await halt_app.service.tracker.get("vol_dd", "ghost-fund")
    assert state is not None
    assert state.acted == ("portfolio_vol_dd",)
    refusals = await halt_app.service.manager.refusals()
    assert [(r.action, r.field, r.requested_by) for r in refusals] == [
        ("request", "fund_id", "watchdog:portfolio_vol_dd")
    ]

    # The count is committed before the handler returns and its message is acked.
    async def settled() -> bool:
        return (await halt_app.consumer.info()).num_ack_pending == 0

    await eventually(settled, what="both alerts acked")
    assert (await halt_app.consumer.info()).num_redelivered == 0


async def test_a_malformed_alert_is_dropped_and_the_next_one_still_acts(halt_app: HaltApp, bus: Bus) -> None:
    await bus.publish(
        subjects.watchdog_alert("vol_dd"), b'{"type": "WatchdogAlert", "status": "?"}', msg_id="junk"
    )
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-momentum"))
    await _wait_halt(halt_app, "fund.paper-momentum")


@pytest.mark.parametrize(
    "policy_text",
    [
        "rules:\n"
        "  - {name: vol_dd_cancel, watchdog: vol_dd, severity: FUND_HALT, mode: cancel_open}\n"
        "oms:\n  expected_responders: [oms-a]\n  ack_timeout: 20\n"
    ],
)
async def test_a_policy_halt_in_cancel_open_sends_cancel_all(
    halt_app: HaltApp, bus: Bus, fake_oms: FakeOms
) -> None:
    await fake_oms.start("oms-a", orders=7)
    await publish_alert(bus, watchdog_alert("vol_dd", "paper-momentum"))
    await _wait_halt(halt_app, "fund.paper-momentum")

    async def commanded() -> bool:
        return bool(fake_oms.received)

    await eventually(commanded, what="the cancel_all command at the fake OMS")
    [(responder, command)] = fake_oms.received
    [halt] = await halt_app.service.manager.list_active()
    assert responder == "oms-a"
    assert command.command == "cancel_all"
    assert command.fund_ids == ["paper-momentum"]
    assert command.halt_id == halt.halt_id
    assert command.requested_by == "watchdog:vol_dd_cancel"
