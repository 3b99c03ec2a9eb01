"""Durable consumers on a real NATS: ack after the handler, redelivery, termination, tracing, outages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from mts1b_operations.core import schemas
from mts1b_operations.core.bus import (
    Bus,
    ConsumerConfigError,
    ConsumerSpec,
    Delivery,
    DurableConsumer,
    PoisonMessageError,
    StreamSpec,
    TransientError,
    connect_bus,
)
from mts1b_operations.core.embedded import EmbeddedNats

Eventually = Callable[..., Awaitable[None]]  # the conftest fixture

Handler = Callable[[Delivery], Awaitable[None]]
StartConsumer = Callable[..., Awaitable[DurableConsumer]]


class Recorder:
    """Collects every call of a handler and the deliveries it completed."""

    def __init__(self) -> None:
        self.calls: list[Delivery] = []
        self.done: asyncio.Queue[Delivery] = asyncio.Queue()

    def count(self, data: bytes) -> int:
        return sum(1 for call in self.calls if call.data == data)

    async def next_done(self, within: float = 10.0) -> Delivery:
        return await asyncio.wait_for(self.done.get(), within)


@pytest_asyncio.fixture
async def start_consumer(bus: Bus, test_stream: StreamSpec) -> AsyncIterator[StartConsumer]:
    await bus.ensure_streams([test_stream])
    started: list[DurableConsumer] = []

    async def start(handler: Handler, *, on: Bus = bus, **spec: object) -> DurableConsumer:
        spec.setdefault("durable", f"d_{uuid.uuid4().hex[:8]}")
        spec.setdefault("nak_delays", (0.05,))
        spec.setdefault("fetch_timeout", 1.0)
        consumer = DurableConsumer(on, ConsumerSpec(stream=test_stream.name, **spec), handler)  # type: ignore[arg-type]
        await consumer.start()
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        await consumer.stop()


def subject_of(stream: StreamSpec, leaf: str) -> str:
    return stream.subjects[0].replace(">", leaf)


def metric(name: str, durable: str) -> float:
    return REGISTRY.get_sample_value(f"mts_bus_messages_{name}_total", {"durable": durable}) or 0.0


async def settled(consumer: DurableConsumer, eventually: Eventually, last_seq: int) -> None:
    """Wait until the server holds nothing un-acked for ``consumer`` up to ``last_seq``."""

    async def check() -> bool:
        info = await consumer.info()
        return (
            info.num_ack_pending == 0 and info.ack_floor is not None and info.ack_floor.stream_seq == last_seq
        )

    await eventually(check, what=f"consumer {consumer.spec.durable} to settle at seq {last_seq}")


async def test_handler_gets_a_typed_delivery_then_the_message_is_acked(
    bus: Bus,
    test_stream: StreamSpec,
    start_consumer: StartConsumer,
    eventually: Eventually,
) -> None:
    got = Recorder()

    async def handler(delivery: Delivery) -> None:
        got.calls.append(delivery)
        await got.done.put(delivery)

    consumer = await start_consumer(handler)
    subject = subject_of(test_stream, "typed")
    ack = await bus.publish(subject, b'{"x":1}', msg_id="t-1", headers={"X-Test": "yes"})
    delivery = await got.next_done()
    assert delivery.subject == subject
    assert delivery.data == b'{"x":1}'
    assert delivery.msg_id == "t-1"
    assert delivery.headers["X-Test"] == "yes"
    assert delivery.num_delivered == 1
    assert delivery.stream_sequence == ack.seq
    assert delivery.stream == test_stream.name
    assert abs(delivery.timestamp - datetime.now(UTC)) < timedelta(minutes=1)
    await settled(consumer, eventually, ack.seq)
    assert metric("processed", consumer.spec.durable) == 1


async def test_failed_handler_is_redelivered_and_processed_once(
    bus: Bus,
    test_stream: StreamSpec,
    start_consumer: StartConsumer,
    eventually: Eventually,
) -> None:
    got = Recorder()

    async def handler(delivery: Delivery) -> None:
        got.calls.append(delivery)
        if delivery.num_delivered == 1:
            raise RuntimeError("database hiccup")
        await got.done.put(delivery)

    consumer = await start_consumer(handler)
    ack = await bus.publish(subject_of(test_stream, "retry"), b"r", msg_id="r-1")
    delivery = await got.next_done()
    assert delivery.num_delivered == 2
    await settled(consumer, eventually, ack.seq)
    info = await consumer.info()
    assert info.num_redelivered == 0
    assert [call.num_delivered for call in got.calls] == [1, 2]
    assert metric("failed", consumer.spec.durable) == 1
    assert metric("processed", consumer.spec.durable) == 1


async def test_transient_error_is_retried_after_the_nak_delay(
    bus: Bus, test_stream: StreamSpec, start_consumer: StartConsumer
) -> None:
    got = Recorder()
    failed_at: list[float] = []

    async def handler(delivery: Delivery) -> None:
        got.calls.append(delivery)
        if delivery.num_delivered == 1:
            failed_at.append(time.monotonic())
            raise TransientError("dependency down")
        await got.done.put(delivery)

    await start_consumer(handler, nak_delays=(0.5,))
    await bus.publish(subject_of(test_stream, "transient"), b"t", msg_id="tr-1")
    delivery = await got.next_done()
    assert delivery.num_delivered == 2
    assert time.monotonic() - failed_at[0] >= 0.45, "redelivered before the nak delay"


async def test_terminated_after_max_deliveries_and_the_next_message_still_flows(
    bus: Bus,
    test_stream: StreamSpec,
    start_consumer: StartConsumer,
    eventually: Eventually,
) -> None:
    got = Recorder()

    async def handler(delivery: Delivery) -> None:
        got.calls.append(delivery)
        if delivery.data == b"bad":
            raise RuntimeError("always fails")
        await got.done.put(delivery)

    consumer = await start_consumer(handler, max_deliver=3)
    bad = await bus.publish(subject_of(test_stream, "max"), b"bad", msg_id="bad-1")
    await settled(consumer, eventually, bad.seq)
    assert got.count(b"bad") == 3
    good = await bus.publish(subject_of(test_stream, "max"), b"good", msg_id="good-1")
    delivery = await got.next_done()
    assert delivery.data == b"good"
    await settled(consumer, eventually, good.seq)
    info = await consumer.info()
    assert info.num_ack_pending == 0
    assert info.num_redelivered == 0
    assert got.count(b"bad") == 3, "terminated message was delivered again"
    assert [call.num_delivered for call in got.calls if call.data == b"bad"] == [1, 2, 3]
    assert metric("terminated", consumer.spec.durable) == 1
    assert metric("failed", consumer.spec.durable) == 3


class Order(msgspec.Struct, frozen=True):
    order_id: str


async def _raise_poison(_: Delivery) -> None:
    raise PoisonMessageError("cannot ever handle this")


async def _decode_order(delivery: Delivery) -> None:
    msgspec.json.decode(delivery.data, type=Order)


async def _decode_heartbeat(delivery: Delivery) -> None:
    schemas.decode(delivery.data, schemas.ServiceHeartbeat)


@pytest.mark.parametrize("failure", [_raise_poison, _decode_order, _decode_heartbeat])
async def test_poison_is_terminated_on_first_delivery(
    bus: Bus,
    test_stream: StreamSpec,
    start_consumer: StartConsumer,
    eventually: Eventually,
    failure: Handler,
) -> None:
    got = Recorder()

    async def handler(delivery: Delivery) -> None:
        got.calls.append(delivery)
        if delivery.data != b"sentinel":
            await failure(delivery)
        await got.done.put(delivery)

    consumer = await start_consumer(handler, max_deliver=5)
    await bus.publish(subject_of(test_stream, "poison"), b'{"not": "valid"}', msg_id="p-1")
    sentinel = await bus.publish(subject_of(test_stream, "poison"), b"sentinel", msg_id="p-2")
    assert (await got.next_done()).data == b"sentinel"
    await settled(consumer, eventually, sentinel.seq)
    assert [call.data for call in got.calls] == [b'{"not": "valid"}', b"sentinel"]
    assert metric("terminated", consumer.spec.durable) == 1


async def test_filter_subjects_limit_what_is_delivered(
    bus: Bus, test_stream: StreamSpec, start_consumer: StartConsumer
) -> None:
    got = Recorder()

    async def handler(delivery: Delivery) -> None:
        await got.done.put(delivery)

    await start_consumer(handler, filter_subjects=(subject_of(test_stream, "wanted.*"),))
    await bus.publish(subject_of(test_stream, "other"), b"no", msg_id="f-1")
    await bus.publish(subject_of(test_stream, "wanted.a"), b"yes", msg_id="f-2")
    assert (await got.next_done()).data == b"yes"


async def test_trace_context_crosses_the_nats_hop(
    bus: Bus,
    test_stream: StreamSpec,
    start_consumer: StartConsumer,
    eventually: Eventually,
    span_exporter: InMemorySpanExporter,
) -> None:
    exporter = span_exporter
    seen: asyncio.Queue[trace.SpanContext] = asyncio.Queue()

    async def handler(_: Delivery) -> None:
        await seen.put(trace.get_current_span().get_span_context())

    await start_consumer(handler)
    subject = subject_of(test_stream, "traced")
    with trace.get_tracer("test").start_as_current_span("place order") as outer:
        await bus.publish(subject, b"x", msg_id="trace-1")
    in_handler = await asyncio.wait_for(seen.get(), 10)

    async def consumer_span_finished() -> bool:
        return any(span.name == f"process {subject}" for span in exporter.get_finished_spans())

    await eventually(consumer_span_finished, what="the consumer span")
    spans = {span.name: span for span in exporter.get_finished_spans()}
    producer, consumer = spans[f"publish {subject}"], spans[f"process {subject}"]
    trace_id = outer.get_span_context().trace_id
    assert producer.kind == SpanKind.PRODUCER
    assert consumer.kind == SpanKind.CONSUMER
    assert producer.context is not None
    assert consumer.context is not None
    assert producer.context.trace_id == consumer.context.trace_id == trace_id
    assert producer.parent is not None
    assert producer.parent.span_id == outer.get_span_context().span_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.parent.is_remote
    assert in_handler.span_id == consumer.context.span_id


async def test_consumer_resumes_after_a_nats_restart(
    restartable_nats: EmbeddedNats,
    test_stream: StreamSpec,
    eventually: Eventually,
) -> None:
    bus = await connect_bus(restartable_nats.url, name="resume-test", connect_deadline=10)
    got = Recorder()

    async def handler(delivery: Delivery) -> None:
        got.calls.append(delivery)
        await got.done.put(delivery)

    consumer = DurableConsumer(
        bus, ConsumerSpec(stream=test_stream.name, durable="resumer", fetch_timeout=1.0), handler
    )
    try:
        await bus.ensure_streams([test_stream])
        await consumer.start()
        before = await bus.publish(subject_of(test_stream, "before"), b"before", msg_id="b-1")
        assert (await got.next_done()).data == b"before"
        # The handler has returned, but its ack may still be unsent: lost with the server, the
        # message would come again after the restart.
        await settled(consumer, eventually, before.seq)

        await asyncio.to_thread(restartable_nats.stop)

        async def down() -> bool:
            return not bus.is_connected

        await eventually(down, within=15, what="the client to see the server gone")
        await asyncio.to_thread(restartable_nats.start)
        await bus.publish(subject_of(test_stream, "after"), b"after", msg_id="a-1", deadline=60)
        assert (await got.next_done(within=30)).data == b"after"
        assert consumer.running
        assert Counter(call.data for call in got.calls) == {b"before": 1, b"after": 1}
    finally:
        await consumer.stop()
        await bus.close()


async def test_stop_waits_for_the_message_in_flight(
    bus: Bus,
    test_stream: StreamSpec,
    start_consumer: StartConsumer,
    eventually: Eventually,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        entered.set()
        await release.wait()
        finished.append(delivery.data)

    consumer = await start_consumer(handler)
    ack = await bus.publish(subject_of(test_stream, "slow"), b"slow", msg_id="s-1")
    await asyncio.wait_for(entered.wait(), 10)
    stopping = asyncio.create_task(consumer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=0.3)
    assert not done, "stop() returned while the handler was still running"
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished == [b"slow"]
    assert not consumer.running
    await settled(consumer, eventually, ack.seq)


async def test_stop_is_prompt_while_waiting_for_messages(start_consumer: StartConsumer) -> None:
    async def handler(_: Delivery) -> None:
        raise AssertionError("no message was published")

    consumer = await start_consumer(handler, fetch_timeout=60.0)
    started = time.monotonic()
    await asyncio.wait_for(consumer.stop(), 30)
    # Far below the fetch timeout, with room for a loaded machine: stop did not wait the fetch out.
    assert time.monotonic() - started < 15
    assert not consumer.running
    await consumer.stop()  # idempotent


async def test_restarting_with_a_changed_spec_updates_the_consumer(bus: Bus, test_stream: StreamSpec) -> None:
    await bus.ensure_streams([test_stream])

    async def handler(_: Delivery) -> None:
        return None

    first = DurableConsumer(
        bus, ConsumerSpec(stream=test_stream.name, durable="evolving", max_deliver=5), handler
    )
    await first.start()
    await first.stop()
    second = DurableConsumer(
        bus, ConsumerSpec(stream=test_stream.name, durable="evolving", max_deliver=7, ack_wait=12), handler
    )
    await second.start()
    try:
        info = await second.info()
        assert info.config.max_deliver == 7
        assert info.config.ack_wait == 12
        assert len(await bus.js.consumers_info(test_stream.name)) == 1
        with pytest.raises(RuntimeError, match="already started"):
            await second.start()
    finally:
        await second.stop()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stream": "a.b"}, "stream"),
        ({"durable": ""}, "durable"),
        ({"filter_subjects": "x.y"}, "filter_subjects"),
        ({"max_deliver": 0}, "max_deliver"),
        ({"ack_wait": 0}, "ack_wait"),
        ({"nak_delays": (1.0, -1.0)}, "nak_delays"),
        ({"batch": 0}, "batch"),
        ({"fetch_timeout": 0}, "fetch_timeout"),
        ({"max_ack_pending": 10, "batch": 64}, "max_ack_pending"),
    ],
)
def test_bad_consumer_spec_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        ConsumerSpec(**{"stream": "S", "durable": "d", **change})  # type: ignore[arg-type]


def test_nak_delay_follows_the_sequence_then_repeats_the_last() -> None:
    spec = ConsumerSpec(stream="S", durable="d", nak_delays=(1.0, 5.0, 15.0))
    assert [spec.nak_delay(n) for n in (1, 2, 3, 4, 9)] == [1.0, 5.0, 15.0, 15.0, 15.0]
    assert ConsumerSpec(stream="S", durable="d", nak_delays=()).nak_delay(3) == 0.0


async def test_a_slow_handler_keeps_its_message_from_other_instances(
    bus: Bus, nats_url: str, test_stream: StreamSpec, start_consumer: StartConsumer, eventually: Eventually
) -> None:
    entered, release, duplicate = asyncio.Event(), asyncio.Event(), asyncio.Event()
    calls: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        calls.append(delivery)
        if len(calls) > 1:
            duplicate.set()
            return
        entered.set()
        await release.wait()

    other_bus = await connect_bus(nats_url, name="second-instance")
    try:
        # In-progress acks go every ack_wait / 2: an ack_wait of 2 s lets the event loop of a
        # loaded machine stall for a second without the server redelivering the message.
        first = await start_consumer(handler, durable="shared", ack_wait=2.0)
        second = await start_consumer(handler, on=other_bus, durable="shared", ack_wait=2.0)
        ack = await bus.publish(subject_of(test_stream, "slow"), b"slow", msg_id="k-1")
        await asyncio.wait_for(entered.wait(), 10)
        # Two and a half ack_waits: without in-progress acks the server would have handed the
        # message to the idle second instance by now.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(duplicate.wait(), 5.0)
        release.set()
        await settled(first, eventually, ack.seq)
        assert len(calls) == 1
        await second.stop()
    finally:
        release.set()
        await other_bus.close()


async def test_starting_on_a_missing_stream_is_a_clear_error(bus: Bus) -> None:
    async def handler(_: Delivery) -> None:
        return None

    consumer = DurableConsumer(bus, ConsumerSpec(stream="NO_SUCH_STREAM", durable="d"), handler)
    with pytest.raises(
        ConsumerConfigError, match="consumer d on stream NO_SUCH_STREAM: the stream does not exist"
    ):
        await consumer.start()
    assert not consumer.running
