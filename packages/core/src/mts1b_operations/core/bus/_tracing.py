"""W3C trace context carried in NATS headers, through the globally configured propagator."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject

__all__ = ["bus_tracer", "extract_trace", "inject_trace"]

_INSTRUMENTATION = "mts1b_operations.core.bus"


def inject_trace(
    headers: MutableMapping[str, str], context: Context | None = None
) -> MutableMapping[str, str]:
    """Write the current (or the given) trace context into ``headers`` (``traceparent``...); returns them."""
    inject(headers, context=context)
    return headers


def extract_trace(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by ``headers``; an empty context when they carry none."""
    return extract(dict(headers or {}))


def bus_tracer() -> trace.Tracer:
    # Looked up per use rather than cached, so a provider installed later (tests) takes effect.
    return trace.get_tracer(_INSTRUMENTATION)
