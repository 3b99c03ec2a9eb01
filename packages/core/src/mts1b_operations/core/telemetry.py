"""OpenTelemetry tracing from the standard ``OTEL_*`` variables.

- ``OTEL_SDK_DISABLED=true``: no provider (the API's no-op tracer stays).
- ``OTEL_SERVICE_NAME`` (else the service's own name) and ``OTEL_RESOURCE_ATTRIBUTES``
  make the resource.
- ``OTEL_TRACES_EXPORTER``: ``console`` prints spans to stdout; ``none`` (the default here,
  since no OTLP exporter is installed) exports nothing; ``otlp`` is accepted with a warning
  that its exporter is not installed. Spans are still created, so trace context still
  travels through NATS headers.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Final

from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import OTEL_SDK_DISABLED, OTEL_SERVICE_NAME
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

__all__ = [
    "TelemetryConfigError",
    "build_tracer_provider",
    "configure_tracing",
    "install_in_memory_tracing",
    "install_tracer_provider",
]

log = logging.getLogger(__name__)

_KNOWN_EXPORTERS: Final = frozenset({"console", "none", "otlp"})


class TelemetryConfigError(ValueError):
    """An ``OTEL_*`` variable is malformed; ``variable`` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


def _exporters(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get(OTEL_TRACES_EXPORTER, "").strip().lower()
    names = [name.strip() for name in raw.split(",") if name.strip()] or ["none"]
    unknown = sorted(set(names) - _KNOWN_EXPORTERS)
    if unknown:
        raise TelemetryConfigError(
            OTEL_TRACES_EXPORTER, f"unknown exporter(s) {', '.join(unknown)} (use console, otlp or none)"
        )
    if "none" in names and len(names) > 1:
        raise TelemetryConfigError(OTEL_TRACES_EXPORTER, "'none' cannot be combined with other exporters")
    return names


def build_tracer_provider(
    service_name: str, *, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """The provider the ``OTEL_*`` variables describe, or ``None`` when the SDK is disabled."""
    env = os.environ if environ is None else environ
    if env.get(OTEL_SDK_DISABLED, "").strip().lower() == "true":
        return None
    exporters = _exporters(env)
    name = env.get(OTEL_SERVICE_NAME, "").strip() or service_name
    if not name:
        raise TelemetryConfigError(OTEL_SERVICE_NAME, "no service name (set it or pass service_name)")
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES from the process environment itself.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if "console" in exporters:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
    if "otlp" in exporters:
        log.warning(
            "%s=otlp: the OTLP exporter is not installed; spans are not exported", OTEL_TRACES_EXPORTER
        )
    return provider


def install_tracer_provider(provider: TracerProvider) -> None:
    """Make ``provider`` the global one, replacing any installed before.

    The OpenTelemetry API lets the global be set once per process; tests (and a service
    configured twice in one process) need to replace it, so the set-once guard is reset
    the way OpenTelemetry's own test utilities do. Code that cached a tracer from the old
    provider keeps it; core.bus looks its tracer up per use.
    """
    previous = trace._TRACER_PROVIDER
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace.set_tracer_provider(provider)
    if isinstance(previous, TracerProvider) and previous is not provider:
        previous.shutdown()


def configure_tracing(
    service_name: str, *, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """Build the provider from ``OTEL_*`` and install it globally; ``None`` when disabled."""
    provider = build_tracer_provider(service_name, environ=environ)
    if provider is not None:
        install_tracer_provider(provider)
    return provider


def install_in_memory_tracing(service_name: str = "test") -> InMemorySpanExporter:
    """For tests: a global provider whose finished spans land in the returned exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_tracer_provider(provider)
    return exporter
