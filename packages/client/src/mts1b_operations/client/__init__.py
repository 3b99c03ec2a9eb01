"""The mts1b-operations SDK: typed async clients for every service's HTTP API.

Configuration comes from the environment (MTS_HALT_URL, MTS_AUDIT_URL, ..., MTS_TOKEN) or a
credentials file (MTS_CREDENTIALS_FILE, else ``~/.config/mts/credentials`` with a line
``token = mts_...``, mode 600)::

    from mts1b_operations.client import ClientConfig, ServiceClient

    config = ClientConfig.from_env()
    async with ServiceClient.for_service("halt", config) as halt:
        health = await halt.healthz()

Every error is an :class:`MtsError`: :class:`ApiError` (with ``status``, ``code``, ``message``,
``field``) and its subclasses for error answers, :class:`TransportError` / :class:`TimeoutError`
when no answer came. Only idempotent GETs are retried.
"""

from ._config import SERVICES, ClientConfig, ServiceName, default_credentials_path, read_credentials
from ._errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    MtsError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
    TimeoutError,
    TransportError,
    UnexpectedResponseError,
)
from ._http import RETRIED_STATUSES, ServiceClient, api_error_from_response

__all__ = [
    "RETRIED_STATUSES",
    "SERVICES",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ClientConfig",
    "ConfigurationError",
    "ConflictError",
    "MtsError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServiceClient",
    "ServiceName",
    "ServiceUnavailableError",
    "TimeoutError",
    "TransportError",
    "UnexpectedResponseError",
    "api_error_from_response",
    "default_credentials_path",
    "read_credentials",
]
