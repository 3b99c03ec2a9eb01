"""`mts cmd halt` against a real halt service, with a stand-in OMS on NATS."""

from __future__ import annotations

import asyncio
import json

from mts1b_operations.cli import ExitCode
from mts1b_operations.core.testing import ServiceProcess

from .conftest import (
    LIVE_FUND,
    ORDERS_CANCELLED,
    RESPONDER,
    FakeOms,
    halts_ever,
    mts,
    run_on_terminal,
    viewer,
)


async def test_halt_with_confirm_halts_the_firm_and_prints_each_ack(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], oms: FakeOms
) -> None:
    await oms.start()
    result = await mts("halt", "--confirm", "HALT", "--reason", "drill", env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The impact first: every fund of the registry, live ones included, and open orders unknown.
    assert out.index("Impact of a firm-wide halt") < out.index("HALTED")
    assert LIVE_FUND in out
    assert "open orders: unknown" in out
    assert "halts in force now: none" in out
    # Then the halt and the OMS's ack with its count.
    async with viewer(halt_service, tokens) as client:
        active = await client.list_active()
    assert [(h.severity, h.scope, h.mode, h.requested_by) for h in active] == [
        ("FIRM_HALT", "firm", "cancel_open", "operator:alice")
    ]
    assert active[0].halt_id in out
    row = next(line for line in out.splitlines() if RESPONDER in line and "│" in line)
    assert "ok" in row
    assert str(ORDERS_CANCELLED) in row
    assert f"total: {ORDERS_CANCELLED} order(s) cancelled" in out
    assert [(c.command, c.halt_id, c.fund_ids) for c in oms.commands] == [
        ("cancel_all", active[0].halt_id, [])
    ]


async def test_halt_json_shows_the_impact_and_the_acks(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], oms: FakeOms
) -> None:
    await oms.start()
    result = await mts(
        "halt", "--confirm", "HALT", "--reason", "drill", "--mode", "flatten", "--json", env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "created"
    assert data["halt"]["mode"] == "flatten"
    assert data["problems"] == []
    effects = {f["fund_id"]: f["effect"] for f in data["impact"]["funds"]}
    assert "positions closed" in effects["paper-momentum"]
    assert "no flatten: a live fund" in effects[LIVE_FUND]
    assert data["impact"]["open_orders"] == "unknown"
    outcome = data["oms_command"]["outcome"]
    assert outcome["command"] == "flatten"
    assert sorted(outcome["fund_ids"]) == ["paper-meanrev", "paper-momentum"]  # never the live fund
    assert [(a["responder"], a["ok"]) for a in outcome["acks"]] == [(RESPONDER, True)]
    assert outcome["missing"] == []

    # A second halt joins the one in force, says so, and the impact lists it as active.
    again = json.loads(
        (await mts("halt", "--confirm", "HALT", "--reason", "again", "--json", env=env)).stdout
    )
    assert again["outcome"] == "already_halted"
    assert [h["halt_id"] for h in again["impact"]["active_halts"]] == [data["halt"]["halt_id"]]
    assert await halts_ever(halt_service, tokens) == 1


async def test_a_refused_confirmation_sends_nothing(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], oms: FakeOms
) -> None:
    await oms.start()
    for word in ("halt", "", "HALTED", "CANCEL"):
        result = await mts("halt", "--confirm", word, "--reason", "drill", env=env)
        assert result.exit_code == ExitCode.FAILURE, (word, result.output)
        assert "nothing was sent" in result.stderr
    no_terminal = await mts("halt", "--reason", "drill", env=env)
    assert no_terminal.exit_code == ExitCode.USAGE
    assert "--confirm HALT" in no_terminal.stderr
    no_reason = await mts("halt", "--confirm", "HALT", env=env)
    assert no_reason.exit_code == ExitCode.USAGE
    assert "--reason is required" in no_reason.stderr
    bad_mode = await mts("halt", "--confirm", "HALT", "--reason", "x", "--mode", "panic", env=env)
    assert bad_mode.exit_code == ExitCode.USAGE
    assert "--mode" in bad_mode.stderr

    assert await halts_ever(halt_service, tokens) == 0
    assert oms.received == []


async def test_an_expected_responder_that_does_not_ack_fails_the_command(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], oms: FakeOms
) -> None:
    # The service's policy expects fake-oms; nobody listens.
    silent = await mts("halt", "--confirm", "HALT", "--reason", "drill", env=env)
    assert silent.exit_code == ExitCode.FAILURE, silent.output
    assert "the halt is in force, but" in silent.stderr
    assert "no OMS is listening" in silent.stderr
    async with viewer(halt_service, tokens) as client:
        assert len(await client.list_active()) == 1  # the halt stands; only the acks are missing

    # One responder acks, but the operator expects another one too.
    await oms.start()
    result = await mts(
        "halt", "--confirm", "HALT", "--reason", "drill", "--expect", "ghost-oms", "--json", env=env
    )
    assert result.exit_code == ExitCode.FAILURE
    data = json.loads(result.stdout)
    assert data["oms_command"]["outcome"]["missing"] == ["ghost-oms"]
    assert "no ack from ghost-oms" in result.stderr


async def test_the_halt_service_unreachable_exits_3(env: dict[str, str | None], oms: FakeOms) -> None:
    await oms.start()
    gone = {**env, "MTS_HALT_URL": "http://127.0.0.1:9"}
    result = await mts("halt", "--confirm", "HALT", "--reason", "drill", env=gone)
    assert result.exit_code == ExitCode.UNREACHABLE
    assert oms.received == []


async def test_on_a_terminal_the_operator_types_halt(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], oms: FakeOms
) -> None:
    await oms.start()
    wrong = await asyncio.to_thread(
        run_on_terminal, ["cmd", "halt"], env, [("Reason", "drill"), ("Type HALT to confirm", "halt")]
    )
    assert wrong.exit_code == ExitCode.FAILURE, wrong.output
    assert "Impact of a firm-wide halt" in wrong.output
    assert "nothing was sent" in wrong.output
    assert await halts_ever(halt_service, tokens) == 0
    assert oms.received == []

    empty = await asyncio.to_thread(
        run_on_terminal, ["cmd", "halt", "--reason", "drill"], env, [("Type HALT to confirm", "")]
    )
    assert empty.exit_code == ExitCode.FAILURE, empty.output
    assert await halts_ever(halt_service, tokens) == 0

    typed = await asyncio.to_thread(
        run_on_terminal, ["cmd", "halt", "--reason", "drill"], env, [("Type HALT to confirm", "HALT")]
    )
    assert typed.exit_code == 0, typed.output
    assert "HALTED" in typed.output
    async with viewer(halt_service, tokens) as client:
        assert [h.reason for h in await client.list_active()] == ["drill"]
    assert len(oms.commands) == 1
