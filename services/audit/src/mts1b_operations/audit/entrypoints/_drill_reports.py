"""``POST /v1/audit/drill-reports``: an operator records the SHA-256 of a halt drill's report.

A drill (``mts cmd drill --execute``) halts the paper funds, measures how fast the halt took
hold and writes a report; the report's hash goes into the chain so the figures an operator
shows later can be proved unchanged. The entry's actor is the calling operator (the token
decides, not the body), its action ``drill.report`` and its subject the drill id. The
drill id is the entry's source event id too, so a retried request returns the entry already
there; the same id with another hash is a conflict (409), never a second entry.
See docs/decisions/0005-drill-report-in-audit.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, MediaType, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from mts1b_operations.core.runtime import (
    AUTH_RESPONSES,
    ErrorBody,
    ServiceContext,
    current_operator,
    requires_role,
)
from mts1b_operations.core.schemas.audit_api import DrillReportRecorded

from .http import EXCEPTION_HANDLERS, chain_of

__all__ = ["DRILL_REPORT_ACTION", "DrillReportBody", "DrillReportController", "DrillReportRecorded"]

DRILL_REPORT_ACTION: Final = "drill.report"
_SOURCE_PREFIX: Final = "drill:"

_DrillId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="The drill's id: 1-64 letters, digits, _ and -"
    ),
]
_Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="lowercase hex SHA-256")]
_FundId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-:=@^~]{1,128}$")]


class DrillReportBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    drill_id: _DrillId
    report_sha256: _Sha256
    """SHA-256 of the report's JSON file, byte for byte."""
    funds: Annotated[list[_FundId], msgspec.Meta(max_length=1000)] = []
    """The funds the drill halted."""
    report_name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "report.json"


class DrillReportController(Controller):
    path = "/v1/audit/drill-reports"
    tags = ["audit"]
    exception_handlers = EXCEPTION_HANDLERS

    @post(
        "/",
        guards=[requires_role("operator")],
        status_code=HTTP_201_CREATED,
        summary="Record the SHA-256 of a halt drill's report in the chain",
        description=(
            "Appends an entry drill.report about subject drill_id, by the calling operator, with the "
            "report's SHA-256 and the funds the drill halted. Idempotent per drill_id: a retry answers "
            "200 with the entry already there (created=false); the same drill_id with another hash is "
            "409."
        ),
        responses={
            # Declared: the handler's union return type leaves Litestar's own 201 schema empty.
            HTTP_201_CREATED: ResponseSpec(data_container=DrillReportRecorded, description="Recorded"),
            HTTP_200_OK: ResponseSpec(
                data_container=DrillReportRecorded, description="Already recorded: the existing entry"
            ),
            HTTP_400_BAD_REQUEST: ResponseSpec(
                data_container=ErrorBody, description="Bad input; extra.field names the field"
            ),
            HTTP_409_CONFLICT: ResponseSpec(
                data_container=ErrorBody, description="This drill_id was recorded with another hash"
            ),
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=ErrorBody, description="Postgres did not answer; retry"
            ),
            **AUTH_RESPONSES,
        },
    )
    async def record(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[DrillReportBody],
        context: NamedDependency[ServiceContext],
    ) -> Response[DrillReportRecorded] | Response[ErrorBody]:
        operator = current_operator(request)
        chain = chain_of(context)
        earlier = [e for e in await chain.get_trail(data.drill_id) if e.action == DRILL_REPORT_ACTION]
        payload = {
            "drill_id": data.drill_id,
            "report_sha256": data.report_sha256,
            "report_name": data.report_name,
            "funds": list(data.funds),
        }
        entry = earlier[0] if earlier else None
        if entry is None:
            entry = await chain.append(
                actor=operator.actor,
                action=DRILL_REPORT_ACTION,
                subject_id=data.drill_id,
                data=payload,
                source_event_id=_SOURCE_PREFIX + data.drill_id,
            )
        recorded_hash = entry.data.get("report_sha256")
        if recorded_hash != data.report_sha256:
            detail = (
                f"drill_id: {data.drill_id} is already recorded (entry {entry.sequence}) with another "
                f"report hash, {recorded_hash}"
            )
            return Response(
                ErrorBody(
                    status_code=HTTP_409_CONFLICT,
                    detail=detail,
                    extra={"code": "conflict", "field": "drill_id"},
                ),
                status_code=HTTP_409_CONFLICT,
                media_type=MediaType.JSON,
            )
        answer = DrillReportRecorded(
            drill_id=data.drill_id,
            report_sha256=data.report_sha256,
            recorded_by=entry.actor,
            sequence=entry.sequence,
            entry_hash=entry.hash,
            created=not earlier,
        )
        return Response(answer, status_code=HTTP_200_OK if earlier else HTTP_201_CREATED)
