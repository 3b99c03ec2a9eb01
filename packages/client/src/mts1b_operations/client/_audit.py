"""The audit service's client: :class:`AuditClient` (trail, entries, verify, proof, latest checkpoint).

Every call needs a token of role viewer or higher. Example::

    from mts1b_operations.client import AuditClient, check_audit_proof

    async with AuditClient.from_config() as audit:        # MTS_AUDIT_URL, MTS_TOKEN
        trail = await audit.trail("halt-42")
        for entry in trail.entries:
            print(entry.sequence, entry.actor, entry.action, entry.hash_matches())
        report = await audit.verify(progress=lambda done, total: print(done, "/", total))
        if not report.ok:
            print("broken at", report.sequence, report.reason)
        proof = await audit.proof(trail.entries[0].sequence)
        check_audit_proof(proof, verifier_key=PINNED_KEY)   # offline; raises ProofCheckError

The answer types are core's wire shapes (``mts1b_operations.core.schemas.audit_api``, named there
as in the service's OpenAPI schema: :class:`AuditRecord` is ``EntryView``, :class:`AuditTrail`
``TrailView``, :class:`AuditPage` ``EntriesPage``, :class:`AuditProof` ``ProofView``,
:class:`AuditCheckpointInfo` ``CheckpointView``), the Structs the service itself encodes; unknown
fields from a newer service are ignored. :class:`AuditVerification` is the SDK's one view of the
service's two verify answers, ``VerifyIntact`` and ``VerifyBroken``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import httpx
import msgspec

from mts1b_operations.core.schemas.audit_api import (
    CheckpointView,
    DrillReportRecorded,
    EntriesPage,
    EntryView,
    ProofView,
    TrailView,
    VerifyBroken,
    VerifyIntact,
    VerifyProgress,
)

from ._errors import (
    ConflictError,
    NotFoundError,
    TimeoutError,
    TransportError,
    UnexpectedResponseError,
    error_for_status,
)
from ._http import ServiceClient, api_error_from_response

if TYPE_CHECKING:
    from typing import Self

    from ._config import ClientConfig

__all__ = [
    "AuditCheckpointInfo",
    "AuditClient",
    "AuditPage",
    "AuditProof",
    "AuditRecord",
    "AuditTrail",
    "AuditVerification",
    "DrillReportRecorded",
    "VerifyProgressCallback",
]

VerifyProgressCallback = Callable[[int, int], object]
"""``progress(verified, total)``: entries checked so far, of those from ``from_sequence`` to the head."""


AuditRecord = EntryView
"""One entry of the chain as the service stores it (the service's ``EntryView``); ``canonical`` is
what ``hash`` covers, and :meth:`~EntryView.hash_matches` checks it here."""
AuditTrail = TrailView
"""Every entry about one subject, oldest first (the service's ``TrailView``)."""
AuditPage = EntriesPage
"""A page of the chain; ``next_from_sequence`` continues it (the service's ``EntriesPage``)."""
AuditProof = ProofView
"""An inclusion proof (the service's ``ProofView``); check it offline with :func:`check_audit_proof`."""
AuditCheckpointInfo = CheckpointView
"""The latest signed checkpoint and its verifier key (the service's ``CheckpointView``)."""


class AuditVerification(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of a verification: ``ok``, or the first bad ``sequence`` and the ``reason``.

    One type for the service's two answers, :class:`VerifyIntact` (the ``verified`` / ``head_*`` /
    ``checkpoint_tree_size`` fields) and :class:`VerifyBroken` (``sequence``, ``reason``,
    ``kind``), which are decoded as they are and turned into this by :meth:`of`.
    """

    ok: bool
    from_sequence: int
    verified: int | None = None
    head_sequence: int | None = None
    head_hash: str | None = None
    checkpoint_tree_size: int | None = None
    sequence: int | None = None
    reason: str | None = None
    kind: str | None = None

    @classmethod
    def of(cls, answer: VerifyIntact | VerifyBroken) -> AuditVerification:
        """The verification the service's answer reports."""
        if isinstance(answer, VerifyBroken):
            return cls(
                ok=False,
                from_sequence=answer.from_sequence,
                sequence=answer.sequence,
                reason=answer.reason,
                kind=answer.kind,
            )
        return cls(
            ok=True,
            from_sequence=answer.from_sequence,
            verified=answer.verified,
            head_sequence=answer.head_sequence,
            head_hash=answer.head_hash,
            checkpoint_tree_size=answer.checkpoint_tree_size,
        )


class _StreamLine(msgspec.Struct, frozen=True):
    """Any line of the verify stream, to tell which it is: progress, a result (``ok``) or an error."""

    progress: VerifyProgress | None = None
    ok: bool | None = None
    status_code: int | None = None
    detail: str | None = None


class AuditClient(ServiceClient):
    """The mts1b-audit HTTP API (``/v1/audit/...``)."""

    @classmethod
    def from_config(
        cls, config: ClientConfig | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """A client of MTS_AUDIT_URL with the configured token (see :class:`ClientConfig`)."""
        return cls.for_service("audit", config, transport=transport)

    async def trail(self, subject_id: str) -> AuditTrail:
        """Every entry about ``subject_id``, oldest first."""
        return await self.get("/v1/audit/trail", AuditTrail, params={"subject_id": subject_id})

    async def record_drill_report(
        self, drill_id: str, report_sha256: str, *, funds: list[str], report_name: str = "report.json"
    ) -> DrillReportRecorded:
        """Put a halt drill report's SHA-256 into the chain (role operator); idempotent per ``drill_id``."""
        body = {
            "drill_id": drill_id,
            "report_sha256": report_sha256,
            "funds": funds,
            "report_name": report_name,
        }
        return await self.post("/v1/audit/drill-reports", DrillReportRecorded, body=body)

    async def entries(self, from_sequence: int = 0, limit: int = 100) -> AuditPage:
        """One page (``limit`` 1..1000) of the chain from ``from_sequence`` on."""
        return await self.get(
            "/v1/audit/entries", AuditPage, params={"from_sequence": from_sequence, "limit": limit}
        )

    async def iter_entries(
        self, from_sequence: int = 0, *, page_size: int = 1000
    ) -> AsyncIterator[AuditRecord]:
        """Every entry from ``from_sequence`` to the head, a page at a time."""
        next_from: int | None = from_sequence
        while next_from is not None:
            page = await self.entries(next_from, page_size)
            for entry in page.entries:
                yield entry
            next_from = page.next_from_sequence

    async def verify(
        self, from_sequence: int = 0, *, progress: VerifyProgressCallback | None = None
    ) -> AuditVerification:
        """Have the service verify the chain; a broken chain is a result (``ok`` False), not an error.

        With ``progress``, the service streams its progress and ``progress(verified, total)`` is
        called as it goes.
        """
        if progress is not None:
            return await self._verify_streaming(from_sequence, progress)
        try:
            intact = await self.get("/v1/audit/verify", VerifyIntact, params={"from_sequence": from_sequence})
        except ConflictError as exc:
            if isinstance(exc.body, dict) and exc.body.get("ok") is False:
                try:
                    return AuditVerification.of(msgspec.convert(exc.body, VerifyBroken))
                except msgspec.ValidationError as invalid:
                    raise UnexpectedResponseError(
                        f"GET /v1/audit/verify answered 409 with a body not a VerifyBroken: {invalid}",
                        status=409,
                    ) from invalid
            raise
        return AuditVerification.of(intact)

    async def proof(self, sequence: int) -> AuditProof:
        """The inclusion proof of entry ``sequence`` (NotFoundError when it does not exist)."""
        return await self.get(f"/v1/audit/proof/{int(sequence)}", AuditProof)

    async def latest_checkpoint(self) -> AuditCheckpointInfo | None:
        """The latest signed checkpoint and its verifier key; None while none is signed."""
        try:
            return await self.get("/v1/audit/checkpoints/latest", AuditCheckpointInfo)
        except NotFoundError:
            return None

    async def _verify_streaming(
        self, from_sequence: int, progress: VerifyProgressCallback
    ) -> AuditVerification:
        path = "/v1/audit/verify/stream"
        where = f"GET {self.base_url}{path}"
        last: bytes | None = None
        try:
            async with self._http.stream(
                "GET",
                path,
                params={"from_sequence": from_sequence},
                headers={"Accept": "application/x-ndjson"},
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise api_error_from_response(response)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    last = line.encode()
                    parsed = msgspec.json.decode(last, type=_StreamLine)
                    if parsed.progress is not None:
                        progress(parsed.progress.verified, parsed.progress.total)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer to {where} in time", method="GET", url=where) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"{where} failed: {type(exc).__name__}: {exc}", method="GET", url=where
            ) from exc
        except msgspec.DecodeError as exc:
            raise UnexpectedResponseError(f"{where}: a line is not JSON: {exc}", status=200) from exc
        return self._final(last, where)

    @staticmethod
    def _final(last: bytes | None, where: str) -> AuditVerification:
        if last is None:
            raise UnexpectedResponseError(f"{where}: the stream ended without a result", status=200)
        line = msgspec.json.decode(last, type=_StreamLine)
        if line.ok is None:
            if line.status_code is None:
                raise UnexpectedResponseError(f"{where}: the stream ended without a result", status=200)
            cls, code = error_for_status(line.status_code)
            detail = line.detail or "the verification did not finish"
            raise cls(line.status_code, detail, code=code, method="GET", url=where, body=last.decode())
        try:
            if line.ok:
                return AuditVerification.of(msgspec.json.decode(last, type=VerifyIntact))
            return AuditVerification.of(msgspec.json.decode(last, type=VerifyBroken))
        except msgspec.ValidationError as exc:
            raise UnexpectedResponseError(
                f"{where}: the result is not a verification: {exc}", status=200
            ) from exc
