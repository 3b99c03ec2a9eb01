"""One exception tree for everything the SDK raises.

::

    MtsError
    ├── ConfigurationError            a bad setting or credentials file (names it)
    ├── ApiError                      the service answered with an error status
    │   ├── BadRequestError           400, 422: bad input; ``field`` names it when the service did
    │   ├── AuthenticationError       401: no, malformed, unknown, revoked or expired token
    │   ├── PermissionDeniedError     403: the operator's role is too low
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   └── ServiceUnavailableError   502, 503, 504
    ├── TransportError                no answer: connection refused, reset, DNS ...
    │   └── TimeoutError              no answer in time (also a builtin TimeoutError)
    └── UnexpectedResponseError       an answer the SDK cannot read (not JSON, wrong shape)
"""

from __future__ import annotations

import builtins

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "MtsError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServiceUnavailableError",
    "TimeoutError",
    "TransportError",
    "UnexpectedResponseError",
    "error_for_status",
]


class MtsError(Exception):
    """Base of every SDK error."""


class ConfigurationError(MtsError, ValueError):
    """A setting or the credentials file is missing or malformed; ``source`` names which."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class ApiError(MtsError):
    """The service answered ``status``; ``code`` is machine-readable, ``field`` the bad input if any."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        field: str | None = None,
        method: str = "",
        url: str = "",
        body: object = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.method = method
        self.url = url
        self.body = body
        super().__init__(message)

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method else ""
        field = f" [field: {self.field}]" if self.field else ""
        return f"{self.status} {self.code}: {self.message}{field}{where}"


class BadRequestError(ApiError):
    """400 or 422: the request was refused as invalid."""


class AuthenticationError(ApiError):
    """401: the bearer token is missing, malformed, unknown, revoked or expired (``code`` says which)."""


class PermissionDeniedError(ApiError):
    """403: authenticated, but the operator's role is below the one the endpoint needs."""


class NotFoundError(ApiError):
    """404."""


class ConflictError(ApiError):
    """409: the request conflicts with the current state."""


class ServiceUnavailableError(ApiError):
    """502, 503 or 504: the service (or a dependency behind it) cannot answer now."""


class TransportError(MtsError):
    """No HTTP answer at all: the connection was refused, reset or could not be made."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


# Shadows the builtin on purpose: `except mts1b_operations.client.TimeoutError` reads naturally,
# and as a subclass of the builtin a plain `except TimeoutError` still catches it.
class TimeoutError(TransportError, builtins.TimeoutError):
    """No answer within the configured timeout."""


class UnexpectedResponseError(MtsError):
    """The service answered something the SDK cannot read: not JSON, or not the expected shape."""

    def __init__(self, message: str, *, status: int, method: str = "", url: str = "") -> None:
        self.status = status
        self.method = method
        self.url = url
        super().__init__(message)


_BY_STATUS: dict[int, tuple[type[ApiError], str]] = {
    400: (BadRequestError, "bad_request"),
    401: (AuthenticationError, "unauthorized"),
    403: (PermissionDeniedError, "forbidden"),
    404: (NotFoundError, "not_found"),
    409: (ConflictError, "conflict"),
    422: (BadRequestError, "unprocessable"),
    502: (ServiceUnavailableError, "bad_gateway"),
    503: (ServiceUnavailableError, "service_unavailable"),
    504: (ServiceUnavailableError, "gateway_timeout"),
}


def error_for_status(status: int) -> tuple[type[ApiError], str]:
    """The exception class and default ``code`` for an HTTP error ``status``."""
    return _BY_STATUS.get(status, (ApiError, f"http_{status}"))
