"""The audit service's HTTP API (Litestar): read the trail, page the chain, verify, prove, checkpoints.

Every route needs a bearer token of a registered operator with role viewer or higher
(``core.runtime.requires_role("viewer")``): the trail names operators and carries the reasons
of halts, so it is not public; a proof, once fetched, can be checked by anyone offline.

Errors are JSON ``{"status_code", "detail", "extra": {"code", "field"}}``: 400 ``invalid``
naming the parameter first in ``detail``, 404 ``not_found`` (no such entry, no checkpoint yet),
409 ``chain_broken`` (the chain does not verify), 503 ``unavailable`` (Postgres did not answer).

``GET /v1/audit/verify`` answers 200 ``{"ok": true, ...}`` when the chain is intact and **409**
``{"ok": false, "sequence", "reason", "kind", ...}`` when it is not, so a client that only looks
at the status code (``curl -f``, a probe) still sees a broken chain as a failure.
``GET /v1/audit/verify/stream`` runs the same check and streams NDJSON: progress lines
``{"progress": {"verified", "total"}}``, then the final result (``ok`` true or false) as the
last line, for a progress bar.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.runtime import (
    AUTH_RESPONSES,
    ErrorBody,
    ServiceContext,
    error_response,
    requires_role,
)

from ..chain import AuditChain, CheckpointUnavailableError, EntryNotFoundError
from ..domain import MAX_SAFE_INTEGER, MAX_SUBJECT_ID_CHARS, AuditInputError, ChainIntegrityError
from ._schemas import (
    MAX_PAGE,
    CheckpointView,
    EntriesPage,
    ProofView,
    TrailView,
    VerifyBroken,
    VerifyIntact,
    VerifyProgress,
    VerifyProgressLine,
    entry_view,
    proof_view,
)

__all__ = ["CHAIN_STATE_KEY", "EXCEPTION_HANDLERS", "AuditController", "chain_of"]

log = logging.getLogger(__name__)

CHAIN_STATE_KEY: Final = "chain"
"""Where ``bootstrap`` keeps the service's :class:`AuditChain` in ``ServiceContext.state``."""

_MISSING_PARAMETER: Final = re.compile(r"parameter '(?P<field>[^']+)'")
_SEQUENCE: Final = re.compile(r"(0|[1-9][0-9]{0,17})\Z")
_NDJSON: Final = "application/x-ndjson"
_ENCODER: Final = msgspec.json.Encoder()


def chain_of(context: ServiceContext) -> AuditChain:
    chain = context.state.get(CHAIN_STATE_KEY)
    if not isinstance(chain, AuditChain):
        raise RuntimeError("the audit chain is not open (bootstrap's start-up hook did not run)")
    return chain


# ---------------------------------------------------------------- errors


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's own 400 (a parameter missing or not of its type), reworded to name the parameter."""
    first = (
        exc.extra[0] if isinstance(exc.extra, list) and exc.extra and isinstance(exc.extra[0], dict) else {}
    )
    field = first.get("key")
    if isinstance(field, str):
        return error_response(
            HTTP_400_BAD_REQUEST, f"{field}: {first.get('message')}", code="invalid", field=field
        )
    if match := _MISSING_PARAMETER.search(exc.detail):
        field = match["field"]
        return error_response(HTTP_400_BAD_REQUEST, f"{field}: is required", code="invalid", field=field)
    return error_response(HTTP_400_BAD_REQUEST, exc.detail, code="invalid")


def _invalid(_: Request[Any, Any, Any], exc: AuditInputError) -> Response[ErrorBody]:
    return error_response(HTTP_400_BAD_REQUEST, str(exc), code="invalid", field=exc.field)


def _not_found(_: Request[Any, Any, Any], exc: EntryNotFoundError) -> Response[ErrorBody]:
    return error_response(HTTP_404_NOT_FOUND, str(exc), code="not_found", field="sequence")


def _broken(_: Request[Any, Any, Any], exc: ChainIntegrityError) -> Response[ErrorBody]:
    return error_response(HTTP_409_CONFLICT, str(exc), code="chain_broken")


def _no_checkpoint(_: Request[Any, Any, Any], exc: CheckpointUnavailableError) -> Response[ErrorBody]:
    return error_response(HTTP_503_SERVICE_UNAVAILABLE, str(exc), code="checkpoint_unavailable")


def _unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("answering 503: %r", exc)
    return error_response(
        HTTP_503_SERVICE_UNAVAILABLE,
        f"the audit store did not answer ({type(exc).__name__}); retry",
        code="unavailable",
    )


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    ValidationException: _validation,
    AuditInputError: _invalid,
    EntryNotFoundError: _not_found,
    ChainIntegrityError: _broken,
    CheckpointUnavailableError: _no_checkpoint,
    asyncpg.InterfaceError: _unavailable,
    **{error: _unavailable for error in TRANSIENT_ERRORS if issubclass(error, Exception)},
}

