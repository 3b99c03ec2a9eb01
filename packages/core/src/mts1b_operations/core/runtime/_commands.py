"""The restart command: a core NATS subscription on mts.v1.operations.cmd.restart.

Core NATS (not a JetStream consumer) on purpose: a restarted instance must not replay the
command that restarted it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import OperationsCommand, OperationsCommandAck, decode, encode

from ._spec import ServiceContext

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = ["RestartListener"]

log = logging.getLogger(__name__)


class RestartListener:
    """Acks a restart command aimed at this service (targets empty or naming it), then asks to stop.

    The ack goes to the message's reply subject: the requester gathers one ack per instance.
    """

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.subject = subjects.operations_command("restart")
        self._sub: Any = None

    def _targets_me(self, command: OperationsCommand) -> bool:
        names = {self.context.name, self.context.settings.service_name}
        return not command.targets or bool(names.intersection(command.targets))

    async def _on_message(self, msg: Msg) -> None:
        try:
            command = decode(msg.data, OperationsCommand)
        except ValueError as exc:
            log.warning("ignoring a malformed restart command: %s", exc)
            return
        if command.command != "restart" or not self._targets_me(command):
            return
        log.info("restart requested by %s (command %s)", command.requested_by, command.command_id)
        if msg.reply:
            ack = OperationsCommandAck(
                command_id=command.command_id,
                service=self.context.name,
                instance_id=self.context.instance_id,
                accepted=True,
                detail="draining, then exiting for the supervisor to restart",
                acked_at=datetime.now(UTC),
            )
            try:
                await self.context.bus.nc.publish(msg.reply, encode(ack))
                await self.context.bus.nc.flush(timeout=2)
            except Exception as exc:
                log.warning("restart ack not sent (%s: %s); restarting anyway", type(exc).__name__, exc)
        self.context.request_stop(f"restart command {command.command_id} from {command.requested_by}")

    async def start(self) -> None:
        self._sub = await self.context.bus.nc.subscribe(self.subject, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
