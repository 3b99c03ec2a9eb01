"""JSON error answers every service builds the same way: ``{"status_code", "detail", "extra"}``."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import MediaType, Request, Response
from litestar.exceptions import ValidationException
from litestar.status_codes import HTTP_400_BAD_REQUEST

from ._app import ErrorBody

__all__ = ["error_response", "field_validation_error"]

_FIELD_IN_MESSAGE: Final = re.compile(r"field `(?P<field>[^`]+)`")
_FIELD_PREFIX: Final = re.compile(r"^(?P<field>[A-Za-z_][\w.\[\]]*): ")


def error_response(
    status: int, detail: str, *, code: str, field: str | None = None, **more: Any
) -> Response[ErrorBody]:
    """An error answer whose ``extra`` carries ``code``, the ``field`` at fault when known, and ``more``."""
    extra: dict[str, Any] = {"code": code, **more}
    if field is not None:
        extra["field"] = field
    return Response(
        ErrorBody(status_code=status, detail=detail, extra=extra),
        status_code=status,
        media_type=MediaType.JSON,
    )


def field_validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's own 400 (a body, path or query value that does not decode), reworded to name the field
    first: ``extra.field`` is the parameter or body field, ``extra.source`` where it came from."""
    first = (
        exc.extra[0] if isinstance(exc.extra, list) and exc.extra and isinstance(exc.extra[0], dict) else {}
    )
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    field: str | None = key if isinstance(key, str) and key != "data" else None
    if field is None and (match := _FIELD_IN_MESSAGE.search(message) or _FIELD_PREFIX.match(message)):
        field = match.group("field")
        message = _FIELD_PREFIX.sub("", message)
    field = field or "body"
    return error_response(
        HTTP_400_BAD_REQUEST,
        f"{field}: {message}",
        code="invalid",
        field=field,
        source=first.get("source", "body"),
    )
