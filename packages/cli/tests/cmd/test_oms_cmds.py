"""`mts cmd cancel-all` and `mts cmd flatten-paper` against a real halt service and a stand-in OMS."""

from __future__ import annotations

import json

import pytest

from mts1b_operations.cli import ExitCode
from mts1b_operations.core.testing import ServiceProcess

from .conftest import (
    LIVE_FUND,
    ORDERS_CANCELLED,
    PAPER_FUNDS,
    POSITIONS_CLOSED,
    RESPONDER,
    FakeOms,
    halts_ever,
    mts,
)

# ---------------------------------------------------------------- cancel-all


@pytest.mark.parametrize("expected_responders", [[RESPONDER, "second-oms"]])
async def test_cancel_all_prints_each_responder_and_its_count(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], oms: FakeOms
) -> None:
    await oms.start()
    await oms.start("second-oms")
    result = await mts("cancel-all", "--confirm", "CANCEL", "--reason", "stuck orders", env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("Cancel every open order") < out.index("cancel_all ")
    for responder in (RESPONDER, "second-oms"):
        row = next(line for line in out.splitlines() if f"│ {responder}" in line)
        assert "ok" in row
        assert str(ORDERS_CANCELLED) in row
    assert f"total: {2 * ORDERS_CANCELLED} order(s) cancelled" in out
    assert sorted((name, c.command, c.fund_ids, c.requested_by) for name, c in oms.received) == [
        ("fake-oms", "cancel_all", [], "operator:alice"),
        ("second-oms", "cancel_all", [], "operator:alice"),
    ]
    assert await halts_ever(halt_service, tokens) == 0  # cancel-all is no halt


async def test_cancel_all_of_one_fund_as_json(env: dict[str, str | None], oms: FakeOms) -> None:
    await oms.start()
    result = await mts(
        "cancel-all", "--confirm", "CANCEL", "--reason", "r", "--fund", "paper-meanrev", "--json", env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["impact"]["funds"] == [{"fund_id": "paper-meanrev", "mode": "paper"}]
    assert data["outcome"]["fund_ids"] == ["paper-meanrev"]
    assert data["outcome"]["orders_cancelled"] == ORDERS_CANCELLED
    assert data["outcome"]["complete"] is True
    assert data["problems"] == []
    assert [c.fund_ids for c in oms.commands] == [["paper-meanrev"]]


async def test_cancel_all_fails_when_an_expected_responder_is_silent(
    env: dict[str, str | None], oms: FakeOms
) -> None:
    await oms.start("other-oms")  # answers, but the service's policy expects fake-oms
    result = await mts("cancel-all", "--confirm", "CANCEL", "--reason", "r", "--json", env=env)
    assert result.exit_code == ExitCode.FAILURE, result.output
    data = json.loads(result.stdout)
    assert data["outcome"]["missing"] == [RESPONDER]
    assert [a["responder"] for a in data["outcome"]["acks"]] == ["other-oms"]
    assert f"no ack from {RESPONDER}" in result.stderr

    table = await mts("cancel-all", "--confirm", "CANCEL", "--reason", "r", env=env)
    assert table.exit_code == ExitCode.FAILURE
    silent_row = next(line for line in table.stdout.splitlines() if f"│ {RESPONDER}" in line)
    assert "NO ACK" in silent_row


async def test_cancel_all_reports_a_failed_ack(env: dict[str, str | None], oms: FakeOms) -> None:
    await oms.start(ok=False)
    result = await mts("cancel-all", "--confirm", "CANCEL", "--reason", "r", env=env)
    assert result.exit_code == ExitCode.FAILURE
    assert f"{RESPONDER} failed: broker session down" in result.stderr


async def test_cancel_all_wrong_word_or_no_terminal_sends_nothing(
    env: dict[str, str | None], oms: FakeOms
) -> None:
    await oms.start()
    for word in ("cancel", "", "HALT"):
        result = await mts("cancel-all", "--confirm", word, "--reason", "r", env=env)
        assert result.exit_code == ExitCode.FAILURE, (word, result.output)
        assert "nothing was sent" in result.stderr
    no_terminal = await mts("cancel-all", "--reason", "r", env=env)
    assert no_terminal.exit_code == ExitCode.USAGE
    assert "--confirm CANCEL" in no_terminal.stderr
    unknown = await mts("cancel-all", "--confirm", "CANCEL", "--reason", "r", "--fund", "nope", env=env)
    assert unknown.exit_code == ExitCode.USAGE
    assert "--fund 'nope'" in unknown.stderr
    assert oms.received == []


async def test_cancel_all_timeout_bounds_the_wait(env: dict[str, str | None], oms: FakeOms) -> None:
    # The service waits its 1 s ack timeout for the silent fake-oms; the CLI gives it 0.3 s.
    await oms.start(silent=True)
    result = await mts("cancel-all", "--confirm", "CANCEL", "--reason", "r", "--timeout", "0.3", env=env)
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert "no answer" in result.stderr
    assert "may or may not have been applied" in result.stderr


# ---------------------------------------------------------------- flatten-paper


async def test_flatten_paper_lists_flattened_and_skipped_funds_and_touches_paper_only(
    env: dict[str, str | None], oms: FakeOms
) -> None:
    await oms.start()
    result = await mts("flatten-paper", "--confirm", "FLATTEN", "--reason", "end of drill", env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for fund in PAPER_FUNDS:
        assert "FLATTEN" in next(line for line in out.splitlines() if f"│ {fund}" in line)
    live_row = next(line for line in out.splitlines() if f"│ {LIVE_FUND}" in line)
    assert "skipped: live fund" in live_row
    assert f"{POSITIONS_CLOSED} position(s) closed" in out
    assert f"live funds not touched: {LIVE_FUND}" in out
    assert [(c.command, c.paper_only, sorted(c.fund_ids)) for c in oms.commands] == [
        ("flatten", True, sorted(PAPER_FUNDS))
    ]


async def test_flatten_paper_json_and_one_fund(env: dict[str, str | None], oms: FakeOms) -> None:
    await oms.start()
    result = await mts(
        "flatten-paper",
        "--confirm",
        "FLATTEN",
        "--reason",
        "r",
        "--fund",
        "paper-momentum",
        "--json",
        env=env,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["impact"]["flatten"] == ["paper-momentum"]
    assert {s["fund_id"]: s["why"] for s in data["impact"]["skipped"]} == {
        "paper-meanrev": "not named with --fund",
        LIVE_FUND: "live fund: never touched",
    }
    assert data["outcome"]["fund_ids"] == ["paper-momentum"]
    assert data["outcome"]["paper_only"] is True
    assert data["outcome"]["positions_closed"] == POSITIONS_CLOSED
    assert [c.fund_ids for c in oms.commands] == [["paper-momentum"]]


async def test_flatten_paper_refuses_a_live_fund_and_wrong_words(
    env: dict[str, str | None], oms: FakeOms
) -> None:
    await oms.start()
    live = await mts("flatten-paper", "--confirm", "FLATTEN", "--reason", "r", "--fund", LIVE_FUND, env=env)
    assert live.exit_code == ExitCode.USAGE
    assert "is a live fund" in live.stderr
    wrong = await mts("flatten-paper", "--confirm", "FLATTEN ALL", "--reason", "r", env=env)
    assert wrong.exit_code == ExitCode.FAILURE
    assert "nothing was sent" in wrong.stderr
    no_terminal = await mts("flatten-paper", "--reason", "r", "--json", env=env)
    assert no_terminal.exit_code == ExitCode.USAGE
    assert "--confirm FLATTEN" in no_terminal.stderr
    assert oms.received == []
