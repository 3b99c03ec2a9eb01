"""The halt service's HTTP API (Litestar): halts, resumes, status, history and OMS commands.

Every route needs a bearer token (``core.runtime.requires_role``): viewer to read, operator to
halt, resume or command the OMS; the calling operator is the one recorded. Errors are JSON
``{"status_code", "detail", "extra": {"code", "field"}}``: 400 ``invalid`` naming the field,
403 for a resume the rules refuse (cosigner, two operators), 409 when the state refuses it
(watchdog still alerting, nothing to resume), 503 when Postgres does not answer; never a 500
for bad input.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_409_CONFLICT,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from mts1b_operations.core.bus import BusError
from mts1b_operations.core.db import TRANSIENT_ERRORS
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.operators import ACTOR_PREFIX, AuthenticationError, authenticate
from mts1b_operations.core.runtime import (
    AUTH_RESPONSES,
    ErrorBody,
    ServiceContext,
    current_operator,
    error_response,
    field_validation_error,
    requires_role,
)
from mts1b_operations.core.schemas import SchemaError

from ..domain import (
    HaltError,
    HaltRequest,
    HaltStatus,
    HaltValidationError,
    NotHaltedError,
    Preflight,
    ResumeRefusedError,
)
from ..oms_commands import OmsCommandOutcome, build_oms_command
from ._schemas import (
    CancelAllBody,
    FlattenPaperBody,
    HaltAnswer,
    HaltList,
    HaltRequestBody,
    ResumeAnswer,
    ResumeBody,
)
from ._service import halt_service

__all__ = ["ROUTE_HANDLERS", "HaltController", "OmsController", "resolve_resume_scope"]

log = logging.getLogger(__name__)

_FORBIDDEN_CODES: Final = frozenset(
    {"cosigner_not_operator", "requester_not_operator", "second_operator_required"}
)
_MAX_LIMIT: Final = 10_000


def _invalid(_: Request[Any, Any, Any], exc: HaltValidationError) -> Response[ErrorBody]:
    return error_response(HTTP_400_BAD_REQUEST, str(exc), code="invalid", field=exc.field)


def _refused(_: Request[Any, Any, Any], exc: ResumeRefusedError) -> Response[ErrorBody]:
    status = HTTP_403_FORBIDDEN if exc.code in _FORBIDDEN_CODES else HTTP_409_CONFLICT
    return error_response(status, f"resume refused: {exc.reason}", code=exc.code, field=exc.field)


def _not_halted(_: Request[Any, Any, Any], exc: NotHaltedError) -> Response[ErrorBody]:
    return error_response(
        HTTP_409_CONFLICT, f"resume refused: {exc.message}", code="not_halted", scope=exc.scope
    )


def _halt_error(_: Request[Any, Any, Any], exc: HaltError) -> Response[ErrorBody]:
    return error_response(HTTP_409_CONFLICT, str(exc), code=str(getattr(exc, "code", "halt_error")))


def _schema_error(_: Request[Any, Any, Any], exc: SchemaError) -> Response[ErrorBody]:
    field = exc.path.removeprefix("$").removeprefix(".") or None
    return error_response(HTTP_400_BAD_REQUEST, str(exc), code="invalid", field=field)


def _unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("answering 503: %r", exc)
    what = "NATS is not reachable" if isinstance(exc, BusError) else "Postgres did not answer"
    return error_response(
        HTTP_503_SERVICE_UNAVAILABLE,
        f"{what} ({type(exc).__name__}: {exc}); nothing was done; retry",
        code="unavailable",
    )


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    ValidationException: field_validation_error,
    HaltValidationError: _invalid,
    ResumeRefusedError: _refused,
    NotHaltedError: _not_halted,
    HaltError: _halt_error,
    SchemaError: _schema_error,
    asyncpg.InterfaceError: _unavailable,
    BusError: _unavailable,
    **{error: _unavailable for error in TRANSIENT_ERRORS if issubclass(error, Exception)},
}

_BAD_INPUT = ResponseSpec(data_container=ErrorBody, description="Bad input; extra.field names the field")
_UNAVAILABLE = ResponseSpec(
    data_container=ErrorBody, description="Postgres (or, for OMS commands, NATS) did not answer; retry"
)


def resolve_resume_scope(scope: str, funds: FundsRegistry) -> dict[str, Any]:
    """``firm``, a fund id, a strategy id, ``fund:<id>`` or ``strategy:<id>`` -> the manager's arguments."""
    kind, sep, rest = scope.partition(":")
    if sep and kind in ("fund", "strategy"):
        if not rest:
            raise HaltValidationError("scope", f"{scope!r} names no {kind} id")
        return {"fund_id": rest} if kind == "fund" else {"strategy_id": rest}
    if scope == "firm":
        return {"firm": True}
    is_fund = scope in funds
    is_strategy = scope in funds.all_strategies()
    if is_fund and is_strategy:
        raise HaltValidationError(
            "scope", f"{scope!r} is both a fund and a strategy; say fund:{scope} or strategy:{scope}"
        )
    if is_fund:
        return {"fund_id": scope}
    if is_strategy:
        return {"strategy_id": scope}
    raise HaltValidationError(
        "scope", f"{scope!r} is neither 'firm' nor a fund or strategy of the funds registry"
    )


