"""OMS commands over real NATS: acks gathered from every responder, silent ones named.

A responder here is a test double of an order management system (the devstack's paper OMS
comes later): a plain core-NATS subscriber answering with an OmsCommandAck.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from nats.aio.msg import Msg

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck, SchemaError, decode, encode
from mts1b_operations.halt import Halt
from mts1b_operations.halt.oms_commands import (
    build_oms_command,
    command_for_halt,
    flatten_eligible_funds,
    send_oms_command,
)

Responder = Callable[..., Awaitable[None]]


@pytest_asyncio.fixture
async def responder(nats_url: str) -> AsyncIterator[Responder]:
    """Start fake OMS responders: each acks every command on both OMS command subjects."""
    buses: list[Bus] = []
    received: list[OmsCommand] = []

    async def start(
        name: str, *, ok: bool = True, orders: int = 0, positions: int = 0, raw: bytes | None = None
    ) -> None:
        b = await connect_bus(nats_url, name=f"fake-oms-{name}", connect_deadline=10)
        buses.append(b)

        async def on_command(msg: Msg) -> None:
            command = decode(msg.data, OmsCommand)
            received.append(command)
            reply = (
                raw
                if raw is not None
                else encode(
                    OmsCommandAck(
                        command_id=command.command_id,
                        responder=name,
                        command=command.command,
                        ok=ok,
                        orders_cancelled=orders,
                        positions_closed=positions,
                        error=None if ok else "broker session down",
                        acked_at=datetime.now(UTC),
                    )
                )
            )
            await msg.respond(reply)

        for command in subjects.OMS_COMMANDS:
            await b.nc.subscribe(subjects.oms_command(command), cb=on_command)
        await b.nc.flush()

    start.received = received  # type: ignore[attr-defined]
    yield start
    for b in buses:
        await b.close()


def _command(name: str = "cancel_all") -> OmsCommand:
    return build_oms_command(
        name,  # type: ignore[arg-type]
        requested_by="operator:alice",
        fund_ids=["paper-momentum"],
        paper_only=False,
        reason="drill",
        halt_id="h-1",
    )


async def test_acks_of_every_expected_responder_end_the_wait_early(bus: Bus, responder: Responder) -> None:
    await responder("oms-a", orders=3)
    await responder("oms-b", orders=4, positions=1)
    command = _command()
    started = time.monotonic()
    outcome = await send_oms_command(bus, command, expected_responders=["oms-a", "oms-b"], timeout=30)
    assert time.monotonic() - started < 15, "returned only at the timeout although both had acked"
    assert outcome.complete
    assert not outcome.timed_out
    assert outcome.missing == []
    assert outcome.failed == []
    assert sorted(ack.responder for ack in outcome.acks) == ["oms-a", "oms-b"]
    assert {ack.command_id for ack in outcome.acks} == {command.command_id}
    assert (outcome.orders_cancelled, outcome.positions_closed) == (7, 1)
    sent = responder.received  # type: ignore[attr-defined]
    assert [c.command_id for c in sent] == [command.command_id] * 2
    assert sent[0].fund_ids == ["paper-momentum"]
    assert sent[0].halt_id == "h-1"


async def test_an_expected_responder_that_does_not_ack_is_named(bus: Bus, responder: Responder) -> None:
    await responder("oms-a", orders=2)
    await responder("oms-b", orders=5)
    outcome = await send_oms_command(
        bus, _command("flatten"), expected_responders=["oms-a", "oms-b", "oms-live"], timeout=3
    )
    assert not outcome.complete
    assert outcome.timed_out
    assert outcome.missing == ["oms-live"]
    assert sorted(ack.responder for ack in outcome.acks) == ["oms-a", "oms-b"]
    assert outcome.command == "flatten"
    assert outcome.elapsed >= 3


async def test_without_expected_responders_every_ack_within_the_timeout_counts(
    bus: Bus, responder: Responder
) -> None:
    await responder("oms-a", orders=1)
    await responder("oms-b", orders=1)
    outcome = await send_oms_command(bus, _command(), timeout=3)
    assert outcome.timed_out
    assert outcome.complete
    assert sorted(ack.responder for ack in outcome.acks) == ["oms-a", "oms-b"]


async def test_nobody_listening_is_reported_at_once(bus: Bus) -> None:
    started = time.monotonic()
    outcome = await send_oms_command(bus, _command(), expected_responders=["oms-a"], timeout=30)
    assert time.monotonic() - started < 15
    assert outcome.no_responders
    assert not outcome.complete
    assert outcome.missing == ["oms-a"]
    assert outcome.acks == []


async def test_a_failed_ack_is_named_and_the_outcome_is_incomplete(bus: Bus, responder: Responder) -> None:
    await responder("oms-a", orders=1)
    await responder("oms-b", ok=False)
    outcome = await send_oms_command(bus, _command(), expected_responders=["oms-a", "oms-b"], timeout=10)
    assert outcome.failed == ["oms-b"]
    assert not outcome.complete
    assert not outcome.timed_out


async def test_a_reply_that_is_not_an_ack_is_counted_not_taken(bus: Bus, responder: Responder) -> None:
    await responder("oms-a")
    await responder("oms-garbage", raw=b'{"hello": "world"}')
    outcome = await send_oms_command(bus, _command(), expected_responders=["oms-a", "oms-garbage"], timeout=3)
    assert outcome.invalid_replies == 1
    assert outcome.missing == ["oms-garbage"]
    assert [ack.responder for ack in outcome.acks] == ["oms-a"]


async def test_bad_arguments_name_the_argument(bus: Bus) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await send_oms_command(bus, _command(), timeout=0)
    with pytest.raises(ValueError, match="expected_responders"):
        await send_oms_command(bus, _command(), expected_responders="oms-a")
    with pytest.raises(SchemaError, match="reason"):
        build_oms_command(
            "cancel_all", requested_by="operator:alice", fund_ids=[], paper_only=True, reason=""
        )
    with pytest.raises(SchemaError, match="fund_ids"):
        build_oms_command(
            "cancel_all", requested_by="operator:alice", fund_ids=["no spaces"], paper_only=True, reason="x"
        )


def test_flatten_touches_paper_funds_and_only_the_live_ones_the_registry_allows() -> None:
    funds = FundsRegistry(
        [
            Fund(fund_id="paper-a", mode="paper"),
            Fund(fund_id="live-b", mode="live"),
            Fund(fund_id="live-c", mode="live", allow_live_flatten=True),
        ]
    )
    assert [f.fund_id for f in flatten_eligible_funds(funds)] == ["paper-a", "live-c"]
    assert [f.fund_id for f in flatten_eligible_funds(funds, ["live-b"])] == []


def _halt(severity: str, mode: str, fund_id: str | None = None, strategy_id: str | None = None) -> Halt:
    scope = "firm" if fund_id is None else f"fund.{fund_id}"
    if strategy_id is not None:
        scope = f"strategy.{strategy_id}"
    return Halt(
        halt_id="h-9",
        scope=scope,
        severity=severity,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        fund_id=fund_id,
        strategy_id=strategy_id,
        reason="risk limit",
        requested_by="operator:alice",
        requested_at=datetime.now(UTC),
    )


FUNDS = FundsRegistry(
    [
        Fund(fund_id="paper-a", mode="paper", strategies=["s-1"]),
        Fund(fund_id="live-b", mode="live"),
        Fund(fund_id="live-c", mode="live", allow_live_flatten=True),
    ]
)


def test_a_halts_mode_picks_the_command_and_its_scope() -> None:
    firm_cancel = command_for_halt(_halt("FIRM_HALT", "cancel_open"), FUNDS)
    assert isinstance(firm_cancel, OmsCommand)
    assert (firm_cancel.command, firm_cancel.fund_ids, firm_cancel.paper_only) == ("cancel_all", [], False)
    assert (firm_cancel.halt_id, firm_cancel.requested_by) == ("h-9", "operator:alice")

    fund_cancel = command_for_halt(_halt("FUND_HALT", "cancel_open", "live-b"), FUNDS)
    assert isinstance(fund_cancel, OmsCommand)
    assert fund_cancel.fund_ids == ["live-b"]

    firm_flatten = command_for_halt(_halt("FIRM_HALT", "flatten"), FUNDS)
    assert isinstance(firm_flatten, OmsCommand)
    assert (firm_flatten.command, firm_flatten.fund_ids) == ("flatten", ["paper-a", "live-c"])
    assert firm_flatten.paper_only is False

    paper_flatten = command_for_halt(_halt("FUND_HALT", "flatten", "paper-a"), FUNDS)
    assert isinstance(paper_flatten, OmsCommand)
    assert (paper_flatten.fund_ids, paper_flatten.paper_only) == (["paper-a"], True)


def test_block_new_and_strategy_halts_send_no_command_and_say_why() -> None:
    assert "block_new" in str(command_for_halt(_halt("FIRM_HALT", "block_new"), FUNDS))
    why = command_for_halt(_halt("STRATEGY_HALT", "cancel_open", "paper-a", "s-1"), FUNDS)
    assert isinstance(why, str)
    assert "scoped by fund" in why
