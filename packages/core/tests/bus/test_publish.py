"""Publishing: deduplication by Nats-Msg-Id, headers, payload encoding, retries through an outage."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import Bus, PublishError, StreamSpec, connect_bus, extract_trace, inject_trace
from mts1b_operations.core.embedded import EmbeddedNats

Eventually = Callable[..., Awaitable[None]]  # the conftest fixture


async def test_same_msg_id_twice_lands_once(bus: Bus, test_stream: StreamSpec) -> None:
    await bus.ensure_streams([test_stream])
    subject = test_stream.subjects[0].replace(">", "dedup")
    first = await bus.publish(subject, b"one", msg_id="m-1")
    second = await bus.publish(subject, b"one", msg_id="m-1")
    third = await bus.publish(subject, b"two", msg_id="m-2")
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    assert not third.duplicate
    info = await bus.js.stream_info(test_stream.name)
    assert info.state.messages == 2


async def test_headers_carry_msg_id_and_callers_headers(bus: Bus, test_stream: StreamSpec) -> None:
    await bus.ensure_streams([test_stream])
    subject = test_stream.subjects[0].replace(">", "hdr")
    ack = await bus.publish(subject, b"x", msg_id="h-1", headers={"X-Fund": "paper-momentum"})
    stored = await bus.js.get_msg(test_stream.name, ack.seq)
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == "h-1"
    assert stored.headers["X-Fund"] == "paper-momentum"


async def test_struct_payload_is_encoded_with_core_schemas(bus: Bus) -> None:
    await bus.ensure_streams()
    beat = schemas.ServiceHeartbeat(
        service="halt",
        instance_id="i-1",
        pid=123,
        host="h",
        http_url="http://127.0.0.1:8101",
        ready=True,
        version="0.1.0",
        started_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        sent_at=datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC),
    )
    ack = await bus.publish(subjects.service_heartbeat("halt"), beat, msg_id="beat-1")
    stored = await bus.js.get_msg("HEARTBEATS", ack.seq)
    assert stored.data is not None
    assert schemas.decode(stored.data, schemas.ServiceHeartbeat) == beat


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"msg_id": ""}, "msg_id"),
        ({"msg_id": "  "}, "msg_id"),
        ({"msg_id": "a", "timeout": 0}, "timeout"),
        ({"msg_id": "a", "deadline": -1}, "deadline"),
    ],
)
async def test_bad_arguments_are_refused_naming_them(bus: Bus, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        await bus.publish("test.x", b"", **kwargs)  # type: ignore[arg-type]


async def test_bad_subject_and_payload_are_refused(bus: Bus) -> None:
    with pytest.raises(ValueError, match=r"^subject: "):
        await bus.publish("test.*", b"", msg_id="a")
    with pytest.raises(TypeError, match=r"^payload: "):
        await bus.publish("test.x", "text", msg_id="a")  # type: ignore[arg-type]


async def test_no_stream_gives_publish_error_naming_the_subject(bus: Bus) -> None:
    with pytest.raises(PublishError, match=re.escape("'nobody.listens'")) as caught:
        await bus.publish("nobody.listens", b"x", msg_id="lost-1", timeout=0.2, deadline=2.0)
    assert caught.value.subject == "nobody.listens"
    assert caught.value.attempts >= 2, "publish was not retried"


async def test_publish_on_a_closed_bus_fails_at_once(nats_url: str) -> None:
    closed = await connect_bus(nats_url, name="closed-test")
    await closed.close()
    with pytest.raises(PublishError, match="ConnectionClosedError") as caught:
        await closed.publish("test.closed", b"x", msg_id="c-1", deadline=30)
    assert caught.value.attempts == 1


async def test_publish_during_an_outage_completes_after_restart(
    restartable_nats: EmbeddedNats,
    test_stream: StreamSpec,
    caplog: pytest.LogCaptureFixture,
    eventually: Eventually,
) -> None:
    caplog.set_level(logging.WARNING, logger="mts1b_operations.core.bus")
    bus = await connect_bus(restartable_nats.url, name="outage-test", connect_deadline=10)
    try:
        await bus.ensure_streams([test_stream])
        subject = test_stream.subjects[0].replace(">", "outage")
        await asyncio.to_thread(restartable_nats.stop)

        async def down() -> bool:
            return not bus.is_connected

        await eventually(down, within=15, what="the client to see the server gone")
        publishing = asyncio.create_task(
            bus.publish(subject, b"kept", msg_id="o-1", timeout=0.5, deadline=60)
        )

        async def retried() -> bool:
            return any("publish to " + subject in r.getMessage() for r in caplog.records)

        await eventually(retried, within=15, what="a failed publish attempt during the outage")
        assert not publishing.done()
        await asyncio.to_thread(restartable_nats.start)
        ack = await asyncio.wait_for(publishing, 60)
        assert ack.stream == test_stream.name
        info = await bus.js.stream_info(test_stream.name)
        assert info.state.messages == 1
    finally:
        await bus.close()


async def test_publish_error_when_the_outage_outlasts_the_deadline(restartable_nats: EmbeddedNats) -> None:
    bus = await connect_bus(restartable_nats.url, name="deadline-test", connect_deadline=10)
    try:
        await asyncio.to_thread(restartable_nats.stop)
        with pytest.raises(PublishError, match=re.escape("test.gone")):
            await bus.publish("test.gone", b"x", msg_id="g-1", timeout=0.2, deadline=1.0)
    finally:
        await bus.close()


async def test_trace_context_carried_in_headers_is_kept(
    bus: Bus, test_stream: StreamSpec, span_exporter: InMemorySpanExporter
) -> None:
    await bus.ensure_streams([test_stream])
    with trace.get_tracer("test").start_as_current_span("original request") as original:
        carried = inject_trace({})
    # Later, outside any span (an outbox relay): the carried context stays the parent.
    ack = await bus.publish(subject_of(test_stream, "relayed"), b"x", msg_id="rel-1", headers=dict(carried))
    stored = await bus.js.get_msg(test_stream.name, ack.seq)
    assert stored.headers is not None
    sent = trace.get_current_span(extract_trace(stored.headers)).get_span_context()
    assert sent.trace_id == original.get_span_context().trace_id
    producer = next(s for s in span_exporter.get_finished_spans() if s.name.startswith("publish "))
    assert producer.parent is not None
    assert producer.parent.span_id == original.get_span_context().span_id
    assert sent.span_id == producer.context.span_id  # type: ignore[union-attr]


def subject_of(stream: StreamSpec, leaf: str) -> str:
    return stream.subjects[0].replace(">", leaf)
