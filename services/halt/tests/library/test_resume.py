"""resume(): only registered operators cosign; the firm needs two; a firing watchdog needs force."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from nats.js.errors import KeyNotFoundError

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.halt import (
    BUCKET,
    HaltManager,
    HaltRequest,
    HaltValidationError,
    ResumeRefusedError,
    kv_key,
)

from .conftest import PAPER, Operators, Received

RESUMED = subjects.halt_resumed()


def fund_halt(**fields: object) -> HaltRequest:
    base: dict[str, object] = {
        "severity": "FUND_HALT",
        "fund_id": PAPER,
        "reason": "drawdown",
        "requested_by": "svc",
    }
    return HaltRequest(**(base | fields))  # type: ignore[arg-type]


FIRM = HaltRequest(severity="FIRM_HALT", reason="kill switch", requested_by="operator:carol")


async def refused(manager: HaltManager, **kwargs: object) -> ResumeRefusedError:
    with pytest.raises(ResumeRefusedError) as caught:
        await manager.resume(**kwargs)  # type: ignore[arg-type]
    return caught.value


async def test_an_operator_cosign_lifts_a_halt_and_the_gate_key(
    manager: HaltManager, operator: Operators, bus: Bus, received: Received, pool: asyncpg.Pool
) -> None:
    alice = await operator("alice")
    halt = await manager.request(fund_halt())
    result = await manager.resume(fund_id=PAPER, cosigned_by=alice, reason="limits reset")

    resumed = result.resumed
    assert not result.still_halted
    assert result.halted_by == []
    assert (resumed.active, resumed.resumed_by, resumed.cosigned_by, resumed.resume_reason) == (
        False,
        alice,
        alice,
        "limits reset",
    )
    assert resumed.resumed_at is not None
    assert resumed.resumed_at >= halt.requested_at
    assert await manager.get(halt.halt_id) == resumed
    assert await manager.list_active() == []
    kv = await bus.js.key_value(BUCKET)
    with pytest.raises(KeyNotFoundError):
        await kv.get(kv_key(halt.scope))
    await received.wait_count(RESUMED, 1)
    assert received.msg_ids(RESUMED) == [f"{halt.halt_id}:resumed"]
    (event,) = received.resumed()
    assert (event.halt_id, event.resumed_by, event.cosigned_by) == (halt.halt_id, alice, None)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_service_may_ask_when_an_operator_cosigns(manager: HaltManager, operator: Operators) -> None:
    bob = await operator("bob", role="admin")
    await manager.request(fund_halt())
    result = await manager.resume(fund_id=PAPER, requested_by="service:mts1b-riskengine", cosigned_by=bob)
    assert (result.resumed.resumed_by, result.resumed.cosigned_by) == ("service:mts1b-riskengine", bob)


@pytest.mark.parametrize(
    ("cosigner", "problem"),
    [
        ("service:mts1b-riskengine", "is not an operator"),
        ("watchdog:vol_dd", "is not an operator"),
        ("mts1b-riskengine", "is not an operator"),
        ("operator:nobody", "is not a registered operator"),
        ("operator:vera", "has role 'viewer'"),
        ("operator:rex", "is revoked"),
    ],
)
async def test_anyone_but_a_registered_operator_is_refused(
    manager: HaltManager, operator: Operators, cosigner: str, problem: str
) -> None:
    await operator("vera", role="viewer")
    await operator("rex", revoked=True)
    halt = await manager.request(fund_halt())

    error = await refused(manager, fund_id=PAPER, cosigned_by=cosigner)

    assert error.code == "cosigner_not_operator"
    assert error.field == "cosigned_by"
    assert problem in error.reason
    assert "only a registered operator" in error.reason
    assert (await manager.status(fund_id=PAPER)).halts == [halt]
    (refusal,) = await manager.refusals(halt.halt_id)
    assert (refusal.action, refusal.code, refusal.cosigned_by) == (
        "resume",
        "cosigner_not_operator",
        cosigner,
    )


async def test_a_missing_cosign_names_the_argument(manager: HaltManager) -> None:
    await manager.request(fund_halt())
    with pytest.raises(HaltValidationError, match=r"^cosigned_by: is required"):
        await manager.resume(fund_id=PAPER, cosigned_by=None)
    (refusal,) = await manager.refusals()
    assert (refusal.code, refusal.field) == ("invalid", "cosigned_by")


async def test_a_firm_resume_needs_two_distinct_operators(manager: HaltManager, operator: Operators) -> None:
    alice, bob = await operator("alice"), await operator("bob")
    firm = await manager.request(FIRM)

    alone = await refused(manager, firm=True, cosigned_by=alice)
    assert alone.code == "second_operator_required"
    assert alone.field == "requested_by"
    self_cosigned = await refused(manager, firm=True, requested_by=alice, cosigned_by=alice)
    assert self_cosigned.code == "second_operator_required"
    assert "cannot cosign their own" in self_cosigned.reason
    by_service = await refused(manager, firm=True, requested_by="service:oms", cosigned_by=alice)
    assert by_service.code == "requester_not_operator"
    assert (await manager.status()).halted

    result = await manager.resume(firm=True, requested_by=alice, cosigned_by=bob)
    assert (result.resumed.resumed_by, result.resumed.cosigned_by) == (alice, bob)
    assert not (await manager.status()).halted
    assert [r.code for r in await manager.refusals(firm.halt_id)] == [
        "requester_not_operator",
        "second_operator_required",
        "second_operator_required",
    ]


async def test_refusals_travel_with_the_resumed_event(
    manager: HaltManager, operator: Operators, received: Received
) -> None:
    alice = await operator("alice")
    halt = await manager.request(fund_halt())
    await refused(manager, fund_id=PAPER, cosigned_by="watchdog:vol_dd")
    await manager.resume(fund_id=PAPER, cosigned_by=alice)
    await received.wait_count(RESUMED, 1)
    raw = msgspec.json.decode(received.of(RESUMED)[0].data)
    assert raw["halt_id"] == halt.halt_id
    assert [(r["code"], r["cosigned_by"]) for r in raw["refusals"]] == [
        ("cosigner_not_operator", "watchdog:vol_dd")
    ]


class Alerts:
    """An alert view the test flips; ``asynchronous`` answers with a coroutine, as the service's does."""

    def __init__(self, *, asynchronous: bool) -> None:
        self.firing: set[tuple[str, str]] = set()
        self.asked: list[tuple[str, str]] = []
        self.asynchronous = asynchronous

    def is_firing(self, watchdog: str, subject_id: str) -> bool | Awaitable[bool]:
        self.asked.append((watchdog, subject_id))
        answer = (watchdog, subject_id) in self.firing
        if not self.asynchronous:
            return answer

        async def later() -> bool:
            return answer

        return later()


