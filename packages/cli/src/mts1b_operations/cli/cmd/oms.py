"""`mts cmd cancel-all` and `mts cmd flatten-paper`: commands to every OMS, sent by the halt service.

The halt service sends ``mts.v1.oms.cmd.cancel_all`` / ``flatten`` on the operator's behalf
(recorded in the audit trail with each ack) and answers with the acks it gathered; these
commands show them per responder and exit 1 when one that was expected did not ack.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final

import click

from .._exit_codes import ExitCode
from .._output import emit_json, fail, json_option, make_table, stderr_console, stdout_console
from ..ops_group import call_service
from ._acks import ack_problems, expect_option, outcome_json, print_outcome
from ._client import halt_client, timeout_option
from ._confirm import ask_reason, check_confirmation, confirm_option, require_reason, type_to_confirm
from ._registry import FUNDS_VARIABLE, LoadedRegistry, load_registry

if TYPE_CHECKING:
    from rich.console import Console

    from mts1b_operations.client import OmsCommandOutcome

__all__ = ["cancel_all", "flatten_paper"]

CANCEL: Final = "CANCEL"
FLATTEN: Final = "FLATTEN"

_fund_option = click.option(
    "--fund",
    "funds",
    multiple=True,
    metavar="FUND_ID",
    help="Only this fund (repeatable); default: every fund the command may touch.",
)
_reason_option = click.option(
    "--reason", default=None, help="Why; recorded in the audit trail (asked on a terminal)."
)


def _check_funds(funds: tuple[str, ...], loaded: LoadedRegistry | None, *, paper: bool) -> list[str]:
    chosen = list(dict.fromkeys(f.strip() for f in funds))
    if loaded is None:
        return chosen
    for fund_id in chosen:
        if fund_id not in loaded.registry:
            fail(f"--fund {fund_id!r}: no such fund in the funds registry {loaded.path}", ExitCode.USAGE)
        if paper and loaded.registry.fund(fund_id).is_live:
            fail(f"--fund {fund_id!r} is a live fund: flatten-paper never touches live funds", ExitCode.USAGE)
    return chosen


def _finish(
    outcome: OmsCommandOutcome, impact: dict[str, Any], expect: tuple[str, ...], as_json: bool
) -> None:
    problems = ack_problems(outcome, expect)
    if as_json:
        emit_json({"impact": impact, "outcome": outcome_json(outcome, expect), "problems": problems})
    else:
        print_outcome(outcome, expect)
        live = [s["fund_id"] for s in impact.get("skipped") or () if s["why"].startswith("live")]
        if live:
            stdout_console().print(f"live funds not touched: {', '.join(live)}", highlight=False)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(int(ExitCode.FAILURE))


def _console(as_json: bool) -> Console:
    return stderr_console() if as_json else stdout_console()


# ---------------------------------------------------------------- cancel-all


def _cancel_impact(loaded: LoadedRegistry | None, chosen: list[str]) -> dict[str, Any]:
    if loaded is None:
        funds: list[dict[str, Any]] | None = None if not chosen else [{"fund_id": f} for f in chosen]
    else:
        funds = [
            {"fund_id": fund.fund_id, "mode": fund.mode}
            for fund in loaded.registry
            if not chosen or fund.fund_id in chosen
        ]
    return {
        "command": "cancel_all",
        "funds": funds,
        "funds_file": None if loaded is None else loaded.path,
        "open_orders": "unknown",
    }


def _print_cancel_impact(console: Console, impact: dict[str, Any]) -> None:
    console.print("[bold]Cancel every open order[/bold] (new orders are not blocked: use `mts cmd halt`)")
    funds = impact["funds"]
    if funds is None:
        console.print(f"funds: every fund ({FUNDS_VARIABLE} is not set, so they cannot be listed)")
    else:
        rows = [[f["fund_id"], f.get("mode", "?")] for f in funds]
        console.print(make_table("funds whose open orders are cancelled", ["fund", "mode"], rows))
    console.print("open orders: unknown (each OMS's ack says how many it cancelled)", highlight=False)


@click.command(name="cancel-all")
@_reason_option
@_fund_option
@confirm_option(CANCEL)
@expect_option
@timeout_option
@json_option
def cancel_all(
    reason: str | None,
    funds: tuple[str, ...],
    confirm_word: str | None,
    expect: tuple[str, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Cancel every open order, in every fund (or the --fund ones); type CANCEL to confirm.

    The halt service sends mts.v1.oms.cmd.cancel_all and gathers the acks; each responder is
    printed with the orders it cancelled. It does not halt: new orders still flow.

    Exits 0 when every OMS acked; 1 when the confirmation was wrong (nothing sent), nobody
    answered, or an expected responder did not ack in time; 2 for bad arguments or no terminal
    without --confirm; 3 when the halt service cannot be reached.

    \b
    Example:
      mts cmd cancel-all --confirm CANCEL --reason "stuck orders" --expect paper-oms
    """
    check_confirmation(CANCEL, confirm_word)
    given_reason = require_reason(reason)
    loaded = load_registry(required=False)
    chosen = _check_funds(funds, loaded, paper=False)
    impact = _cancel_impact(loaded, chosen)
    if not as_json or confirm_word is None or given_reason is None:
        _print_cancel_impact(_console(as_json), impact)
    final_reason = ask_reason(given_reason)
    type_to_confirm(CANCEL, confirm_word)

    async def send() -> OmsCommandOutcome:
        async with halt_client(timeout) as client:
            return await client.cancel_all(reason=final_reason, fund_ids=chosen)

    _finish(call_service(send()), impact, expect, as_json)


