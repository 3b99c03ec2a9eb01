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
with ``code`` and ``field`` saying why. The answer types (:class:`Halt`, :class:`HaltAnswer`,
:class:`HaltStatus`, :class:`ResumeAnswer`, :class:`ResumePreflight`, :class:`ResumeResult`,
:class:`OmsCommandOutcome`, :class:`OmsCommandReport`) are core's wire shapes
(``mts1b_operations.core.schemas.halt_api``), the Structs the service itself encodes; unknown
fields from a newer service are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mts1b_operations.core.schemas import HaltMode, HaltSeverity
from mts1b_operations.core.schemas.halt_api import (
    Halt,
    HaltAnswer,
    HaltList,
    HaltStatus,
    OmsCommandOutcome,
    OmsCommandReport,
    Preflight,
    ResumeAnswer,
    ResumeResult,
)

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


ResumePreflight = Preflight
"""What a resume of a scope would meet (the service's ``Preflight``, the name the SDK has always used)."""


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
        """Every halt in force, oldest first."""
        return (await self.get("/v1/halts", HaltList)).halts

    async def status(self, fund_id: str | None = None, strategy_id: str | None = None) -> HaltStatus:
        """Whether the fund / strategy (or, naming neither, the firm) is halted, by what, since when."""
        return await self.get(
            "/v1/halts/status", HaltStatus, params={"fund_id": fund_id, "strategy_id": strategy_id}
        )

    async def history(self, limit: int = 100) -> list[Halt]:
        """The latest halts, active or resumed, newest first."""
        return (await self.get("/v1/halts/history", HaltList, params={"limit": limit})).halts

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
