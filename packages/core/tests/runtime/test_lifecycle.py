"""The lifecycle in the test's own loop, with a real DurableConsumer: the drain order."""

from __future__ import annotations

import asyncio
import socket
import uuid

import asyncpg

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import ConsumerSpec, Delivery, DurableConsumer, connect_bus
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import free_port, wait_until
from mts1b_operations.core.runtime import Consumer, ServiceContext, ServiceSpec
from mts1b_operations.core.runtime._lifecycle import _Lifecycle
from mts1b_operations.core.settings import Settings


class Recorder:
    """What the service under test did, in order, plus the gates the test opens."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.handling = asyncio.Event()
        self.release = asyncio.Event()


def _spec(recorder: Recorder) -> ServiceSpec:
    async def startup(ctx: ServiceContext) -> None:
        await ctx.pool.execute("CREATE TABLE handled (subject text NOT NULL)")
        recorder.events.append("startup-hook")

    async def shutdown(ctx: ServiceContext) -> None:
        # Runs after the consumers drained and before the pool closes.
        count = await ctx.pool.fetchval("SELECT count(*) FROM handled")
        recorder.events.append(f"shutdown-hook:{count}")

    def consumer(ctx: ServiceContext) -> Consumer:
        async def handle(delivery: Delivery) -> None:
            recorder.events.append("handling")
            recorder.handling.set()
            await recorder.release.wait()
            await ctx.pool.execute("INSERT INTO handled VALUES ($1)", delivery.subject)
            recorder.events.append("handled")

        spec = ConsumerSpec(
            stream="OPERATIONS",
            durable="runtime-test",
            filter_subjects=(subjects.halt_requested(),),
            fetch_timeout=1.0,
        )
        return DurableConsumer(ctx.bus, spec, handle)

    return ServiceSpec(
        name="runtime-test",
        import_name="mts1b_operations.runtime_test",
        default_port=8999,
        migrations=("core",),
        on_startup=[startup],
        on_shutdown=[shutdown],
        consumers=[consumer],
        heartbeat_interval=0.5,
    )


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_drain_lets_in_flight_work_finish_before_postgres_closes(
    database_url: str, nats_url: str
) -> None:
    await asyncio.to_thread(upgrade_all, database_url, [])
    recorder = Recorder()
    port = free_port()
    settings = Settings(
        database_url=database_url, nats_url=nats_url, service_name="runtime-test", http_port=port
    )
    lifecycle = _Lifecycle(_spec(recorder), settings)
    running = asyncio.create_task(lifecycle.run())
    bus = await connect_bus(nats_url, name="runtime-test-publisher", connect_deadline=10)
    try:

        def ready() -> bool:
            assert not running.done(), running
            return lifecycle.context is not None and lifecycle.context.ready

        await asyncio.to_thread(wait_until, ready, timeout=15, what="service")
        await bus.publish(subjects.halt_requested(), b"{}", msg_id=str(uuid.uuid4()))
        await asyncio.wait_for(recorder.handling.wait(), 15)

        assert lifecycle.context is not None
        lifecycle.context.request_stop("test")

        # HTTP goes first, while the consumer still holds its message.
        await asyncio.to_thread(wait_until, lambda: _refused(port), timeout=15, what="HTTP closed")
        assert "handled" not in recorder.events
        recorder.release.set()

        assert await asyncio.wait_for(running, 30) == 0
    finally:
        recorder.release.set()
        if not running.done():
            lifecycle.request_stop("test cleanup")
            await asyncio.wait_for(running, 30)
        await bus.close()

    assert recorder.events == ["startup-hook", "handling", "handled", "shutdown-hook:1"]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM handled") == 1
    finally:
        await conn.close()