# ---------------------------------------------------------------- flatten-paper


def _flatten_impact(loaded: LoadedRegistry | None, chosen: list[str]) -> dict[str, Any]:
    if loaded is None:
        return {
            "command": "flatten",
            "flatten": chosen or None,
            "skipped": None,
            "funds_file": None,
        }
    flatten: list[str] = []
    skipped: list[dict[str, str]] = []
    for fund in loaded.registry:
        if fund.is_live:
            skipped.append({"fund_id": fund.fund_id, "why": "live fund: never touched"})
        elif chosen and fund.fund_id not in chosen:
            skipped.append({"fund_id": fund.fund_id, "why": "not named with --fund"})
        else:
            flatten.append(fund.fund_id)
    return {"command": "flatten", "flatten": flatten, "skipped": skipped, "funds_file": loaded.path}


def _print_flatten_impact(console: Console, impact: dict[str, Any]) -> None:
    console.print("[bold]Flatten paper funds[/bold]: cancel their open orders and close their positions")
    if impact["skipped"] is None:
        which = ", ".join(impact["flatten"]) if impact["flatten"] else "every paper fund of the halt service"
        console.print(
            f"funds flattened: {which} ({FUNDS_VARIABLE} is not set here, so live funds cannot be "
            "listed; the halt service never flattens them)",
            highlight=False,
        )
        return
    rows = [[fund_id, "paper", "FLATTEN"] for fund_id in impact["flatten"]]
    rows += [[s["fund_id"], "live" if s["why"].startswith("live") else "paper", f"skipped: {s['why']}"]
             for s in impact["skipped"]]  # fmt: skip
    console.print(make_table(f"funds ({impact['funds_file']})", ["fund", "mode", "action"], rows))


@click.command(name="flatten-paper")
@_reason_option
@_fund_option
@confirm_option(FLATTEN)
@expect_option
@timeout_option
@json_option
def flatten_paper(
    reason: str | None,
    funds: tuple[str, ...],
    confirm_word: str | None,
    expect: tuple[str, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Close every position of the paper funds (or the --fund ones); live funds are never touched.

    Lists which funds will be flattened and which are skipped as live, asks you to type FLATTEN,
    then the halt service sends mts.v1.oms.cmd.flatten (paper_only) and gathers the acks:
    orders cancelled and positions closed per responder. Naming a live fund is refused (2).

    Exits 0 when every OMS acked; 1 when the confirmation was wrong (nothing sent), nobody
    answered, or an expected responder did not ack in time; 2 for bad arguments or no terminal
    without --confirm; 3 when the halt service cannot be reached.

    \b
    Example:
      mts cmd flatten-paper --confirm FLATTEN --reason "end of drill" --fund paper-momentum
    """
    check_confirmation(FLATTEN, confirm_word)
    given_reason = require_reason(reason)
    loaded = load_registry(required=False)
    chosen = _check_funds(funds, loaded, paper=True)
    impact = _flatten_impact(loaded, chosen)
    if loaded is not None and not impact["flatten"]:
        fail(f"the funds registry {loaded.path} has no paper fund to flatten", ExitCode.FAILURE)
    if not as_json or confirm_word is None or given_reason is None:
        _print_flatten_impact(_console(as_json), impact)
    final_reason = ask_reason(given_reason)
    type_to_confirm(FLATTEN, confirm_word)

    async def send() -> OmsCommandOutcome:
        async with halt_client(timeout) as client:
            return await client.flatten_paper(reason=final_reason, fund_ids=chosen)

    _finish(call_service(send()), impact, expect, as_json)
