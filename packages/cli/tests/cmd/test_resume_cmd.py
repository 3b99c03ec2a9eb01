"""`mts cmd resume [TARGET]` against a real halt service: cosign, targets, pre-flight, --force."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from mts1b_operations.cli import ExitCode
from mts1b_operations.client import Halt
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import WatchdogAlert
from mts1b_operations.core.testing import ServiceProcess, eventually

from .conftest import AMBIGUOUS_YAML, mts, operator, run_on_terminal, viewer


async def firm_halt(service: ServiceProcess, tokens: dict[str, str]) -> Halt:
    async with operator(service, tokens) as client:
        return (await client.request("FIRM_HALT", reason="drill", mode="block_new")).halt


async def active(service: ServiceProcess, tokens: dict[str, str]) -> list[Halt]:
    async with viewer(service, tokens) as client:
        return await client.list_active()


async def test_firm_resume_with_a_second_operators_token(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str]
) -> None:
    halt = await firm_halt(halt_service, tokens)
    result = await mts("resume", "--confirm", "RESUME", "--cosigner-token", tokens["bob"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("Resume of the whole firm") < out.index("RESUMED")
    assert "a second operator's cosign" in out  # the pre-flight said what it needs
    assert f"RESUMED: {halt.halt_id} on firm by operator:alice, cosigned by operator:bob" in out
    assert tokens["bob"] not in result.output
    assert await active(halt_service, tokens) == []


async def test_firm_resume_json_with_the_cosigner_token_from_the_environment(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str]
) -> None:
    halt = await firm_halt(halt_service, tokens)
    result = await mts(
        "resume", "--confirm", "RESUME", "--json", env={**env, "MTS_COSIGNER_TOKEN": tokens["bob"]}
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["preflight"]["needs_two_operators"] is True
    assert data["preflight"]["halt"]["halt_id"] == halt.halt_id
    assert data["resumed"]["halt_id"] == halt.halt_id
    assert data["resumed"]["cosigned_by"] == "operator:bob"
    assert data["still_halted"] is False


async def test_firm_resume_refusals_leave_the_halt_in_force(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str]
) -> None:
    halt = await firm_halt(halt_service, tokens)
    no_cosigner = await mts("resume", "--confirm", "RESUME", env=env)
    assert no_cosigner.exit_code == ExitCode.USAGE
    assert "--cosigner-token" in no_cosigner.stderr

    for word in ("resume", "", "HALT"):
        wrong = await mts("resume", "--confirm", word, "--cosigner-token", tokens["bob"], env=env)
        assert wrong.exit_code == ExitCode.FAILURE, (word, wrong.output)
        assert "nothing was sent" in wrong.stderr

    no_terminal = await mts("resume", "--cosigner-token", tokens["bob"], env=env)
    assert no_terminal.exit_code == ExitCode.USAGE
    assert "--confirm RESUME" in no_terminal.stderr

    # Alice cannot cosign her own firm resume, nor can a viewer or a made-up token.
    for cosigner in (tokens["alice"], tokens["vic"], "mts_forged"):
        refused = await mts("resume", "--confirm", "RESUME", "--cosigner-token", cosigner, env=env)
        assert refused.exit_code == ExitCode.FAILURE, refused.output
        assert "403" in refused.stderr

    assert [h.halt_id for h in await active(halt_service, tokens)] == [halt.halt_id]


async def test_resume_of_a_fund_and_of_a_strategy_resolved_through_the_registry(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str]
) -> None:
    async with operator(halt_service, tokens) as client:
        fund = (await client.request("FUND_HALT", reason="r", fund_id="paper-momentum")).halt
        strategy = (await client.request("STRATEGY_HALT", reason="r", strategy_id="mr-us-eq")).halt

    by_fund = await mts("resume", "paper-momentum", "--confirm", "RESUME", env=env)
    assert by_fund.exit_code == 0, by_fund.output
    assert "Resume of fund paper-momentum" in by_fund.stdout
    assert f"RESUMED: {fund.halt_id} on fund.paper-momentum" in by_fund.stdout

    by_strategy = await mts("resume", "mr-us-eq", "--confirm", "RESUME", "--json", env=env)
    assert by_strategy.exit_code == 0, by_strategy.output
    data = json.loads(by_strategy.stdout)
    assert data["resumed"]["halt_id"] == strategy.halt_id
    assert data["resumed"]["scope"] == "strategy.mr-us-eq"
    assert await active(halt_service, tokens) == []


async def test_targets_that_are_unknown_or_ambiguous_are_usage_errors(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], tmp_path: Path
) -> None:
    ambiguous_file = tmp_path / "ambiguous.yaml"
    ambiguous_file.write_text(AMBIGUOUS_YAML)
    ambiguous = await mts(
        "resume", "beta", "--confirm", "RESUME", env={**env, "MTS_FUNDS_FILE": str(ambiguous_file)}
    )
    assert ambiguous.exit_code == ExitCode.USAGE
    assert "ambiguous: it is fund beta and strategy beta (of fund alpha)" in ambiguous.stderr
    assert "fund:beta or strategy:beta" in ambiguous.stderr

    unknown = await mts("resume", "no-such-fund", "--confirm", "RESUME", env=env)
    assert unknown.exit_code == ExitCode.USAGE
    assert "'no-such-fund' is neither a fund nor a strategy" in unknown.stderr

    no_registry = await mts(
        "resume", "paper-momentum", "--confirm", "RESUME", env={**env, "MTS_FUNDS_FILE": None}
    )
    assert no_registry.exit_code == ExitCode.USAGE
    assert "MTS_FUNDS_FILE" in no_registry.stderr

    nothing = await mts("resume", "fund:paper-meanrev", "--confirm", "RESUME", env=env)
    assert nothing.exit_code == ExitCode.FAILURE
    assert "nothing to resume on fund paper-meanrev" in nothing.stderr


async def test_a_watchdog_still_alerting_needs_force_and_a_reason(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str], bus: Bus
) -> None:
    alert = WatchdogAlert(
        alert_id=str(uuid.uuid4()),
        watchdog="vol_dd",
        status="firing",
        subject_id="paper-momentum",
        value=0.3,
        threshold=0.2,
        message="drawdown beyond the limit",
        fired_at=datetime.now(UTC),
    )
    await bus.publish(subjects.watchdog_alert("vol_dd"), alert, msg_id=alert.alert_id)

    async def auto_halted() -> list[Halt] | None:
        halts = await active(halt_service, tokens)
        return halts or None

    (halt,) = await eventually(auto_halted, what="the vol_dd alert halts paper-momentum")
    assert halt.triggered_by_watchdog == "vol_dd"

    refused = await mts("resume", "paper-momentum", "--confirm", "RESUME", env=env)
    assert refused.exit_code == ExitCode.FAILURE, refused.output
    assert "triggered by watchdog vol_dd on paper-momentum: STILL ALERTING" in refused.stdout
    assert "--force --reason" in refused.stderr

    no_reason = await mts("resume", "paper-momentum", "--force", "--confirm", "RESUME", env=env)
    assert no_reason.exit_code == ExitCode.USAGE
    assert "--force needs --reason" in no_reason.stderr
    assert [h.halt_id for h in await active(halt_service, tokens)] == [halt.halt_id]

    forced = await mts(
        "resume",
        "paper-momentum",
        "--force",
        "--reason",
        "data glitch",
        "--confirm",
        "RESUME",
        "--json",
        env=env,
    )
    assert forced.exit_code == 0, forced.output
    data = json.loads(forced.stdout)
    assert data["preflight"]["needs_force"] is True
    assert data["resumed"]["forced"] is True
    assert data["resumed"]["resume_reason"] == "data glitch"
    assert await active(halt_service, tokens) == []


async def test_on_a_terminal_the_cosigner_types_their_token_unseen(
    env: dict[str, str | None], halt_service: ServiceProcess, tokens: dict[str, str]
) -> None:
    halt = await firm_halt(halt_service, tokens)
    run = await asyncio.to_thread(
        run_on_terminal,
        ["cmd", "resume"],
        env,
        [("Cosigner's token", tokens["bob"]), ("Type RESUME to confirm", "RESUME")],
    )
    assert run.exit_code == 0, run.output
    assert f"RESUMED: {halt.halt_id}" in run.output
    assert tokens["bob"] not in run.output  # typed without echo
    assert await active(halt_service, tokens) == []