COSIGNER_TOKEN_HEADER: Final = "X-MTS-Cosigner-Token"  # noqa: S105 - a header name, not a secret


async def _authenticated_cosigner(
    request: Request[Any, Any, Any], context: ServiceContext, named: str | None, caller: str
) -> str | None:
    """The cosigner proves who they are with their own token; the body's name alone is not enough.

    Four eyes mean two people: a cosigner other than the caller must send their bearer token in
    the ``X-MTS-Cosigner-Token`` header, and ``cosigned_by`` (when given) must be that operator.
    """
    token = request.headers.get(COSIGNER_TOKEN_HEADER)
    if token is None:
        if named is not None and named != caller:
            raise HTTPException(
                status_code=HTTP_403_FORBIDDEN,
                detail=f"cosigned_by: {named} must confirm with their own token in {COSIGNER_TOKEN_HEADER}",
                extra={"code": "cosigner_not_authenticated", "field": "cosigned_by"},
            )
        return named
    try:
        cosigner = await authenticate(context.pool, token)
    except AuthenticationError as exc:
        raise HTTPException(
            status_code=HTTP_403_FORBIDDEN,
            detail=f"{COSIGNER_TOKEN_HEADER}: {exc.message}",
            extra={"code": "cosigner_not_authenticated", "field": "cosigned_by"},
        ) from None
    if named is not None and named != cosigner.actor:
        raise HTTPException(
            status_code=HTTP_403_FORBIDDEN,
            detail=f"cosigned_by: {named} does not match the cosigner's token ({cosigner.actor})",
            extra={"code": "cosigner_token_mismatch", "field": "cosigned_by"},
        )
    return cosigner.actor


def _actor(name: str) -> str:
    """``operator:<name>`` for a bare name; any other actor as given (the manager judges it)."""
    return name if ":" in name else ACTOR_PREFIX + name


