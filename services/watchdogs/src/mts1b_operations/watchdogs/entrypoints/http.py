"""The watchdogs' HTTP API (Litestar): list, show, configure, pause and resume the watchdogs.

Reads need a viewer token, changes an operator token (``core.runtime.requires_role``); the
calling operator is recorded as the one who changed the configuration or the pause. Errors are
JSON ``{"status_code", "detail", "extra": {"code", "field"}}``: 404 ``unknown_watchdog`` naming
the valid watchdogs, 400 ``invalid`` naming the parameter or field, 503 when Postgres does not
answer; never a 500 for bad input.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import asyncpg
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
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
    requires_role,
)

from ..config import WATCHDOG_NAMES, ConfigError, UnknownWatchdogError
from ._schemas import PauseBody, WatchdogList, WatchdogView
from .control import ControlError, WatchdogControl

__all__ = ["EXCEPTION_HANDLERS", "ROUTE_HANDLERS", "STATE_KEY", "WatchdogController", "watchdog_control"]

log = logging.getLogger(__name__)

STATE_KEY: Final = "watchdog_control"
_FIELD_PREFIX: Final = re.compile(r"^(?P<field>[A-Za-z_][\w.\[\]]*): ")
_FIELD_IN_MESSAGE: Final = re.compile(r"(?:field|at) `\$?\.?(?P<field>[A-Za-z_][\w.\[\]]*)`")


def watchdog_control(context: ServiceContext) -> WatchdogControl:
    control = context.state.get(STATE_KEY)
    if not isinstance(control, WatchdogControl):
        raise RuntimeError("the watchdogs were not started (no WatchdogControl in the service context)")
    return control


def _unknown(_: Request[Any, Any, Any], exc: UnknownWatchdogError) -> Response[ErrorBody]:
    return error_response(
        HTTP_404_NOT_FOUND, str(exc), code="unknown_watchdog", field="name", watchdogs=list(WATCHDOG_NAMES)
    )


def _invalid_config(_: Request[Any, Any, Any], exc: ConfigError) -> Response[ErrorBody]:
    return error_response(
        HTTP_400_BAD_REQUEST, f"{exc.watchdog}: {exc}", code="invalid", field=exc.field or None
    )


def _invalid_control(_: Request[Any, Any, Any], exc: ControlError) -> Response[ErrorBody]:
    return error_response(HTTP_400_BAD_REQUEST, str(exc), code="invalid", field=exc.field)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's own 400 (a body that does not decode), reworded to name the field first."""
    first = (
        exc.extra[0] if isinstance(exc.extra, list) and exc.extra and isinstance(exc.extra[0], dict) else {}
    )
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    field = key if isinstance(key, str) and key != "data" else None
    if field is None and (match := _FIELD_PREFIX.match(message)):
        field, message = match["field"], message[match.end() :]
    if field is None and (match := _FIELD_IN_MESSAGE.search(message)):
        field = match["field"]
    field = field or "body"
    return error_response(HTTP_400_BAD_REQUEST, f"{field}: {message}", code="invalid", field=field)


def _unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("answering 503: %r", exc)
    return error_response(
        HTTP_503_SERVICE_UNAVAILABLE,
        f"the watchdog store did not answer ({type(exc).__name__}); nothing was changed; retry",
        code="unavailable",
    )


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    ValidationException: _validation,
    UnknownWatchdogError: _unknown,
    ConfigError: _invalid_config,
    ControlError: _invalid_control,
    asyncpg.InterfaceError: _unavailable,
    **{error: _unavailable for error in TRANSIENT_ERRORS if issubclass(error, Exception)},
}

_NOT_FOUND = ResponseSpec(
    data_container=ErrorBody, description="No watchdog of that name; extra.watchdogs lists them"
)
_BAD_INPUT = ResponseSpec(
    data_container=ErrorBody, description="Bad input; extra.field names the parameter or field"
)
_UNAVAILABLE = ResponseSpec(data_container=ErrorBody, description="Postgres did not answer; retry")


class WatchdogController(Controller):
    path = "/v1/watchdogs"
    tags = ["watchdogs"]
    exception_handlers = EXCEPTION_HANDLERS

    @get(
        "/",
        guards=[requires_role("viewer")],
        summary="Every watchdog",
        description=(
            "The ten watchdogs: parameters, pause, latest evaluation and the subjects whose alert is firing."
        ),
        responses={HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE, **AUTH_RESPONSES},
    )
    async def list_watchdogs(self, context: NamedDependency[ServiceContext]) -> WatchdogList:
        views = await watchdog_control(context).views()
        return WatchdogList(watchdogs=views, count=len(views))

    @get(
        "/{name:str}",
        guards=[requires_role("viewer")],
        summary="One watchdog",
        description="Its parameters (effective and overridden), pause, latest evaluation, firing subjects.",
        responses={
            HTTP_404_NOT_FOUND: _NOT_FOUND,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def show(self, name: FromPath[str], context: NamedDependency[ServiceContext]) -> WatchdogView:
        return await watchdog_control(context).view(name)

    @put(
        "/{name:str}/config",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Change a watchdog's parameters",
        description=(
            "A partial update: the parameters given replace the current ones (null resets one to its "
            "default), the others are kept. The whole parameter set is validated; an unknown parameter or a "
            "value out of range is a 400 naming it, and nothing changes. Applied at once, recorded in "
            "Postgres (it survives a restart) and announced on mts.v1.operations.cmd.watchdog for the other "
            "replicas and the audit trail, as changed by the calling operator."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_404_NOT_FOUND: _NOT_FOUND,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def configure(
        self,
        request: Request[Any, Any, Any],
        name: FromPath[str],
        data: JSONBody[dict[str, Any]],
        context: NamedDependency[ServiceContext],
    ) -> WatchdogView:
        operator = current_operator(request)
        return await watchdog_control(context).configure(name, data, actor=operator.actor)

    @post(
        "/{name:str}/pause",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="Pause (silence) a watchdog for a while",
        description=(
            "The watchdog keeps evaluating but sends no new alert until the pause ends: at until, or after "
            "for (seconds or 30m, 2h, 1d...; default 1h, at most 7 days). An alert already sent still "
            "resolves when it clears; one that started during the pause and still fires is sent when it "
            "ends."
        ),
        responses={
            HTTP_400_BAD_REQUEST: _BAD_INPUT,
            HTTP_404_NOT_FOUND: _NOT_FOUND,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def pause(
        self,
        request: Request[Any, Any, Any],
        name: FromPath[str],
        data: JSONBody[PauseBody],
        context: NamedDependency[ServiceContext],
    ) -> WatchdogView:
        operator = current_operator(request)
        return await watchdog_control(context).pause(
            name, actor=operator.actor, until=data.until, duration=data.for_, reason=data.reason
        )

    @post(
        "/{name:str}/resume",
        guards=[requires_role("operator")],
        status_code=HTTP_200_OK,
        summary="End a watchdog's pause",
        description="Alerts the pause held back that still fire are sent now.",
        responses={
            HTTP_404_NOT_FOUND: _NOT_FOUND,
            HTTP_503_SERVICE_UNAVAILABLE: _UNAVAILABLE,
            **AUTH_RESPONSES,
        },
    )
    async def resume(
        self, request: Request[Any, Any, Any], name: FromPath[str], context: NamedDependency[ServiceContext]
    ) -> WatchdogView:
        operator = current_operator(request)
        return await watchdog_control(context).resume(name, actor=operator.actor)


ROUTE_HANDLERS: Final = (WatchdogController,)
