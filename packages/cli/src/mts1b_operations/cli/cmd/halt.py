"""`mts cmd halt`: the firm-wide halt, after showing what it will stop and a typed HALT."""

from __future__ import annotations

import sys
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final

import click
import msgspec
from rich.console import Console
from rich.table import Table

from .._exit_codes import ExitCode
from .._output import emit_json, json_option, make_table, stderr_console, stdout_console
from ..ops_group import call_service
from ._acks import ack_problems, expect_option, outcome_json, print_outcome
from ._client import halt_client, timeout_option
from ._confirm import ask_reason, check_confirmation, confirm_option, require_reason, type_to_confirm
from ._registry import FUNDS_VARIABLE, LoadedRegistry, load_registry

if TYPE_CHECKING:
    from mts1b_operations.client import Halt, HaltAnswer
    from mts1b_operations.core.funds import Fund

__all__ = ["HALT_MODES", "halt", "halt_rows", "halts_table", "print_halts"]

WORD: Final = "HALT"
HALT_MODES: Final = ("block_new", "cancel_open", "flatten")
OPEN_ORDERS_UNKNOWN: Final = "unknown (no service counts them; the OMS acks say how many it cancelled)"


def _effect(fund: Fund, mode: str) -> str:
    blocked = "new orders refused"
    if mode == "block_new":
        return f"{blocked}; open orders and positions left alone"
    if mode == "cancel_open":
        return f"{blocked}; open orders cancelled"
    if fund.is_paper or fund.allow_live_flatten:
        return f"{blocked}; open orders cancelled, positions closed"
    return f"{blocked}; no flatten: a live fund (allow_live_flatten is off)"


def _impact(loaded: LoadedRegistry | None, mode: str, active: list[Halt]) -> dict[str, Any]:
    funds = (
        None
        if loaded is None
        else [
            {
                "fund_id": fund.fund_id,
                "mode": fund.mode,
                "strategies": list(fund.strategies),
                "effect": _effect(fund, mode),
            }
            for fund in loaded.registry
        ]
    )
    return {
        "scope": "firm",
        "mode": mode,
        "funds": funds,
        "funds_file": None if loaded is None else loaded.path,
        "open_orders": "unknown",
        "active_halts": [msgspec.to_builtins(h) for h in active],
    }


_HALT_COLUMNS: Final = ("halt", "scope", "mode", "requested by", "since (UTC)", "reason")


def halt_rows(halts: list[Halt]) -> list[list[object]]:
    return [
        [
            h.halt_id,
            h.scope,
            h.mode,
            h.requested_by,
            h.requested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            h.reason,
        ]
        for h in halts
    ]


def halts_table(title: str | None, halts: list[Halt]) -> Table:
    """Halts with their ids never cut: an operator copies them into the next command."""
    table = Table(title=title, title_justify="left")
    for column in _HALT_COLUMNS:
        table.add_column(column, no_wrap=column in ("halt", "since (UTC)"))
    for row in halt_rows(halts):
        table.add_row(*(str(cell) for cell in row))
    return table


def print_halts(console: Console, title: str, halts: list[Halt]) -> None:
    if not halts:
        console.print(f"{title}: none")
        return
    console.print(halts_table(title, halts))


def _print_impact(console: Console, impact: dict[str, Any], active: list[Halt]) -> None:
    console.print(f"[bold]Impact of a firm-wide halt, mode {impact['mode']}[/bold]")
    funds = impact["funds"]
    if funds is None:
        console.print(f"funds: unknown ({FUNDS_VARIABLE} is not set); every fund of the firm is halted")
    else:
        rows = [[f["fund_id"], f["mode"], ", ".join(f["strategies"]), f["effect"]] for f in funds]
        title = f"funds ({impact['funds_file']})"
        console.print(make_table(title, ["fund", "mode", "strategies", "effect"], rows))
    console.print(f"open orders: {OPEN_ORDERS_UNKNOWN}", highlight=False)
    print_halts(console, "halts in force now", active)


def _problems(answer: HaltAnswer, expect: tuple[str, ...]) -> list[str]:
    report = answer.oms_command
    if answer.halt.mode == "block_new":
        return []
    if not report.sent or report.outcome is None:
        return [f"no OMS command went out: {report.detail}"]
    return ack_problems(report.outcome, expect)


def _print_answer(answer: HaltAnswer, expect: tuple[str, ...]) -> None:
    out = stdout_console()
    h = answer.halt
    if answer.outcome == "created":
        out.print(f"[bold red]HALTED[/bold red]: {answer.message}", highlight=False)
    else:
        out.print(f"[bold]already halted[/bold]: {answer.message}", highlight=False)
    out.print(halts_table(None, [h]))
    report = answer.oms_command
    if report.outcome is not None:
        print_outcome(report.outcome, expect)
    else:
        out.print(f"OMS command: {report.detail}", highlight=False)


@click.command(name="halt")
@click.option("--reason", default=None, help="Why; recorded with the halt (asked on a terminal).")
@click.option(
    "--mode",
    type=click.Choice(HALT_MODES),
    default="cancel_open",
    show_default=True,
    help="block_new: refuse new orders; cancel_open: also cancel open orders; flatten: also close "
    "positions (paper funds, and live funds whose registry entry allows it).",
)
@confirm_option(WORD)
@expect_option
@timeout_option
@json_option
def halt(
    reason: str | None,
    mode: str,
    confirm_word: str | None,
    expect: tuple[str, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Halt the whole firm: every fund stops trading until two operators resume it.

    First shows the impact (the funds of MTS_FUNDS_FILE and what happens to each, open orders,
    the halts already in force), then asks you to type HALT. Then prints the halt and, for
    modes cancel_open and flatten, every OMS's ack: orders cancelled, positions closed.

    Exits 0 when done; 1 when the confirmation was wrong (nothing sent) or an OMS that was
    expected to ack did not (the halt is then in force all the same); 2 for bad arguments or
    no terminal without --confirm; 3 when the halt service cannot be reached.

    \b
    Example:
      mts cmd halt --confirm HALT --reason "drill" --mode cancel_open
    """
    check_confirmation(WORD, confirm_word)
    given_reason = require_reason(reason)
    loaded = load_registry(required=False)

    async def active_halts() -> list[Halt]:
        async with halt_client(timeout) as client:
            return await client.list_active()

    active = call_service(active_halts())
    impact = _impact(loaded, mode, active)
    asking = confirm_word is None or given_reason is None
    if not as_json or asking:
        _print_impact(stderr_console() if as_json else stdout_console(), impact, active)
    final_reason = ask_reason(given_reason)
    type_to_confirm(WORD, confirm_word)

    async def request() -> HaltAnswer:
        async with halt_client(timeout) as client:
            return await client.request("FIRM_HALT", reason=final_reason, mode=mode)  # type: ignore[arg-type]

    answer = call_service(request())
    problems = _problems(answer, expect)
    if as_json:
        report = answer.oms_command
        emit_json(
            {
                "impact": impact,
                "outcome": answer.outcome,
                "message": answer.message,
                "halt": msgspec.to_builtins(answer.halt),
                "oms_command": {
                    "sent": report.sent,
                    "detail": report.detail,
                    "outcome": None if report.outcome is None else outcome_json(report.outcome, expect),
                },
                "problems": problems,
            }
        )
    else:
        _print_answer(answer, expect)
    if problems:
        for problem in problems:
            click.echo(f"error: the halt is in force, but {problem}", err=True)
        sys.exit(int(ExitCode.FAILURE))
