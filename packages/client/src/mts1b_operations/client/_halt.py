"""The halt service's HTTP API: :class:`HaltClient` (request, resume, active halts, status, history).

Example::

    from mts1b_operations.client import HaltClient

    async with HaltClient.from_env() as halts:          # MTS_HALT_URL, MTS_TOKEN
        answer = await halts.request("FUND_HALT", fund_id="paper-momentum", reason="drill")
        print(answer.outcome, answer.halt.halt_id)       # created | already_halted
        check = await halts.preflight("paper-momentum")
        if not check.needs_force:
            await halts.resume("paper-momentum", reason="drill over")
        await halts.resume("firm", cosigned_by="operator:bob", reason="all clear")

Errors are the SDK's tree: a refused resume is :class:`~._errors.PermissionDeniedError` (a
cosigner who is no operator, a firm resume without a second operator) or
:class:`~._errors.ConflictError` (the triggering watchdog still alerts, nothing to resume),
with ``code`` and ``field`` saying why. The types below mirror the service's answers (unknown
fields from a newer service are ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import msgspec

from mts1b_operations.core.schemas import HaltMode, HaltSeverity, OmsCommandAck, OmsCommandName

from ._config import ClientConfig
from ._http import ServiceClient

if TYPE_CHECKING:
    from typing import Self

    import httpx

__all__ = [
    "Halt",
    "HaltAnswer",
    "HaltClient",
    "HaltStatus",
    "OmsCommandOutcome",
    "OmsCommandReport",
    "ResumeAnswer",
    "ResumePreflight",
    "ResumeResult",
]


class Halt(msgspec.Struct, frozen=True, kw_only=True):
    """A halt: in force while ``active``; ``scope`` is ``firm``, ``fund.<id>`` or ``strategy.<id>``."""

    halt_id: str
    scope: str
    severity: HaltSeverity
    mode: HaltMode
    fund_id: str | None
    strategy_id: str | None
    reason: str
    requested_by: str
    requested_at: datetime
    triggered_by_watchdog: str | None = None
    watchdog_subject_id: str | None = None
    request_count: int = 1
    active: bool = True
    resumed_at: datetime | None = None
    resumed_by: str | None = None
    cosigned_by: str | None = None
    resume_reason: str | None = None
    forced: bool = False


class HaltStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a scope may trade: the halts in force on it (own and inherited), broadest first."""

    scope: str
    halted: bool
    halts: list[Halt]
    since: datetime | None


class ResumeResult(msgspec.Struct, frozen=True, kw_only=True):
    """The halt lifted; ``still_halted`` when a broader halt keeps the scope stopped (``halted_by``)."""

    resumed: Halt
    still_halted: bool
    halted_by: list[Halt]
    message: str


class ResumePreflight(msgspec.Struct, frozen=True, kw_only=True):
    """What a resume of a scope would meet: the halt it lifts, the watchdog, what it needs."""

    scope: str
    halt: Halt | None
    inherited: list[Halt]
    watchdog: str | None
    watchdog_subject_id: str | None
    watchdog_firing: bool
    needs_force: bool
    needs_two_operators: bool
    message: str


class OmsCommandOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The acks of an OMS command: who answered, who was expected and stayed silent, totals."""

    command_id: str
    command: OmsCommandName
    fund_ids: list[str]
    paper_only: bool
    acks: list[OmsCommandAck]
    expected_responders: list[str]
    missing: list[str]
    failed: list[str]
    no_responders: bool
    timed_out: bool
    invalid_replies: int
    orders_cancelled: int
    positions_closed: int
    elapsed: float
    complete: bool


class OmsCommandReport(msgspec.Struct, frozen=True, kw_only=True):
    """The OMS command a halt's mode called for (``sent``), or why none was sent (``detail``)."""

    sent: bool
    detail: str
    outcome: OmsCommandOutcome | None = None


class HaltAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a halt request: a new halt (``created``) or the one already in force."""

    outcome: Literal["created", "already_halted"]
    message: str
    halt: Halt
    oms_command: OmsCommandReport


class ResumeAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a resume: the result and what the pre-flight check found before it."""

    result: ResumeResult
    preflight: ResumePreflight


class _HaltList(msgspec.Struct, frozen=True, kw_only=True):
    halts: list[Halt]
    count: int


class HaltClient(ServiceClient):
    """The ``mts1b-halt`` API. Writes need role operator; reads need viewer."""

    @classmethod
    def from_env(
        cls, config: ClientConfig | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """A client of MTS_HALT_URL with MTS_TOKEN (or the credentials file), see ``ClientConfig``."""
        return cls.for_service("halt", config, transport=transport)

    async def request(
        self,
        severity: HaltSeverity,
        *,
        reason: str,
        fund_id: str | None = None,
        strategy_id: str | None = None,
        mode: HaltMode = "cancel_open",
    ) -> HaltAnswer:
        """Halt the firm, a fund or a strategy; the caller (the token's operator) is the requester."""
        body = {
            "severity": severity,
            "reason": reason,
            "fund_id": fund_id,
            "strategy_id": strategy_id,
            "mode": mode,
        }
        return await self.post("/v1/halts", HaltAnswer, body=body)

    async def resume(
        self,
        scope: str = "firm",
        *,
        cosigned_by: str | None = None,
        cosigner_token: str | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> ResumeAnswer:
        """Resume ``scope``: ``firm``, a fund id or a strategy id (``fund:<id>``/``strategy:<id>`` if both).

        A firm resume needs a second registered operator: ``cosigner_token`` is that operator's
        own bearer token (sent as ``X-MTS-Cosigner-Token``), and ``cosigned_by``, when given,
        must name the same operator. A name without the token is refused.
        """
        headers = {"X-MTS-Cosigner-Token": cosigner_token} if cosigner_token is not None else None
        body: dict[str, object] = {"scope": scope, "force": force}
        if cosigned_by is not None:
            body["cosigned_by"] = cosigned_by
        if reason is not None:
            body["reason"] = reason
        return await self.post("/v1/halts/resume", ResumeAnswer, body=body, headers=headers)

    async def list_active(self) -> list[Halt]:
        """Every halt in force, broadest first."""
        return (await self.get("/v1/halts", _HaltList)).halts

    async def status(self, fund_id: str | None = None, strategy_id: str | None = None) -> HaltStatus:
        """Whether the fund / strategy (or, naming neither, the firm) is halted, by what, since when."""
        return await self.get(
            "/v1/halts/status", HaltStatus, params={"fund_id": fund_id, "strategy_id": strategy_id}
        )

    async def history(self, limit: int = 100) -> list[Halt]:
        """The latest halts, active or resumed, newest first."""
        return (await self.get("/v1/halts/history", _HaltList, params={"limit": limit})).halts

    async def preflight(self, scope: str = "firm") -> ResumePreflight:
        """What a resume of ``scope`` would meet (is the triggering watchdog still alerting?)."""
        return await self.get("/v1/halts/preflight", ResumePreflight, params={"scope": scope})

    async def cancel_all(self, *, reason: str, fund_ids: Sequence[str] = ()) -> OmsCommandOutcome:
        """Have every OMS cancel its open orders (of ``fund_ids``, or of every fund); gathers the acks."""
        body = {"reason": reason, "fund_ids": list(fund_ids)}
        return await self.post("/v1/oms/cancel-all", OmsCommandOutcome, body=body)

    async def flatten_paper(self, *, reason: str, fund_ids: Sequence[str] = ()) -> OmsCommandOutcome:
        """Have every OMS close the positions of paper funds (all, or ``fund_ids``); live funds never."""
        body = {"reason": reason, "fund_ids": list(fund_ids)}
        return await self.post("/v1/oms/flatten-paper", OmsCommandOutcome, body=body)
