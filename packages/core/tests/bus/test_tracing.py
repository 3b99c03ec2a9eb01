"""Trace context in headers, and the tracer provider built from OTEL_* variables."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mts1b_operations.core.bus import extract_trace, inject_trace
from mts1b_operations.core.telemetry import (
    TelemetryConfigError,
    build_tracer_provider,
    configure_tracing,
    install_in_memory_tracing,
)


def test_inject_then_extract_gives_back_the_span_context(span_exporter: InMemorySpanExporter) -> None:
    exporter = span_exporter
    with trace.get_tracer("test").start_as_current_span("outer") as span:
        headers = inject_trace({"Nats-Msg-Id": "m-1"})
    assert headers["Nats-Msg-Id"] == "m-1"
    sent = span.get_span_context()
    assert headers["traceparent"] == f"00-{sent.trace_id:032x}-{sent.span_id:016x}-{sent.trace_flags:02x}"
    assert sent.trace_flags.sampled
    received = trace.get_current_span(extract_trace(headers)).get_span_context()
    assert received.trace_id == sent.trace_id
    assert received.span_id == sent.span_id
    assert received.is_remote
    assert [s.name for s in exporter.get_finished_spans()] == ["outer"]


def test_extract_without_trace_headers_is_an_empty_context() -> None:
    for headers in (None, {}, {"X-Other": "1"}):
        assert not trace.get_current_span(extract_trace(headers)).get_span_context().is_valid


def _emit(provider: TracerProvider, name: str) -> None:
    with provider.get_tracer("test").start_as_current_span(name):
        pass
    provider.force_flush()


def test_provider_from_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = build_tracer_provider("halt", environ={})
    assert isinstance(quiet, TracerProvider)
    assert quiet.resource.attributes[SERVICE_NAME] == "halt"
    _emit(quiet, "not-exported")

    named = build_tracer_provider(
        "halt", environ={"OTEL_SERVICE_NAME": "halt-eu", "OTEL_TRACES_EXPORTER": "none"}
    )
    assert named is not None
    assert named.resource.attributes[SERVICE_NAME] == "halt-eu"
    _emit(named, "not-exported")

    console = build_tracer_provider("halt", environ={"OTEL_TRACES_EXPORTER": "console"})
    assert console is not None
    _emit(console, "exported-to-console")
    console.shutdown()

    printed = capsys.readouterr().out
    assert '"name": "exported-to-console"' in printed
    assert '"service.name": "halt"' in printed
    assert "not-exported" not in printed

    assert build_tracer_provider("halt", environ={"OTEL_SDK_DISABLED": "true"}) is None


@pytest.mark.parametrize("value", ["jaeger", "console,zipkin", "none,console"])
def test_bad_exporter_setting_names_the_variable(value: str) -> None:
    with pytest.raises(TelemetryConfigError, match=r"^OTEL_TRACES_EXPORTER: "):
        build_tracer_provider("halt", environ={"OTEL_TRACES_EXPORTER": value})


def test_configure_tracing_installs_the_global_provider(span_exporter: InMemorySpanExporter) -> None:
    provider = configure_tracing("watchdogs", environ={"OTEL_TRACES_EXPORTER": "none"})
    assert provider is not None
    assert trace.get_tracer_provider() is provider
    replacement = install_in_memory_tracing("again")
    with trace.get_tracer("test").start_as_current_span("after-replacement"):
        pass
    assert [s.name for s in replacement.get_finished_spans()] == ["after-replacement"]
