"""Commands to order management (``mts.v1.oms.cmd.cancel_all`` / ``flatten``) and their acks.

A command is a core-NATS request with a reply inbox of our own (not ``nc.request``, which takes
the first answer only): every order management system listening answers with an
:class:`OmsCommandAck`, and :func:`send_oms_command` gathers the acks until each expected
responder has answered or the timeout has passed. Without a list of expected responders it
gathers until the timeout, so configure the list (``oms.expected_responders`` in the policy
file) to get the answer as soon as everyone has acked. When nobody subscribes to the subject,
the server says so at once (no-responders status) and the outcome reports it. The outcome,
:class:`OmsCommandOutcome`, is core's wire shape (``core.schemas.halt_api``, re-exported here).

The halt service sends these when a halt's mode is ``cancel_open`` (cancel_all) or ``flatten``,
and on an operator's behalf for the CLI's ``cancel-all`` and ``flatten-paper``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import nats.errors
from nats.aio.msg import Msg

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import BusUnavailableError, inject_trace
from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.schemas import (
    OmsCommand,
    OmsCommandAck,
    OmsCommandName,
    SchemaError,
    decode,
    encode,
)
from mts1b_operations.core.schemas.halt_api import OmsCommandOutcome

from .domain import Halt

if TYPE_CHECKING:
    from mts1b_operations.core.bus import Bus

__all__ = [
    "DEFAULT_ACK_TIMEOUT",
    "MAX_ACK_TIMEOUT",
    "OmsCommandOutcome",
    "build_oms_command",
    "command_for_halt",
    "flatten_eligible_funds",
    "send_oms_command",
]

log = logging.getLogger(__name__)

DEFAULT_ACK_TIMEOUT: Final = 5.0
MAX_ACK_TIMEOUT: Final = 120.0
_NO_RESPONDERS: Final = "503"
_STATUS_HEADER: Final = "Status"


def build_oms_command(
    command: OmsCommandName,
    *,
    requested_by: str,
    fund_ids: Sequence[str],
    paper_only: bool,
    reason: str,
    halt_id: str | None = None,
) -> OmsCommand:
    """A new command with its own id; fields are checked against the schema (errors name them)."""
    cmd = OmsCommand(
        command_id=str(uuid.uuid4()),
        command=command,
        requested_by=requested_by,
        fund_ids=list(fund_ids),
        paper_only=paper_only,
        reason=reason,
        halt_id=halt_id,
        issued_at=datetime.now(UTC),
    )
    encode(cmd)  # raises SchemaError naming the field (empty reason, a fund id that is no token, ...)
    return cmd


def flatten_eligible_funds(funds: FundsRegistry, fund_ids: Sequence[str] | None = None) -> list[Fund]:
    """The funds a flatten may touch: paper funds, and live ones only where the registry allows it.

    ``fund_ids`` narrows to those funds (each must exist); ``None`` means every fund.
    """
    chosen = funds.funds if fund_ids is None else tuple(funds.fund(f) for f in fund_ids)
    return [fund for fund in chosen if fund.is_paper or fund.allow_live_flatten]


def command_for_halt(halt: Halt, funds: FundsRegistry) -> OmsCommand | str:
    """The command a halt's mode calls for, or (a string) why none is sent.

    cancel_open sends cancel_all for the halt's fund (every fund for a firm halt); flatten sends
    flatten for the funds that may be flattened. A strategy halt sends nothing: a command names
    funds, not strategies, and cancelling the whole fund would stop more than was asked.
    """
    if halt.mode == "block_new":
        return "mode block_new: new orders are blocked, working orders and positions are left alone"
    if halt.severity == "STRATEGY_HALT":
        return (
            f"a strategy halt ({halt.mode}) sends no command: an OMS command is scoped by fund, and "
            f"cancelling fund {halt.fund_id!r} would stop its other strategies too; the OMS acts on "
            "the halt it reads from mts_halts"
        )
    fund_ids: list[str] = [] if halt.fund_id is None else [halt.fund_id]
    name: OmsCommandName = "cancel_all"
    paper_only = False
    if halt.mode == "flatten":
        name = "flatten"
        eligible = flatten_eligible_funds(funds, None if halt.fund_id is None else fund_ids)
        if not eligible:
            return "mode flatten: no fund of this halt may be flattened (live funds need allow_live_flatten)"
        fund_ids = [fund.fund_id for fund in eligible]
        paper_only = all(fund.is_paper for fund in eligible)
    return build_oms_command(
        name,
        requested_by=halt.requested_by,
        fund_ids=fund_ids,
        paper_only=paper_only,
        reason=f"halt {halt.halt_id} ({halt.severity} {halt.mode}): {halt.reason}"[:8192],
        halt_id=halt.halt_id,
    )


def _check_arguments(expected: Collection[str], timeout: float) -> list[str]:
    if isinstance(expected, str):
        raise ValueError("expected_responders: expected a collection of names, got one str")
    names = list(dict.fromkeys(expected))
    if any(not isinstance(name, str) or not name.strip() for name in names):
        raise ValueError(f"expected_responders: names must be non-empty strings (got {names!r})")
    if not 0 < timeout <= MAX_ACK_TIMEOUT:
        raise ValueError(f"timeout: {timeout!r} must be > 0 and <= {MAX_ACK_TIMEOUT:g} seconds")
    return names


class _Collector:
    def __init__(self, command: OmsCommand, expected: list[str]) -> None:
        self.command = command
        self.expected = expected
        self.acks: dict[str, OmsCommandAck] = {}
        self.invalid = 0
        self.no_responders = False

    def take(self, data: bytes, headers: dict[str, str] | None) -> None:
        if headers and headers.get(_STATUS_HEADER) == _NO_RESPONDERS and not data:
            self.no_responders = True
            return
        try:
            ack = decode(data, OmsCommandAck)
        except SchemaError as exc:
            self.invalid += 1
            log.warning("command %s: ignoring a reply that is not an ack: %s", self.command.command_id, exc)
            return
        if ack.command_id != self.command.command_id or ack.command != self.command.command:
            self.invalid += 1
            log.warning(
                "command %s: ignoring an ack of another command (%s %s) from %s",
                self.command.command_id, ack.command, ack.command_id, ack.responder,
            )  # fmt: skip
            return
        if ack.responder in self.acks:
            log.info("command %s: second ack from %s ignored", self.command.command_id, ack.responder)
            return
        self.acks[ack.responder] = ack

    @property
    def done(self) -> bool:
        if self.no_responders:
            return True
        return bool(self.expected) and all(name in self.acks for name in self.expected)

    def outcome(self, *, timed_out: bool, elapsed: float) -> OmsCommandOutcome:
        acks = list(self.acks.values())
        missing = [name for name in self.expected if name not in self.acks]
        failed = [ack.responder for ack in acks if not ack.ok]
        return OmsCommandOutcome(
            command_id=self.command.command_id,
            command=self.command.command,
            fund_ids=list(self.command.fund_ids),
            paper_only=self.command.paper_only,
            acks=acks,
            expected_responders=list(self.expected),
            missing=missing,
            failed=failed,
            no_responders=self.no_responders,
            timed_out=timed_out,
            invalid_replies=self.invalid,
            orders_cancelled=sum(ack.orders_cancelled for ack in acks),
            positions_closed=sum(ack.positions_closed for ack in acks),
            elapsed=round(elapsed, 6),
            complete=bool(acks) and not missing and not failed and not self.no_responders,
        )


async def send_oms_command(
    bus: Bus,
    command: OmsCommand,
    *,
    expected_responders: Collection[str] = (),
    timeout: float = DEFAULT_ACK_TIMEOUT,  # noqa: ASYNC109 - the ack collection window, not a cancel
) -> OmsCommandOutcome:
    """Send ``command`` on its subject and gather acks until every expected responder answered.

    Returns after ``timeout`` seconds at the latest, naming the expected responders that did not
    ack. Raises :class:`BusUnavailableError` at once when NATS is not connected (a command
    buffered for later could reach the OMS long after it mattered), and ``nats.errors.Error``
    subclasses when the command cannot be sent.
    """
    expected = _check_arguments(expected_responders, timeout)
    if not bus.is_connected:
        raise BusUnavailableError(
            f"cannot send {command.command} {command.command_id}: NATS is not connected"
        )
    subject = subjects.oms_command(command.command)
    data = encode(command)
    nc = bus.nc
    collector = _Collector(command, expected)
    arrived = asyncio.Event()
    started = time.monotonic()

    async def on_reply(msg: Msg) -> None:
        collector.take(msg.data, msg.headers)
        arrived.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        headers: dict[str, str] = {}
        inject_trace(headers)
        await nc.publish(subject, data, reply=inbox, headers=headers or None)
        await nc.flush(timeout=max(1, int(timeout)))
        deadline = started + timeout
        timed_out = False
        while not collector.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            arrived.clear()
            if collector.done:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), remaining)
    finally:
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()
    outcome = collector.outcome(timed_out=timed_out, elapsed=time.monotonic() - started)
    log.info(
        "command %s %s: %d ack(s) from %s; missing %s; failed %s%s",
        command.command, command.command_id, len(outcome.acks),
        [a.responder for a in outcome.acks] or "nobody", outcome.missing or "none",
        outcome.failed or "none", "; no responders" if outcome.no_responders else "",
    )  # fmt: skip
    return outcome
