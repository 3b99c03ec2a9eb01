"""The compliance service's HTTP API (Litestar): reports, their repair, files and the flush.

Every route needs a bearer token (``core.runtime.requires_role``): viewer to read, operator to
repair or flush; the calling operator is the actor recorded. Errors are JSON
``{"status_code", "detail", "extra": {"code", "field"}}``: 400 ``invalid`` naming the parameter
or field (an unknown regime or status, a limit out of range), 400 ``repair_invalid`` listing
the problems a repair still leaves, 404 ``not_found``, 409 ``not_repairable``, 503 when
Postgres does not answer; never a 500 for bad input.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import (
    HTTP_200_OK,
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
    current_operator,
    error_response,
    field_validation_error,
    requires_role,
)
from mts1b_operations.core.schemas import TOKEN_PATTERN

from ..adapters.registry import AdapterSource, adapter_for, regimes_of
from ..domain import (
    FILE_STATUSES,
    REPORT_STATUSES,
    InvalidRequestError,
    NotRepairableError,
    RepairRejectedError,
    ReportNotFoundError,
    ReportView,
)
from ._schemas import FileList, FlushBody, RepairBody, ReportList
from ._service import compliance_service

__all__ = ["ROUTE_HANDLERS", "ComplianceController"]

log = logging.getLogger(__name__)

MAX_LIMIT: Final = 1000
# Fund ids, regimes and statuses are tokens: anything else (a NUL, say) is a 400, not a database error.
_Id = Annotated[str | None, QueryParameter(pattern=TOKEN_PATTERN, max_length=128)]
_BIGINT_MAX = 2**63 - 1
"""Ids are Postgres bigints: a larger number cannot name a report (a 400, not a database error)."""
_ReportId = Annotated[int, PathParameter(ge=1, le=_BIGINT_MAX, description="The report's id")]


def _invalid(_: Request[Any, Any, Any], exc: InvalidRequestError) -> Response[ErrorBody]:
    return error_response(HTTP_400_BAD_REQUEST, str(exc), code="invalid", field=exc.field)


def _not_found(_: Request[Any, Any, Any], exc: ReportNotFoundError) -> Response[ErrorBody]:
    return error_response(HTTP_404_NOT_FOUND, str(exc), code="not_found", field="id")


def _not_repairable(_: Request[Any, Any, Any], exc: NotRepairableError) -> Response[ErrorBody]:
    return error_response(HTTP_409_CONFLICT, str(exc), code="not_repairable")


def _repair_rejected(_: Request[Any, Any, Any], exc: RepairRejectedError) -> Response[ErrorBody]:
    problems = [{"field": p.field, "problem": p.problem} for p in exc.problems]
    return error_response(
        HTTP_400_BAD_REQUEST, str(exc), code="repair_invalid", field=exc.field, problems=problems
    )


def _unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("answering 503: %r", exc)
    return error_response(
        HTTP_503_SERVICE_UNAVAILABLE,
        f"Postgres did not answer ({type(exc).__name__}: {exc}); nothing was done; retry",
        code="unavailable",
    )


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    ValidationException: field_validation_error,
    InvalidRequestError: _invalid,
    ReportNotFoundError: _not_found,
    NotRepairableError: _not_repairable,
    RepairRejectedError: _repair_rejected,
    asyncpg.InterfaceError: _unavailable,
    **{error: _unavailable for error in TRANSIENT_ERRORS if issubclass(error, Exception)},
}

_BAD_INPUT = ResponseSpec(data_container=ErrorBody, description="Bad input; extra.field names the parameter")
_UNAVAILABLE = ResponseSpec(data_container=ErrorBody, description="Postgres did not answer; retry")


def checked_regime(registry: AdapterSource, regime: str | None, *, field: str = "regime") -> str | None:
    if regime is None or adapter_for(registry, regime) is not None:
        return regime
    known = ", ".join(regimes_of(registry)) or "none listed"
    raise InvalidRequestError(field, f"unknown regime {regime!r} (registered: {known})")


def checked_status(status: str | None, allowed: tuple[str, ...], *, field: str = "status") -> str | None:
    if status is None or status in allowed:
        return status
    raise InvalidRequestError(field, f"unknown status {status!r} (one of: {', '.join(allowed)})")


class ComplianceController(Controller):
    path = "/v1/compliance"
    tags = ["compliance"]
    exception_handlers = EXCEPTION_HANDLERS

    @get(
        "/reports",
        guards=[requires_role("viewer")],
        summary="Stored regulatory reports",
        description=(
            "Reports in id order, filtered by fund_id, regime (cat, oats, mifid2 or a firm's own) and "
            "status (rejected, pending, filed, submitted, accepted, failed, superseded); at most limit "
            f"(1 to {MAX_LIMIT}, default 100) after after_id. next_after_id continues the listing "
            "(null on the last page). A rejected report names each problem's specification field."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def list_reports(
        self,
        context: NamedDependency[ServiceContext],
        fund_id: _Id = None,
        regime: _Id = None,
        status: _Id = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 100,
        after_id: Annotated[int, QueryParameter(ge=0, le=_BIGINT_MAX)] = 0,
    ) -> ReportList:
        service = compliance_service(context)
        items = await service.store.list_reports(
            fund_id=fund_id,
            regime=checked_regime(service.registry, regime),
            status=checked_status(status, REPORT_STATUSES),
            limit=limit,
            after_id=after_id,
        )
        next_after_id = items[-1].id if len(items) == limit else None
        return ReportList(items=items, next_after_id=next_after_id)

    @get(
        "/reports/{report_id:int}",
        guards=[requires_role("viewer")],
        summary="One stored report",
        description="The report with this id: its record by the specification's field names, its problems.",
        responses={
            HTTP_404_NOT_FOUND: ResponseSpec(data_container=ErrorBody, description="No report has this id"),
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def get_report(self, context: NamedDependency[ServiceContext], report_id: _ReportId) -> ReportView:
        return await compliance_service(context).store.get_report(report_id)

    @post(
        "/reports/{report_id:int}/repair",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Repair a rejected report",
        description=(
            "Rebuilds a rejected (or regulator-refused, status failed) report from the order event it was "
            "built from, with fields (the specification's field names) overriding the derived values. "
            "When the result is valid it is stored as a new pending report, the old one becomes superseded "
            "(repaired_from links them) and mts.v1.operations.compliance.report.repaired records the "
            "calling operator and reason. A result that still has problems is a 400 listing them "
            "(extra.problems); nothing changes."
        ),
        responses={
            HTTP_400_BAD_REQUEST: ResponseSpec(
                data_container=ErrorBody,
                description="Bad body, or the repair still leaves problems (extra.code repair_invalid, "
                "extra.field the first problem's field, extra.problems all of them)",
            ),
            HTTP_404_NOT_FOUND: ResponseSpec(data_container=ErrorBody, description="No report has this id"),
            HTTP_409_CONFLICT: ResponseSpec(
                data_container=ErrorBody, description="The report is not rejected or failed"
            ),
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def repair(
        self,
        request: Request[Any, Any, Any],
        context: NamedDependency[ServiceContext],
        report_id: _ReportId,
        data: JSONBody[RepairBody],
    ) -> ReportView:
        return await compliance_service(context).reporter.repair(
            report_id, fields=data.fields, reason=data.reason, actor=current_operator(request).actor
        )

    @get(
        "/files",
        guards=[requires_role("viewer")],
        summary="Submission files",
        description=(
            "Files cut from pending reports, in id order, filtered by fund_id, regime and status "
            "(pending, submitted, failed). overdue: not submitted and past the regulatory deadline."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def list_files(
        self,
        context: NamedDependency[ServiceContext],
        fund_id: _Id = None,
        regime: _Id = None,
        status: _Id = None,
    ) -> FileList:
        service = compliance_service(context)
        items = await service.store.list_files(
            fund_id=fund_id,
            regime=checked_regime(service.registry, regime),
            status=checked_status(status, FILE_STATUSES),
        )
        return FileList(items=items)

    @post(
        "/files/flush",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Cut and submit files now",
        description=(
            "Cuts a file from all pending valid reports (of fund_id and/or regime when given) per regime, "
            "fund and trade date, numbered with the day's next sequence, and submits each through the "
            "transport; the files as they stand after their submission (submitted, or failed with "
            "last_error; a failed file is retried in the background). Files are also cut daily at "
            "MTS_COMPLIANCE_CUT_TIME."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def flush(
        self,
        request: Request[Any, Any, Any],
        context: NamedDependency[ServiceContext],
        data: JSONBody[FlushBody],
    ) -> FileList:
        service = compliance_service(context)
        regime = checked_regime(service.registry, data.regime)
        if data.fund_id is not None and data.fund_id not in service.funds:
            raise InvalidRequestError("fund_id", f"unknown fund {data.fund_id!r} (not in the funds registry)")
        items = await service.filing.cut(
            regime=regime, fund_id=data.fund_id, actor=current_operator(request).actor
        )
        return FileList(items=items)


ROUTE_HANDLERS: Final = (ComplianceController,)
