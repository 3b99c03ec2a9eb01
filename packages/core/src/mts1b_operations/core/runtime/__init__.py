"""The lifecycle every service process runs: ``serve_and_exit(service_spec())``.

A service declares a :class:`ServiceSpec` (name, port, migration sets, HTTP handlers, consumers,
hooks); :func:`run_service` connects, checks the schema, serves HTTP with granian, heartbeats and
drains on SIGTERM or the restart command; :func:`serve_and_exit` is a process's main around it
(:func:`run_service`, then an exit without interpreter finalization). :func:`create_app` builds
the Litestar app alone (tests).

A service's HTTP handlers get the running service by declaring
``context: NamedDependency[ServiceContext]`` (``litestar.di.NamedDependency``). Operator endpoints
take ``guards=[requires_role("operator")]`` and read the caller with ``current_operator(request)``.
"""

from ._app import ErrorBody, create_app
from ._auth import AUTH_RESPONSES, current_operator, requires_role
from ._errors import error_response, field_validation_error
from ._exit import exit_process, serve_and_exit
from ._health import Liveness, Readiness, check_dependencies
from ._lifecycle import EXIT_FAILURE, EXIT_OK, EXIT_SCHEMA_BEHIND, EXIT_SETTINGS, run_service
from ._server import HttpServer, HttpServerError
from ._spec import Consumer, ConsumerFactory, Hook, ReadinessCheck, ServiceContext, ServiceSpec

__all__ = [
    "AUTH_RESPONSES",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_SCHEMA_BEHIND",
    "EXIT_SETTINGS",
    "Consumer",
    "ConsumerFactory",
    "ErrorBody",
    "Hook",
    "HttpServer",
    "HttpServerError",
    "Liveness",
    "Readiness",
    "ReadinessCheck",
    "ServiceContext",
    "ServiceSpec",
    "check_dependencies",
    "create_app",
    "current_operator",
    "error_response",
    "exit_process",
    "field_validation_error",
    "requires_role",
    "run_service",
    "serve_and_exit",
]