_BAD_INPUT: Final = ResponseSpec(
    data_container=ErrorBody, description="Bad input; extra.field names the parameter"
)
_UNAVAILABLE: Final = ResponseSpec(data_container=ErrorBody, description="Postgres did not answer; retry")
_GUARDS: Final = [requires_role("viewer")]

# Bounded like every sequence (2**53 - 1): a larger number is a 400, not a bigint overflow in Postgres.
_FromSequence = Annotated[
    int,
    QueryParameter(ge=0, le=MAX_SAFE_INTEGER, description="The first sequence (0 = the genesis entry)"),
]


def _parse_sequence(raw: str) -> int:
    if not _SEQUENCE.match(raw):
        raise AuditInputError("sequence", f"must be a non-negative integer, got {raw!r}")
    return int(raw)


# ---------------------------------------------------------------- verify


async def _verify(
    chain: AuditChain, from_sequence: int, progress: asyncio.Queue[VerifyProgress] | None
) -> VerifyIntact | VerifyBroken:
    """VerifyIntact or VerifyBroken for the chain from ``from_sequence`` (progress into ``progress``)."""
    reached: list[int] = []

    def report(next_sequence: int, end: int) -> None:
        reached[:] = [next_sequence]
        if progress is not None:
            progress.put_nowait(
                VerifyProgress(verified=next_sequence - from_sequence, total=end - from_sequence)
            )

    try:
        await chain.verify(from_sequence, progress=report)
    except ChainIntegrityError as exc:
        return VerifyBroken(
            from_sequence=from_sequence,
            sequence=exc.sequence,
            reason=exc.reason,
            kind=None if exc.kind is None else str(exc.kind),
        )
    end = reached[0] if reached else from_sequence
    head = await chain.get_entry(end - 1) if end > 0 else None
    latest = await chain.latest_checkpoint()
    return VerifyIntact(
        from_sequence=from_sequence,
        verified=end - from_sequence,
        head_sequence=None if head is None else head.sequence,
        head_hash=None if head is None else head.hash,
        checkpoint_tree_size=None if latest is None else latest.tree_size,
    )


