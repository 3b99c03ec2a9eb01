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
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

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


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the chain as the service stores it; ``canonical`` is what ``hash`` covers."""

    sequence: int
    timestamp: datetime
    timestamp_us: int
    actor: str
    action: str
    subject_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str
    canonical: str

    def hash_matches(self) -> bool:
        """Whether ``hash`` is the SHA-256 of ``canonical`` (checked here, not by the service)."""
        return hashlib.sha256(self.canonical.encode("utf-8")).hexdigest() == self.hash


class AuditTrail(msgspec.Struct, frozen=True, kw_only=True):
    subject_id: str
    count: int
    entries: list[AuditRecord]


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    from_sequence: int
    limit: int
    count: int
    entries: list[AuditRecord]
    next_from_sequence: int | None


class AuditVerification(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of a verification: ``ok``, or the first bad ``sequence`` and the ``reason``."""

    ok: bool
    from_sequence: int
    verified: int | None = None
    head_sequence: int | None = None
    head_hash: str | None = None
    checkpoint_tree_size: int | None = None
    sequence: int | None = None
    reason: str | None = None
    kind: str | None = None


class AuditProof(msgspec.Struct, frozen=True, kw_only=True):
    """An inclusion proof; check it offline with :func:`check_audit_proof`."""

    sequence: int
    entry_hash: str
    tree_size: int
    path: list[str]
    checkpoint: str
    canonical: str | None
    verifier_key: str


class AuditCheckpointInfo(msgspec.Struct, frozen=True, kw_only=True):
    tree_size: int
    sequence: int
    head_hash: str
    merkle_root: str
    note: str
    key_id: str
    signed_at: datetime
    verifier_key: str


class DrillReportRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """A drill report's hash in the chain: the entry (``sequence``, ``entry_hash``) that holds it."""

    drill_id: str
    report_sha256: str
    recorded_by: str
    sequence: int
    entry_hash: str
    created: bool
    """False when the drill's report was already recorded (a retry)."""


class _Progress(msgspec.Struct, frozen=True):
    verified: int
    total: int


class _StreamLine(msgspec.Struct, frozen=True):
    progress: _Progress | None = None
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
            return await self.get(
                "/v1/audit/verify", AuditVerification, params={"from_sequence": from_sequence}
            )
        except ConflictError as exc:
            if isinstance(exc.body, dict) and exc.body.get("ok") is False:
                return msgspec.convert(exc.body, AuditVerification)
            raise

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
            return msgspec.json.decode(last, type=AuditVerification)
        except msgspec.ValidationError as exc:
            raise UnexpectedResponseError(
                f"{where}: the result is not a verification: {exc}", status=200
            ) from exc
