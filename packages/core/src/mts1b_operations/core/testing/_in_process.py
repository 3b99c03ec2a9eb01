"""``running_service``: a service run in the test's event loop, reached over httpx's ASGI transport.

The steps of ``run_service`` (start-up hooks, outbox relay, consumers, the Litestar app, then the
drain in reverse: clients, consumers, relay, shutdown hooks) without granian, the heartbeat or the
restart listener. The app shares the test's event loop, so the test's own pool and bus can be
handed to it (core/tests/runtime/test_app.py says why not Litestar's test client).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import httpx
from litestar import Litestar

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.outbox import OutboxRelay
from mts1b_operations.core.runtime import Consumer, ServiceContext, ServiceSpec, create_app
from mts1b_operations.core.settings import Settings

from ._connections import open_bus, open_pool

__all__ = ["RunningService", "running_service"]

C = TypeVar("C")


@dataclass
class RunningService:
    """A started service: its context, app, client, started consumers (in start order) and relay."""

    context: ServiceContext
    app: Litestar
    http: httpx.AsyncClient
    consumers: list[Consumer]
    relay: OutboxRelay | None
    base_url: str
    _clients: list[httpx.AsyncClient] = field(default_factory=list, repr=False)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.context.pool

    @property
    def bus(self) -> Bus:
        return self.context.bus

    def consumer(self, kind: type[C]) -> C:
        """The first started consumer that is a ``kind``."""
        for consumer in self.consumers:
            if isinstance(consumer, kind):
                return consumer
        started = ", ".join(type(c).__name__ for c in self.consumers) or "none"
        raise LookupError(f"kind: no started consumer is a {kind.__name__} (started: {started})")

    def client(
        self, *, address: tuple[str, int] | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.AsyncClient:
        """Another client of the app, seen as coming from ``address`` (host, port); closed on exit."""
        options = {} if address is None else {"client": address}
        transport = httpx.ASGITransport(app=self.app, **options)  # type: ignore[arg-type]
        client = httpx.AsyncClient(transport=transport, base_url=self.base_url, headers=headers)
        self._clients.append(client)
        return client

    async def _close_clients(self) -> None:
        for client in self._clients:
            await client.aclose()


async def _start_consumers(context: ServiceContext, stack: AsyncExitStack) -> list[Consumer]:
    started: list[Consumer] = []
    for factory in context.spec.consumers:
        consumer = factory(context)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        started.append(consumer)
    return started


async def _run_shutdown_hooks(context: ServiceContext) -> None:
    for hook in reversed(context.spec.on_shutdown):
        await hook(context)


@asynccontextmanager
async def running_service(
    spec: ServiceSpec,
    *,
    database_url: str,
    nats_url: str,
    pool: asyncpg.Pool | None = None,
    bus: Bus | None = None,
    bus_name: str | None = None,
    instance_id: str | None = None,
    outbox_relay: bool = True,
    relay_poll_interval: float = 1.0,
    base_url: str | None = None,
    **settings: Any,
) -> AsyncIterator[RunningService]:
    """Run ``spec`` as its process would, on ``database_url`` (migrated already) and ``nats_url``.

    ``pool`` / ``bus``: the test's own, shared with the service and left open; without them the
    service opens its own (the bus as ``bus_name``, with the streams in place) and closes them.
    ``outbox_relay=False`` skips the relay (a service with no outbox); ``relay_poll_interval``
    defaults to the relay's own. ``settings``: further :class:`Settings` fields (``funds_file=``).
    Consumers start in the spec's order and stop in reverse; the ``on_shutdown`` hooks run even
    when a start-up hook failed, as in ``run_service``. ``http`` is a client of the app at
    ``base_url`` (``http://<name>.test``).
    """
    async with AsyncExitStack() as stack:
        if pool is None:
            pool = await stack.enter_async_context(open_pool(database_url))
        if bus is None:
            name = bus_name or f"{spec.title}-under-test"
            bus = await stack.enter_async_context(open_bus(nats_url, name=name))
        context = ServiceContext(
            spec=spec,
            settings=Settings(
                database_url=database_url, nats_url=nats_url, service_name=spec.name, **settings
            ),
            pool=pool,
            bus=bus,
            instance_id=instance_id or str(uuid.uuid4()),
        )
        stack.push_async_callback(_run_shutdown_hooks, context)
        for hook in spec.on_startup:
            await hook(context)
        relay: OutboxRelay | None = None
        if outbox_relay:
            relay = OutboxRelay(pool, bus, source=spec.name, poll_interval=relay_poll_interval)
            await relay.start()
            stack.push_async_callback(relay.stop)
            context.relay = relay
        consumers = await _start_consumers(context, stack)
        app = create_app(context)
        url = base_url or f"http://{spec.name}.test"
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=url)  # type: ignore[arg-type]
        )
        running = RunningService(
            context=context, app=app, http=http, consumers=consumers, relay=relay, base_url=url
        )
        stack.push_async_callback(running._close_clients)
        yield running