class HaltController(Controller):
    path = "/v1/halts"
    tags = ["halts"]
    exception_handlers = EXCEPTION_HANDLERS

    @post(
        "/",
        guards=[requires_role("operator")],
        status_code=HTTP_201_CREATED,
        summary="Halt the firm, a fund or a strategy",
        description=(
            "Records the halt in Postgres, mirrors it to the KV bucket mts_halts (order gates see it at "
            "once) and publishes mts.v1.operations.halt.requested. A halt already in force on the scope is "
            "returned with 200 and outcome already_halted (this request is recorded with it). Mode "
            "cancel_open sends mts.v1.oms.cmd.cancel_all and flatten sends mts.v1.oms.cmd.flatten; the "
            "acks gathered are in oms_command. Requested by the calling operator."
        ),
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=HaltAnswer, description="Already halted: the halt in force"
            ),
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def request_halt(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[HaltRequestBody],
        context: NamedDependency[ServiceContext],
    ) -> Response[HaltAnswer]:
        service = halt_service(context)
        operator = current_operator(request)
        halt = await service.manager.request(
            HaltRequest(
                severity=data.severity,
                reason=data.reason,
                requested_by=operator.actor,
                fund_id=data.fund_id,
                strategy_id=data.strategy_id,
                mode=data.mode,
            )
        )
        # The request that creates a halt is its first; later ones join it and count up.
        created = halt.request_count == 1
        report = await service.follow_up(halt)
        if created:
            message = f"{halt.severity} {halt.halt_id} on {halt.scope} is in force ({halt.mode})"
        else:
            message = (
                f"{halt.scope} was already halted by {halt.halt_id} ({halt.mode}, requested by "
                f"{halt.requested_by}); this request is recorded with it"
            )
        answer = HaltAnswer(
            outcome="created" if created else "already_halted", message=message, halt=halt, oms_command=report
        )
        return Response(answer, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post(
        "/resume",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Resume the firm, a fund or a strategy",
        description=(
            "Lifts the scope's own halt. scope is 'firm', a fund id or a strategy id of the funds "
            "registry (fund:<id> / strategy:<id> when an id is both). The calling operator resumes; "
            "cosigned_by (default: the caller) must be a registered operator, and for the firm a "
            "different one; a cosigner other than the caller confirms with their own bearer token in "
            "the X-MTS-Cosigner-Token header. While the watchdog that triggered the halt still alerts, "
            "force=true and a reason are required. A scope still under a broader halt says so in "
            "result.message."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_403_FORBIDDEN: ResponseSpec(
                data_container=ErrorBody,
                description="The role is too low, or the cosign rules refuse the resume (extra.code: "
                "cosigner_not_operator, requester_not_operator, second_operator_required, "
                "cosigner_not_authenticated, cosigner_token_mismatch)",
            ),
            HTTP_409_CONFLICT: ResponseSpec(
                data_container=ErrorBody,
                description="The state refuses the resume (extra.code: watchdog_alerting, not_halted)",
            ),
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **{k: v for k, v in AUTH_RESPONSES.items() if k != HTTP_403_FORBIDDEN},
        },
    )
    async def resume(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ResumeBody],
        context: NamedDependency[ServiceContext],
    ) -> ResumeAnswer:
        service = halt_service(context)
        operator = current_operator(request)
        target = resolve_resume_scope(data.scope, service.funds)
        named = _actor(data.cosigned_by) if data.cosigned_by is not None else None
        cosigner = await _authenticated_cosigner(request, context, named, operator.actor)
        if cosigner is None and not target.get("firm"):
            cosigner = operator.actor
        preflight = await service.manager.preflight(**target)
        result = await service.manager.resume(
            **target,
            cosigned_by=cosigner,
            requested_by=operator.actor,
            force=data.force,
            reason=data.reason,
        )
        return ResumeAnswer(result=result, preflight=preflight)

    @get(
        "/",
        guards=[requires_role("viewer")],
        summary="Halts in force",
        description="Every halt in force, oldest first.",
        responses={HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE, **AUTH_RESPONSES},
    )
    async def list_active(self, context: NamedDependency[ServiceContext]) -> HaltList:
        halts = await halt_service(context).manager.list_active()
        return HaltList(halts=halts, count=len(halts))

    @get(
        "/status",
        guards=[requires_role("viewer")],
        summary="Whether a fund, a strategy or the firm is halted",
        description=(
            "Name a fund_id or a strategy_id (or neither, for the firm): halted, the halts in force on it "
            "(its own and inherited, broadest first) and since when."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def status(
        self,
        context: NamedDependency[ServiceContext],
        fund_id: Annotated[str | None, QueryParameter(name="fund_id", min_length=1, max_length=128)] = None,
        strategy_id: Annotated[
            str | None, QueryParameter(name="strategy_id", min_length=1, max_length=128)
        ] = None,
    ) -> HaltStatus:
        return await halt_service(context).manager.status(fund_id=fund_id, strategy_id=strategy_id)

    @get(
        "/history",
        guards=[requires_role("viewer")],
        summary="The latest halts, in force or resumed",
        description="Newest first, at most limit (1 to 10000, default 100).",
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def history(
        self,
        context: NamedDependency[ServiceContext],
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=_MAX_LIMIT)] = 100,
    ) -> HaltList:
        halts = await halt_service(context).manager.history(limit)
        return HaltList(halts=halts, count=len(halts))

    @get(
        "/preflight",
        guards=[requires_role("viewer")],
        summary="What a resume of a scope would meet",
        description=(
            "The pre-flight check of a resume: the halt it would lift, broader halts it leaves in place, "
            "whether the watchdog that triggered the halt still alerts (then a resume needs force and a "
            "reason) and whether two operators are needed. scope as for POST /v1/halts/resume."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def preflight(
        self,
        context: NamedDependency[ServiceContext],
        target: Annotated[str, QueryParameter(name="scope", min_length=1, max_length=140)] = "firm",
    ) -> Preflight:
        service = halt_service(context)
        return await service.manager.preflight(**resolve_resume_scope(target, service.funds))


def _fund_ids(funds: FundsRegistry, fund_ids: list[str], *, paper: bool) -> list[str]:
    for i, fund_id in enumerate(fund_ids):
        if fund_id not in funds:
            raise HaltValidationError(f"fund_ids[{i}]", f"unknown fund {fund_id!r}")
        if paper and not funds.fund(fund_id).is_paper:
            raise HaltValidationError(
                f"fund_ids[{i}]", f"{fund_id!r} is a live fund; flatten-paper never touches live funds"
            )
    return list(dict.fromkeys(fund_ids))


class OmsController(Controller):
    path = "/v1/oms"
    tags = ["oms"]
    exception_handlers = EXCEPTION_HANDLERS

    @post(
        "/cancel-all",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Cancel every open order",
        description=(
            "Sends mts.v1.oms.cmd.cancel_all on the calling operator's behalf (for fund_ids, or every fund "
            "when empty) and gathers the acks: each responder's orders cancelled, the expected responders "
            "that did not ack (missing) and those that failed. complete is false unless all acked."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def cancel_all(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CancelAllBody],
        context: NamedDependency[ServiceContext],
    ) -> OmsCommandOutcome:
        service = halt_service(context)
        fund_ids = _fund_ids(service.funds, data.fund_ids, paper=False)
        command = build_oms_command(
            "cancel_all",
            requested_by=current_operator(request).actor,
            fund_ids=fund_ids,
            paper_only=False,
            reason=data.reason,
        )
        return await service.send_command(command)

    @post(
        "/flatten-paper",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Close the positions of paper funds",
        description=(
            "Sends mts.v1.oms.cmd.flatten with paper_only=true for the paper funds named in fund_ids (every "
            "paper fund of the registry when empty) and gathers the acks. Live funds are never named; "
            "naming one is a 400."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_409_CONFLICT: ResponseSpec(
                data_container=ErrorBody, description="The registry has no paper fund"
            ),
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def flatten_paper(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[FlattenPaperBody],
        context: NamedDependency[ServiceContext],
    ) -> OmsCommandOutcome:
        service = halt_service(context)
        fund_ids = _fund_ids(service.funds, data.fund_ids, paper=True) or [
            fund.fund_id for fund in service.funds.paper_funds()
        ]
        if not fund_ids:
            raise HTTPException(
                status_code=HTTP_409_CONFLICT,
                detail="the funds registry has no paper fund: nothing to flatten",
                extra={"code": "no_paper_funds"},
            )
        command = build_oms_command(
            "flatten",
            requested_by=current_operator(request).actor,
            fund_ids=fund_ids,
            paper_only=True,
            reason=data.reason,
        )
        return await service.send_command(command)


ROUTE_HANDLERS: Final = (HaltController, OmsController)