@pytest_asyncio.fixture(params=[False, True], ids=["sync-view", "async-view"])
async def alerted(
    request: pytest.FixtureRequest, pool: asyncpg.Pool, bus: Bus, funds: FundsRegistry
) -> AsyncIterator[tuple[HaltManager, Alerts]]:
    alerts = Alerts(asynchronous=request.param)
    mgr = HaltManager(pool=pool, bus=bus, funds=funds, run_relay=False, alerts=alerts)
    await mgr.start()
    try:
        yield mgr, alerts
    finally:
        await mgr.close()


async def test_a_firing_watchdog_makes_a_resume_need_force_and_a_reason(
    alerted: tuple[HaltManager, Alerts], operator: Operators
) -> None:
    manager, alerts = alerted
    alice = await operator("alice")
    halt = await manager.request(fund_halt(triggered_by_watchdog="vol_dd", requested_by="watchdog:vol_dd"))
    alerts.firing.add(("vol_dd", PAPER))

    preflight = await manager.preflight(fund_id=PAPER)
    assert preflight.halt == halt
    assert preflight.watchdog == "vol_dd"
    assert preflight.watchdog_subject_id == PAPER
    assert preflight.watchdog_firing
    assert preflight.needs_force
    assert not preflight.needs_two_operators
    assert alerts.asked[-1] == ("vol_dd", PAPER)

    unforced = await refused(manager, fund_id=PAPER, cosigned_by=alice)
    assert unforced.code == "watchdog_alerting"
    assert unforced.field == "force"
    reasonless = await refused(manager, fund_id=PAPER, cosigned_by=alice, force=True)
    assert reasonless.field == "reason"
    assert (await manager.status(fund_id=PAPER)).halted

    result = await manager.resume(fund_id=PAPER, cosigned_by=alice, force=True, reason="model bug, confirmed")
    assert result.resumed.forced
    assert result.resumed.resume_reason == "model bug, confirmed"


async def test_a_quiet_watchdog_needs_no_force(
    alerted: tuple[HaltManager, Alerts], operator: Operators
) -> None:
    manager, alerts = alerted
    await manager.request(fund_halt(triggered_by_watchdog="vol_dd"))
    preflight = await manager.preflight(fund_id=PAPER)
    assert not preflight.watchdog_firing
    assert not preflight.needs_force
    result = await manager.resume(fund_id=PAPER, cosigned_by=await operator("alice"))
    assert not result.resumed.forced
    assert alerts.asked == [("vol_dd", PAPER), ("vol_dd", PAPER)]


class BrokenAlerts:
    def is_firing(self, watchdog: str, subject_id: str) -> bool:
        raise ConnectionError("alert store unreachable")


async def test_an_alert_view_that_cannot_answer_counts_as_alerting(
    pool: asyncpg.Pool, bus: Bus, funds: FundsRegistry, operator: Operators
) -> None:
    broken = BrokenAlerts()
    async with HaltManager(pool=pool, bus=bus, funds=funds, run_relay=False, alerts=broken) as manager:
        await manager.request(fund_halt(triggered_by_watchdog="vol_dd"))
        assert (await manager.preflight(fund_id=PAPER)).needs_force
        alice = await operator("alice")
        assert (await refused(manager, fund_id=PAPER, cosigned_by=alice)).code == "watchdog_alerting"
        result = await manager.resume(fund_id=PAPER, cosigned_by=alice, force=True, reason="alert store down")
        assert result.resumed.forced


async def test_every_refusal_is_published_for_the_audit_chain_at_once(
    manager: HaltManager, operator: Operators, received: Received
) -> None:
    """A refused resume that is never followed by a resume still reaches NATS (and so the audit)."""
    halt = await manager.request(fund_halt())
    await refused(manager, fund_id=PAPER, cosigned_by="service:riskengine")
    refused_subject = subjects.halt_refused()
    await received.wait_count(refused_subject, 1)
    (message,) = received.of(refused_subject)
    event = schemas.decode(message.data, schemas.HaltRefused)
    assert (event.action, event.halt_id, event.code, event.cosigned_by) == (
        "resume",
        halt.halt_id,
        "cosigner_not_operator",
        "service:riskengine",
    )
    (refusal,) = await manager.refusals(halt.halt_id)
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == f"halt-refusal:{refusal.refusal_id}"
    assert schemas.payload_type_for(refused_subject) is schemas.HaltRefused
