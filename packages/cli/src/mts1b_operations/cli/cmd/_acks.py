"""The acks of an OMS command (cancel_all, flatten) as the operator reads them, and what counts as failed.

The halt service sends the command and gathers one ack per responder; the CLI shows each
responder with its counts and fails (exit 1) when an expected responder stayed silent, a
responder reported a failure, or nobody answered at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from .._output import make_table, stdout_console

if TYPE_CHECKING:
    from mts1b_operations.client import OmsCommandOutcome

__all__ = ["EXPECT_VARIABLE", "ack_problems", "expect_option", "outcome_json", "print_outcome"]

F = TypeVar("F", bound=Callable[..., Any])

EXPECT_VARIABLE = "MTS_OMS_RESPONDERS"


def expect_option(func: F) -> F:
    """``--expect NAME`` (repeatable): responders that must ack, besides the halt service's own list."""
    return click.option(
        "--expect",
        "expect",
        multiple=True,
        metavar="RESPONDER",
        envvar=EXPECT_VARIABLE,
        show_envvar=True,
        help="An OMS responder id that must ack (repeatable; the env variable takes a space-separated "
        "list). The halt service's policy may expect more (oms.expected_responders).",
    )(func)


def _missing(outcome: OmsCommandOutcome, expect: Sequence[str]) -> list[str]:
    acked = {ack.responder for ack in outcome.acks}
    return list(dict.fromkeys([*outcome.missing, *(name for name in expect if name not in acked)]))


def ack_problems(outcome: OmsCommandOutcome, expect: Sequence[str] = ()) -> list[str]:
    """Why the command cannot be called done; empty when every responder that matters acked ok."""
    what = outcome.command
    problems: list[str] = []
    missing = _missing(outcome, expect)
    if outcome.no_responders:
        expected = f" (expected: {', '.join(missing)})" if missing else ""
        problems.append(f"no OMS is listening for {what}: nothing was done{expected}")
    elif missing:
        problems.append(f"no ack from {', '.join(missing)} within the timeout")
    elif not outcome.acks:
        problems.append(f"no OMS acked {what} within the halt service's ack timeout")
    for ack in outcome.acks:
        if not ack.ok:
            problems.append(f"{ack.responder} failed: {ack.error or 'no reason given'}")
    return problems


def outcome_json(outcome: OmsCommandOutcome, expect: Sequence[str] = ()) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(outcome)
    data["missing"] = _missing(outcome, expect)
    data["problems"] = ack_problems(outcome, expect)
    return data


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def print_outcome(outcome: OmsCommandOutcome, expect: Sequence[str] = ()) -> None:
    """One row per responder (silent expected ones included), then the totals."""
    rows: list[list[object]] = [
        [
            ack.responder,
            "ok" if ack.ok else "FAILED",
            ack.orders_cancelled,
            ack.positions_closed,
            _stamp(ack.acked_at),
            ack.error or "",
        ]
        for ack in outcome.acks
    ]
    rows.extend(
        [name, "NO ACK", "-", "-", "-", "did not answer in time"] for name in _missing(outcome, expect)
    )
    out = stdout_console()
    funds = ", ".join(outcome.fund_ids) or "every fund"
    title = f"{outcome.command} {outcome.command_id} (funds: {funds})"
    if rows:
        out.print(
            make_table(
                title,
                ["responder", "ack", "orders cancelled", "positions closed", "acked at (UTC)", "error"],
                rows,
            )
        )
    else:
        out.print(f"{title}: no responder answered")
    out.print(
        f"total: {outcome.orders_cancelled} order(s) cancelled, {outcome.positions_closed} position(s) "
        f"closed, {len(outcome.acks)} ack(s) in {outcome.elapsed:.2f} s",
        highlight=False,
    )
