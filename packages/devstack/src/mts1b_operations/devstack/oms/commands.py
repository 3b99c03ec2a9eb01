"""Answers to ``mts.v1.oms.cmd.cancel_all`` and ``mts.v1.oms.cmd.flatten`` (core-NATS requests).

Every command is answered on its reply subject with an :class:`OmsCommandAck`: this OMS's
responder id, the orders it cancelled and the positions it closed. The command's ``fund_ids``
select funds (empty: all); funds this book does not hold are not ours and are left alone. The
paper OMS holds paper funds only, so a flatten never touches a live fund, whatever
``paper_only`` says. A request that is not a valid command is answered with ``ok: false`` when
its id can be read, and logged either way.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck, SchemaError, decode, encode

from .book import BookEvent, PaperBook

__all__ = ["CommandResponder", "apply_command", "invalid_command_ack"]

log = logging.getLogger(__name__)


def apply_command(
    book: PaperBook, command: OmsCommand, *, responder: str, ts: datetime
) -> tuple[OmsCommandAck, list[BookEvent]]:
    """Carry out ``command`` on the book; the ack and the order events it caused."""
    reason = f"{command.command} by {command.requested_by} (command {command.command_id}): {command.reason}"
    if command.command == "cancel_all":
        events = book.cancel_open(ts, reason, fund_ids=command.fund_ids)
        cancelled, closed = len(events), 0
    else:
        result = book.flatten(ts, reason, fund_ids=command.fund_ids)
        events, cancelled, closed = result.events, result.orders_cancelled, result.positions_closed
    ack = OmsCommandAck(
        command_id=command.command_id,
        responder=responder,
        command=command.command,
        ok=True,
        orders_cancelled=cancelled,
        positions_closed=closed,
        acked_at=datetime.now(UTC),
    )
    return ack, events


def invalid_command_ack(data: bytes, error: str, *, responder: str, command: str) -> OmsCommandAck | None:
    """An ``ok: false`` ack for an unreadable command, when its ``command_id`` can be found."""
    try:
        raw = json.loads(data)
    except ValueError:
        return None
    command_id = raw.get("command_id") if isinstance(raw, dict) else None
    if not isinstance(command_id, str) or not command_id or command not in subjects.OMS_COMMANDS:
        return None
    return OmsCommandAck(
        command_id=command_id[:256],
        responder=responder,
        command=command,  # type: ignore[arg-type]  # checked against OMS_COMMANDS above
        ok=False,
        error=f"invalid command: {error}"[:8192],
        acked_at=datetime.now(UTC),
    )


class CommandResponder:
    """Subscribes to both command subjects; applies each command and replies with the ack.

    ``on_events`` receives the order events a command caused and ``on_change`` is called after
    every applied command (to publish fresh positions); both run before the reply is sent.
    """

    def __init__(
        self,
        bus: Bus,
        book: PaperBook,
        *,
        responder: str,
        on_events: Callable[[list[BookEvent]], None],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._bus = bus
        self._book = book
        self.responder = responder
        self._on_events = on_events
        self._on_change = on_change
        self._subs: list[Subscription] = []
        self.handled: deque[OmsCommandAck] = deque(maxlen=100)
        """The latest acks sent."""

    async def start(self) -> None:
        for name in subjects.OMS_COMMANDS:
            self._subs.append(await self._bus.nc.subscribe(subjects.oms_command(name), cb=self._handle))
        await self._bus.nc.flush()

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        self._subs.clear()

    async def _handle(self, msg: Msg) -> None:
        name = msg.subject.rpartition(".")[2]
        try:
            command = decode(msg.data, OmsCommand)
            if command.command != name:
                raise SchemaError("$.command", f"{command.command!r} sent on the subject of {name!r}")
        except SchemaError as exc:
            log.warning("invalid command on %s: %s", msg.subject, exc)
            ack = invalid_command_ack(msg.data, str(exc), responder=self.responder, command=name)
        else:
            ack, events = apply_command(self._book, command, responder=self.responder, ts=datetime.now(UTC))
            self._on_events(events)
            self._on_change()
            log.info(
                "%s %s from %s for funds %s: %d order(s) cancelled, %d position(s) closed",
                command.command, command.command_id, command.requested_by, command.fund_ids or "all",
                ack.orders_cancelled, ack.positions_closed,
            )  # fmt: skip
        if ack is None:
            return
        self.handled.append(ack)
        if msg.reply:
            try:
                await msg.respond(encode(ack))
            except nats.errors.Error as exc:
                log.warning("could not reply to command %s: %r", ack.command_id, exc)