async def _verify_lines(chain: AuditChain, from_sequence: int, total: int) -> AsyncIterator[bytes]:
    progress: asyncio.Queue[VerifyProgress] = asyncio.Queue()
    yield _ENCODER.encode(VerifyProgressLine(progress=VerifyProgress(verified=0, total=total))) + b"\n"
    task = asyncio.create_task(_verify(chain, from_sequence, progress))
    try:
        while not task.done() or not progress.empty():
            getter = asyncio.ensure_future(progress.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield _ENCODER.encode(VerifyProgressLine(progress=getter.result())) + b"\n"
            else:
                getter.cancel()
        result: VerifyIntact | VerifyBroken | ErrorBody
        try:
            result = task.result()
        except Exception as exc:  # the stream has started: the failure must travel in it
            log.warning("verify stream failed: %r", exc)
            status = (
                HTTP_400_BAD_REQUEST if isinstance(exc, AuditInputError) else HTTP_503_SERVICE_UNAVAILABLE
            )
            result = ErrorBody(status_code=status, detail=f"verification did not finish: {exc}")
        yield _ENCODER.encode(result) + b"\n"
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------- routes


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = _GUARDS
    exception_handlers = EXCEPTION_HANDLERS

    @get(
        "/trail",
        summary="Every entry about one subject",
        description=(
            "The entries whose subject_id is the one given (a halt id, an order id, a command id, "
            "a watched fund or symbol ...), oldest first. Each carries its canonical bytes, so "
            "sha256(canonical) == hash can be checked by the reader."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def trail(
        self,
        context: NamedDependency[ServiceContext],
        subject_id: Annotated[
            str,
            QueryParameter(
                min_length=1,
                max_length=MAX_SUBJECT_ID_CHARS,
                description="What the entries are about, e.g. halt-42 or ord-abc",
            ),
        ],
    ) -> TrailView:
        entries = await chain_of(context).get_trail(subject_id)
        return TrailView(subject_id=subject_id, count=len(entries), entries=[entry_view(e) for e in entries])

    @get(
        "/entries",
        summary="A page of the chain, in sequence order",
        description=(
            f"Up to limit (1 to {MAX_PAGE}, default 100) entries from from_sequence on. "
            "next_from_sequence is where the next page starts, null at the end of the chain."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def entries(
        self,
        context: NamedDependency[ServiceContext],
        from_sequence: _FromSequence = 0,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_PAGE, description=f"Entries per page, 1 to {MAX_PAGE}")
        ] = 100,
    ) -> EntriesPage:
        page = await chain_of(context).entries(from_sequence, limit)
        return EntriesPage(
            from_sequence=from_sequence,
            limit=limit,
            count=len(page),
            entries=[entry_view(e) for e in page],
            next_from_sequence=page[-1].sequence + 1 if len(page) == limit else None,
        )

    @get(
        "/verify",
        summary="Verify the chain against its signed checkpoints",
        description=(
            "Re-checks, in one database snapshot, every entry from from_sequence to the head (hash of "
            "its stored bytes, sequence, prev link), the signed checkpoints (signature, Merkle root, "
            "chain head; a truncated tail or a rewritten chain fails here; so does a checkpoint of a "
            "key that is neither the current nor a retired one, kind unknown_key) and the stored head. "
            "200 with ok=true when intact; 409 with ok=false, the first bad sequence and the reason "
            "when not."
        ),
        responses={
            HTTP_409_CONFLICT: ResponseSpec(
                data_container=VerifyBroken,
                description="The chain is damaged: the first bad sequence and why",
            ),
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def verify(
        self, context: NamedDependency[ServiceContext], from_sequence: _FromSequence = 0
    ) -> Response[VerifyIntact | VerifyBroken]:
        result = await _verify(chain_of(context), from_sequence, None)
        return Response(result, status_code=HTTP_409_CONFLICT if isinstance(result, VerifyBroken) else 200)

    @get(
        "/verify/stream",
        media_type=_NDJSON,
        summary="Verify the chain, streaming progress (NDJSON)",
        description=(
            'The same check as GET /v1/audit/verify, as newline-delimited JSON: {"progress": '
            '{"verified": n, "total": m}} lines while it runs, then one last line with the result '
            "(the body of /verify: ok true or false; or an error body if the check could not finish). "
            "The status is 200 once streaming starts."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def verify_stream(
        self, context: NamedDependency[ServiceContext], from_sequence: _FromSequence = 0
    ) -> Stream:
        chain = chain_of(context)
        head = await chain.head()
        if from_sequence > head.next_sequence:
            raise AuditInputError(
                "from_sequence",
                f"{from_sequence} is beyond the chain's head (next sequence {head.next_sequence})",
            )
        return Stream(
            _verify_lines(chain, from_sequence, head.next_sequence - from_sequence), media_type=_NDJSON
        )

    @get(
        "/proof/{sequence:str}",
        summary="An inclusion proof of one entry, checkable offline",
        description=(
            "An RFC 6962 audit path from the entry to the Merkle root of the latest signed checkpoint "
            "(signed first when no checkpoint covers the entry yet), the C2SP signed note, the entry's "
            "canonical bytes and the verifier key. Anyone holding the key can check it without the "
            "service. 404 when no entry has that sequence (beyond the head)."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_404_NOT_FOUND: ResponseSpec(
                data_container=ErrorBody, description="No entry has that sequence"
            ),
            HTTP_409_CONFLICT: ResponseSpec(
                data_container=ErrorBody, description="The stored chain no longer matches its checkpoint"
            ),
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def proof(
        self,
        context: NamedDependency[ServiceContext],
        sequence: Annotated[str, PathParameter(description="The entry's sequence, a non-negative integer")],
    ) -> ProofView:
        chain = chain_of(context)
        proof = await chain.prove(_parse_sequence(sequence))
        verifier_key = chain.verifier_key
        if verifier_key is None:  # the service always has its signing key; a library chain might not
            raise CheckpointUnavailableError("the service has no checkpoint key")
        return proof_view(proof, verifier_key)

    @get(
        "/checkpoints/latest",
        summary="The latest signed checkpoint and the key that checks it",
        description=(
            "The signed chain head covering the most entries: tree size, last sequence, head hash, "
            "RFC 6962 Merkle root, the C2SP signed note, and verifier_key "
            "(<name>+<key id>+<base64 key>) to check it offline. 404 until the first is signed "
            "(within a second of the first entry)."
        ),
        responses={
            HTTP_404_NOT_FOUND: ResponseSpec(
                data_container=ErrorBody, description="No checkpoint signed yet"
            ),
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def latest_checkpoint(self, context: NamedDependency[ServiceContext]) -> CheckpointView:
        chain = chain_of(context)
        record = await chain.latest_checkpoint()
        verifier_key = chain.verifier_key
        if record is None or verifier_key is None:
            raise NotFoundException("no checkpoint has been signed yet", extra={"code": "not_found"})
        return CheckpointView(
            tree_size=record.tree_size,
            sequence=record.sequence,
            head_hash=record.head_hash,
            merkle_root=record.merkle_root,
            note=record.note,
            key_id=record.key_id,
            signed_at=record.signed_at,
            verifier_key=verifier_key,
        )
