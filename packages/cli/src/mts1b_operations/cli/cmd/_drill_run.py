"""One fund's halt drill: halt it, time each stage, resume it, check its orders flow again.

The stages are the chain an operator is asked about, each timed from the trigger (the moment
the halt request is sent), in milliseconds on the drill's own clock:

- ``gate``: a HaltGate (client SDK, watching the ``mts_halts`` bucket) sees the fund halted;
- ``cancel``: every open order is cancelled: the drill has received as many cancellations of
  the fund's open orders as the OMS acks say they cancelled (and the gate is closed, since
  before that new orders could still arrive);
- ``acks``: the halt service's answer with every OMS ack is in hand (and the cancels seen).

Each stage is the time by which it *and every stage before it* held, so the three are ordered
by construction; what was observed on its own (the answer, the last cancellation, each OMS's
``acked_at`` on its own clock) is kept under ``observed``. The fund is always resumed, even
when a stage fails, with the second operator's cosign.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mts1b_operations.client import halt_key

from ._acks import ack_problems

if TYPE_CHECKING:
    from mts1b_operations.client import HaltAnswer, HaltClient
    from mts1b_operations.core.funds import Fund

    from ._drill_watch import Arrival, GateWatch, OrderTracker

__all__ = ["DrillSettings", "FundDrill", "drill_fund"]


def _ms(start: float, end: float | None) -> float | None:
    return None if end is None else round((end - start) * 1000.0, 3)


@dataclass
class FundDrill:
    """The figures of one fund's drill (JSON-ready through :meth:`as_json`)."""

    fund_id: str
    strategies: list[str]
    triggered_at: datetime
    open_orders_at_trigger: int = 0
    halt_id: str | None = None
    command_id: str | None = None
    orders_cancelled_acked: int = 0
    cancels_seen: int = 0
    open_orders_after: int = 0
    acks: list[dict[str, Any]] = field(default_factory=list)
    stages_ms: dict[str, float | None] = field(default_factory=dict)
    observed_ms: dict[str, float | None] = field(default_factory=dict)
    resume_ms: dict[str, float | None] = field(default_factory=dict)
    resumed: bool = False
    requested_by: str | None = None
    cosigned_by: str | None = None
    orders_accepted_again: bool | None = False
    """None: not checkable (every strategy of the fund is under a strategy halt of its own)."""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "fund_id": self.fund_id,
            "strategies": self.strategies,
            "triggered_at": self.triggered_at.isoformat(),
            "halt_id": self.halt_id,
            "command_id": self.command_id,
            "open_orders_at_trigger": self.open_orders_at_trigger,
            "orders_cancelled_acked": self.orders_cancelled_acked,
            "cancels_seen": self.cancels_seen,
            "open_orders_after": self.open_orders_after,
            "acks": self.acks,
            "stages_ms": self.stages_ms,
            "observed_ms": self.observed_ms,
            "resume_ms": self.resume_ms,
            "resumed": self.resumed,
            "requested_by": self.requested_by,
            "cosigned_by": self.cosigned_by,
            "orders_accepted_again": self.orders_accepted_again,
            "problems": self.problems,
            "notes": self.notes,
        }


@dataclass(frozen=True, kw_only=True)
class DrillSettings:
    reason: str
    cosigner_token: str
    expect: tuple[str, ...]
    timeout: float


async def drill_fund(
    fund: Fund, *, halts: HaltClient, tracker: OrderTracker, gate: GateWatch, settings: DrillSettings
) -> FundDrill:
    """Halt ``fund``, time gate → cancel → acks, resume it and wait for an accepted order."""
    key = halt_key("fund", fund.fund_id)
    gate.forget(key)
    result = FundDrill(
        fund_id=fund.fund_id,
        strategies=list(fund.strategies),
        triggered_at=datetime.now(UTC),
        open_orders_at_trigger=len(tracker.open_orders(fund.fund_id)),
    )
    trigger = time.monotonic()
    request = asyncio.create_task(
        halts.request("FUND_HALT", fund_id=fund.fund_id, reason=settings.reason, mode="cancel_open")
    )
    answer: HaltAnswer | None = None
    try:
        closed = await gate.wait_closed(key, settings.timeout)
        answer = await request
        answered = time.monotonic()
        result.halt_id = answer.halt.halt_id
        result.requested_by = answer.halt.requested_by
        if answer.outcome != "created":
            result.problems.append(
                f"the fund was already halted ({answer.message}); figures are not a drill's"
            )
        if closed is None:
            result.problems.append(f"the halt gate did not see {key} halted within {settings.timeout:g} s")
        _take_acks(result, answer, trigger, settings.expect)
        cancelled_at = await _wait_cancels(result, tracker, trigger, settings.timeout)
        _stages(result, trigger, closed, cancelled_at, answered)
    finally:
        if answer is None and not request.done():
            request.cancel()
        await _resume(result, fund, halts=halts, tracker=tracker, gate=gate, settings=settings, key=key)
    return result


