"""What the HTTP handlers and the alerts consumer share: :class:`HaltService`, built at start-up.

It holds the halt manager, the funds registry, the policy and the alert tracker, and does what
follows a halt: the OMS command its mode calls for. Each command and each ack it gathers is
also committed to the outbox as a fact on ``mts.v1.operations.halt.oms.command`` /
``…halt.oms.ack`` (the OPERATIONS stream captures them, the audit service records them), so
the trail shows who was told to cancel or flatten and who answered.

A command re-sent in the background is also recorded as owed (``halt_oms_resends``) until it is
acked, its halt is lifted or its window passes; :meth:`HaltService.resume_resends` picks the
owed ones up again at start-up, so a restart does not drop them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from tenacity import AsyncRetrying, stop_after_delay, wait_exponential

from mts1b_operations.core import subjects
from mts1b_operations.core.outbox import enqueue
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck

from ..adapters.resends import PendingResend, ResendEnd, ResendStore
from ..oms_commands import OmsCommandOutcome, command_for_halt, send_oms_command
from ._schemas import OmsCommandReport

if TYPE_CHECKING:
    import asyncpg

    from mts1b_operations.core.bus import Bus
    from mts1b_operations.core.funds import FundsRegistry
    from mts1b_operations.core.runtime import ServiceContext

    from ..alerts import AlertTracker
    from ..domain import Halt
    from ..manager import HaltManager
    from ..policy import HaltPolicy

__all__ = ["OMS_ACK_FACT", "OMS_COMMAND_FACT", "STATE_KEY", "HaltService", "halt_service"]

log = logging.getLogger(__name__)

STATE_KEY: Final = "halt_service"
# Facts for the audit trail; under mts.v1.operations.halt.>, which the OPERATIONS stream captures.
OMS_COMMAND_FACT: Final = subjects.halt_oms_command()
OMS_ACK_FACT: Final = subjects.halt_oms_ack()


@dataclass(frozen=True, slots=True, kw_only=True)
class HaltService:
    manager: HaltManager
    funds: FundsRegistry
    policy: HaltPolicy
    tracker: AlertTracker
    pool: asyncpg.Pool
    bus: Bus
    source: str = "halt"
    resend_for: float = 600.0
    """Seconds an OMS command that could not be sent keeps being re-sent while its halt is in force,
    counted from when it was first recorded as owed (a restart does not extend it)."""
    _resends: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict, repr=False)
    """The background re-send of each (halt id, command): one at a time, however often it is asked."""

    async def send_command(self, command: OmsCommand) -> OmsCommandOutcome:
        """Send ``command`` to every OMS, gather the acks, and record both for the audit trail.

        Recorded after the send, so the trail never shows a command that did not go out.
        """
        outcome = await send_oms_command(
            self.bus,
            command,
            expected_responders=self.policy.oms.expected_responders,
            timeout=self.policy.oms.ack_timeout,
        )
        await self._record(command, outcome.acks)
        return outcome

    async def follow_up(self, halt: Halt) -> OmsCommandReport:
        """The OMS command the halt's mode calls for, sent and acked, or why none was sent."""
        command = command_for_halt(halt, self.funds)
        if isinstance(command, str):
            return OmsCommandReport(sent=False, detail=command)
        try:
            outcome = await self.send_command(command)
        except Exception as exc:
            log.exception("halt %s: the %s command could not be sent", halt.halt_id, command.command)
            await self._resend_later(command)
            return OmsCommandReport(
                sent=False,
                detail=f"{command.command} could not be sent ({type(exc).__name__}: {exc}); the halt is in "
                "force and order gates block new orders; the command is re-sent in the background while "
                f"the halt stays in force (up to {self.resend_for:g} s)",
            )
        detail = _describe(outcome)
        if not outcome.complete:
            # Nobody listening, an expected OMS silent or an OMS that failed: its orders may still
            # be open at the venues, so the command goes again until every OMS has acked it.
            await self._resend_later(command)
            detail += (
                f"; re-sent in the background until every OMS acks it while the halt stays in force "
                f"(up to {self.resend_for:g} s)"
            )
        return OmsCommandReport(sent=True, detail=detail, outcome=outcome)

    @property
    def _owed(self) -> ResendStore:
        return ResendStore(self.pool)

    async def _resend_later(self, command: OmsCommand) -> None:
        # A halt acknowledged while NATS is away must still cancel the orders at the venues once it
        # is back: the gates only stop new orders. A repeated request for the same halt finds its
        # re-send already running and leaves it be.
        if self._running(command):
            return
        try:
            owed = await self._owed.record(command)
        except Exception:
            log.exception(
                "halt %s: could not record %s as owed; re-sent by this process only (a restart drops it)",
                command.halt_id, command.command,
            )  # fmt: skip
            owed = PendingResend(command=command, halt_active=True, age=0.0)
        if not self._running(command):  # checked again: another request may have started it meanwhile
            self._start_resend(owed)

    async def resume_resends(self) -> tuple[int, int, int]:
        """At start-up: re-send the commands still owed whose halt is in force and window open.

        The others are marked done (lifted, expired). Returns (resumed, lifted, expired).
        """
        resumed = lifted = expired = 0
        for owed in await self._owed.pending():
            halt_id, name = owed.command.halt_id or "", owed.command.command
            if not owed.halt_active:
                await self._owed.finish(halt_id, name, "lifted")
                lifted += 1
            elif owed.age >= self.resend_for:
                log.error(
                    "halt %s: %s %s still owed after %g s (window %g s): no longer re-sent",
                    halt_id, name, owed.command.command_id, owed.age, self.resend_for,
                )  # fmt: skip
                await self._owed.finish(halt_id, name, "expired")
                expired += 1
            elif not self._running(owed.command):
                self._start_resend(owed)
                resumed += 1
        return resumed, lifted, expired

    @staticmethod
    def _key(command: OmsCommand) -> tuple[str, str]:
        return (command.halt_id or "", command.command)

    def _running(self, command: OmsCommand) -> bool:
        running = self._resends.get(self._key(command))
        return running is not None and not running.done()

    def _start_resend(self, owed: PendingResend) -> None:
        key = self._key(owed.command)
        window = max(self.resend_for - owed.age, 0.0)
        name = f"resend-{owed.command.command_id}"
        task = asyncio.create_task(self._resend(owed.command, window), name=name)
        self._resends[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._resends.get(key) is task:
            del self._resends[key]

    async def _resend(self, command: OmsCommand, window: float) -> None:
        halt_id = command.halt_id or ""
        try:
            async for attempt in AsyncRetrying(
                wait=wait_exponential(multiplier=0.2, max=5.0),
                stop=stop_after_delay(window),
                reraise=True,
            ):
                with attempt:
                    current = await self.manager.get(halt_id)
                    if current is None or not current.active:
                        log.info("halt %s lifted: %s no longer re-sent", halt_id, command.command)
                        await self._finish(command, "lifted")
                        return
                    outcome = await self.send_command(command)
                    if not outcome.complete:
                        raise IncompleteOmsCommandError(_describe(outcome))
        except asyncio.CancelledError:
            raise  # on shutdown: the command stays owed and the next start-up resumes it
        except Exception:
            log.exception(
                "halt %s: gave up re-sending %s %s after %g s",
                halt_id, command.command, command.command_id, self.resend_for,
            )  # fmt: skip
            await self._finish(command, "expired")
            return
        await self._finish(command, "acked")
        log.warning("halt %s: %s acked on a retry: %s", halt_id, command.command, _describe(outcome))

    async def _finish(self, command: OmsCommand, end: ResendEnd) -> None:
        try:
            await self._owed.finish(command.halt_id or "", command.command, end)
        except Exception:
            # Still owed in the table: the next start-up checks the halt and the window again.
            log.exception("halt %s: could not mark %s %s", command.halt_id, command.command, end)

    @property
    def pending_resends(self) -> int:
        """OMS commands still being re-sent in the background."""
        return len(self._resends)

    async def close(self) -> None:
        """Stop re-sending (on shutdown; the halts stay in force, a restart reconciles the bucket and
        resumes the commands still owed)."""
        tasks = list(self._resends.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _record(self, command: OmsCommand, acks: list[OmsCommandAck]) -> None:
        command_id = command.command_id
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await enqueue(
                    conn,
                    source=self.source,
                    subject=OMS_COMMAND_FACT,
                    payload=command,
                    event_id=f"oms:{command_id}:command",
                )
                for ack in acks:
                    await enqueue(
                        conn,
                        source=self.source,
                        subject=OMS_ACK_FACT,
                        payload=ack,
                        # Per reply: a re-sent command's later ack (ok after a failure) is a fact too.
                        event_id=f"oms:{command_id}:ack:{ack.responder}:{ack.acked_at.isoformat()}",
                    )
        except Exception:
            # The command went out; failing to record it must not turn its outcome into an error.
            log.exception("could not record OMS command %s for the audit trail", command_id)


class IncompleteOmsCommandError(RuntimeError):
    """An OMS command went out but not every OMS acked it: sent again while its halt is in force."""


def _describe(outcome: OmsCommandOutcome) -> str:
    acked = ", ".join(ack.responder for ack in outcome.acks) or "nobody"
    parts = [
        f"{outcome.command} {outcome.command_id}: acked by {acked}; "
        f"{outcome.orders_cancelled} order(s) cancelled, {outcome.positions_closed} position(s) closed"
    ]
    if outcome.no_responders:
        parts.append("no OMS is listening")
    if outcome.missing:
        parts.append(f"no ack from {', '.join(outcome.missing)}")
    if outcome.failed:
        parts.append(f"failed at {', '.join(outcome.failed)}")
    return "; ".join(parts)


def halt_service(context: ServiceContext) -> HaltService:
    """The running service's :class:`HaltService` (set by the start-up hook)."""
    service = context.state.get(STATE_KEY)
    if not isinstance(service, HaltService):
        raise RuntimeError("the halt service is not started (no HaltService in the context's state)")
    return service
