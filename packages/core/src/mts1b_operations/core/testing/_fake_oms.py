"""``FakeOms``: stand-ins for order management, core-NATS responders that ack every OMS command."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nats.aio.msg import Msg

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck, decode, encode

from ._connections import open_bus

__all__ = ["FakeOms"]


@dataclass
class FakeOms:
    """Responders on ``nats_url`` that record every OMS command (``received``) and ack it.

    Order management is not ours, so this is the one stand-in: ``await start(name)`` per
    responder, ``await close()`` at the end of the test.
    """

    nats_url: str
    received: list[tuple[str, OmsCommand]] = field(default_factory=list)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack, repr=False)

    async def start(
        self, name: str, *, orders: int = 0, positions: int = 0, ok: bool = True, silent: bool = False
    ) -> None:
        """Answer as ``name``: ``orders`` cancelled, ``positions`` closed by a flatten, ``ok`` or
        failed ("broker session down"); ``silent`` records commands but never acks them."""
        bus = await self._stack.enter_async_context(
            open_bus(self.nats_url, name=f"fake-oms-{name}", ensure_streams=False)
        )

        async def on_command(msg: Msg) -> None:
            command = decode(msg.data, OmsCommand)
            self.received.append((name, command))
            if silent:
                return
            ack = OmsCommandAck(
                command_id=command.command_id,
                responder=name,
                command=command.command,
                ok=ok,
                orders_cancelled=orders,
                positions_closed=positions if command.command == "flatten" else 0,
                error=None if ok else "broker session down",
                acked_at=datetime.now(UTC),
            )
            await msg.respond(encode(ack))

        for command in subjects.OMS_COMMANDS:
            await bus.nc.subscribe(subjects.oms_command(command), cb=on_command)
        await bus.nc.flush()

    @property
    def commands(self) -> list[OmsCommand]:
        """The commands received, by any responder, in arrival order."""
        return [command for _, command in self.received]

    async def close(self) -> None:
        await self._stack.aclose()
