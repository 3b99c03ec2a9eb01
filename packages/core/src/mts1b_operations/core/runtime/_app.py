"""The Litestar application of a service: its own routes plus health, metrics, OpenAPI and JSON errors."""

from __future__ import annotations

import logging
import os
from typing import Any, Final

import msgspec
from litestar import Litestar, MediaType, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from ._health import HealthController, MetricsController, ServiceMetrics
from ._http_metrics import LabelCachingPrometheusMiddleware
from ._spec import ServiceContext

__all__ = ["ErrorBody", "create_app", "untraced_paths"]

log = logging.getLogger(__name__)

_UNTRACED_PROBES: Final = ("/v1/healthz", "/v1/readyz", "/metrics")
_EXCLUDED_URLS_ENV: Final = ("OTEL_PYTHON_LITESTAR_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")


def untraced_paths() -> list[str]:
    """Paths the tracing middleware skips: the probes, plus OpenTelemetry's excluded-URL patterns.

    OpenTelemetry's ASGI middleware reads ``OTEL_PYTHON_LITESTAR_EXCLUDED_URLS`` (else
    ``OTEL_PYTHON_EXCLUDED_URLS``) itself, but only after Litestar has already entered it; giving
    the same patterns to Litestar's exclusion skips the middleware altogether for those paths.
    """
    for variable in _EXCLUDED_URLS_ENV:
        if variable in os.environ:
            patterns = [p.strip() for p in os.environ[variable].split(",") if p.strip()]
            return [*_UNTRACED_PROBES, *patterns]
    return list(_UNTRACED_PROBES)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Every error a service answers: JSON, never an HTML page."""

    status_code: int
    detail: str
    extra: Any = None


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    extra = exc.extra if exc.extra else None
    return Response(
        ErrorBody(status_code=exc.status_code, detail=exc.detail, extra=extra),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        ErrorBody(status_code=HTTP_500_INTERNAL_SERVER_ERROR, detail="Internal Server Error"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=MediaType.JSON,
    )


def create_app(context: ServiceContext) -> Litestar:
    """Assemble the service's Litestar app; handlers get ``context: NamedDependency[ServiceContext]``."""
    spec = context.spec
    metrics = ServiceMetrics(context)
    prometheus = PrometheusConfig(
        app_name=spec.name,
        prefix="mts_http",
        group_path=True,
        middleware_class=LabelCachingPrometheusMiddleware,
    )
    openapi = OpenAPIConfig(
        title=spec.title,
        version=spec.resolved_version,
        description=spec.description or f"HTTP API of the {spec.title} service.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
    )
    app = Litestar(
        route_handlers=[HealthController, MetricsController, *spec.route_handlers],
        dependencies={
            "context": Provide(lambda: context, use_cache=True, sync_to_thread=False),
            "metrics": Provide(lambda: metrics, use_cache=True, sync_to_thread=False),
        },
        signature_namespace={
            "NamedDependency": NamedDependency,
            "ServiceContext": ServiceContext,
            "ServiceMetrics": ServiceMetrics,
        },
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        middleware=[prometheus.middleware],
        # Probes and scrapes would drown the traces of real requests.
        plugins=[
            OpenTelemetryPlugin(
                OpenTelemetryConfig(exclude=untraced_paths(), exclude_spans=["receive", "send"])
            )
        ],
        openapi_config=openapi,
        debug=False,
        logging_config=None,
    )
    app.state.context = context
    return app