def _take_acks(result: FundDrill, answer: HaltAnswer, trigger: float, expect: tuple[str, ...]) -> None:
    report = answer.oms_command
    outcome = report.outcome
    if outcome is None:
        result.problems.append(f"no OMS command went out: {report.detail}")
        return
    result.command_id = outcome.command_id
    result.orders_cancelled_acked = outcome.orders_cancelled
    wall_trigger = result.triggered_at
    result.acks = [
        {
            "responder": ack.responder,
            "ok": ack.ok,
            "orders_cancelled": ack.orders_cancelled,
            "acked_at": ack.acked_at.isoformat(),
            "acked_ms_oms_clock": round((ack.acked_at - wall_trigger).total_seconds() * 1000.0, 3),
            "error": ack.error,
        }
        for ack in outcome.acks
    ]
    result.problems.extend(ack_problems(outcome, expect))


async def _wait_cancels(
    result: FundDrill, tracker: OrderTracker, trigger: float, within: float
) -> float | None:
    """When the last of the acked cancellations arrived; None when the acks say none were cancelled."""
    wanted = result.orders_cancelled_acked

    def enough() -> bool:
        return len(tracker.cancels_since(result.fund_id, trigger)) >= wanted

    if not await tracker.wait_for(enough, within):
        seen = len(tracker.cancels_since(result.fund_id, trigger))
        result.problems.append(
            f"the OMS acked {wanted} cancellation(s) but only {seen} order event(s) said so "
            f"within {within:g} s"
        )
    cancels = tracker.cancels_since(result.fund_id, trigger)
    result.cancels_seen = len(cancels)
    result.open_orders_after = len(tracker.open_orders(result.fund_id))
    if wanted == 0 or len(cancels) < wanted:
        return None
    return cancels[wanted - 1].at


def _stages(
    result: FundDrill, trigger: float, closed: float | None, cancelled: float | None, answered: float
) -> None:
    result.observed_ms = {
        "gate_closed": _ms(trigger, closed),
        "last_cancel_event": _ms(trigger, cancelled),
        "halt_service_answer": _ms(trigger, answered),
    }
    if closed is None:
        result.stages_ms = {"gate": None, "cancel": None, "acks": None}
        return
    if cancelled is None and result.orders_cancelled_acked:
        result.stages_ms = {"gate": _ms(trigger, closed), "cancel": None, "acks": None}
        return
    cancel_done = max(closed, cancelled if cancelled is not None else closed)
    acks_done = max(cancel_done, answered)
    result.stages_ms = {
        "gate": _ms(trigger, closed),
        "cancel": _ms(trigger, cancel_done),
        "acks": _ms(trigger, acks_done),
    }


async def _resume(
    result: FundDrill,
    fund: Fund,
    *,
    halts: HaltClient,
    tracker: OrderTracker,
    gate: GateWatch,
    settings: DrillSettings,
    key: str,
) -> None:
    from mts1b_operations.client import MtsError

    if result.halt_id is None:
        # The request never answered: whether a halt exists is unknown, so look before resuming.
        try:
            status = await halts.status(fund_id=fund.fund_id)
        except MtsError as exc:
            result.problems.append(f"could not check whether {fund.fund_id} is halted: {exc}")
            return
        if not any(h.fund_id == fund.fund_id and h.severity == "FUND_HALT" for h in status.halts):
            return
    started = time.monotonic()
    try:
        resumed = await halts.resume(
            f"fund:{fund.fund_id}", cosigner_token=settings.cosigner_token, reason=f"{settings.reason}: over"
        )
    except MtsError as exc:
        result.problems.append(f"{fund.fund_id} is STILL HALTED: the resume was refused or failed: {exc}")
        return
    answered = time.monotonic()
    result.resumed = True
    result.cosigned_by = resumed.result.resumed.cosigned_by
    opened = await gate.wait_opened(key, settings.timeout)
    # A strategy halt (a watchdog's, say) keeps that strategy's orders refused after the fund's
    # resume: only the fund's other strategies can show that orders flow again.
    strategy_keys = {halt_key("strategy", s): s for s in fund.strategies}

    def free() -> set[str]:
        halted = gate.gate.halts()
        return {s for k, s in strategy_keys.items() if k not in halted}

    def flowing() -> Arrival | None:
        return tracker.first_accepted_since(fund.fund_id, started, strategies=free())

    await tracker.wait_for(lambda: flowing() is not None or not free(), settings.timeout)
    first = flowing()
    result.orders_accepted_again = None if first is None and not free() else first is not None
    result.resume_ms = {
        "halt_service_answer": _ms(started, answered),
        "gate_open": _ms(started, opened),
        "first_accepted_order": _ms(started, None if first is None else first.at),
    }
    if opened is None:
        result.problems.append(f"the halt gate did not see {key} lifted within {settings.timeout:g} s")
    if result.orders_accepted_again is None:
        result.notes.append(
            "not checked whether orders flow again: every strategy of the fund is under a strategy halt "
            f"({', '.join(sorted(fund.strategies))})"
        )
    elif not result.orders_accepted_again:
        result.problems.append(
            f"no order of {fund.fund_id} was accepted within {settings.timeout:g} s of the resume"
        )
