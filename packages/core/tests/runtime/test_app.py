"""The Litestar app in-process against a real Postgres and NATS.

httpx's ASGITransport rather than Litestar's AsyncTestClient: the latter runs the app in a
portal thread with a loop of its own, where the test's asyncpg pool and NATS connection
(bound to the test's loop) cannot be used.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import EmbeddedNats, free_port
from mts1b_operations.core.outbox import OutboxRelay, enqueue
from mts1b_operations.core.runtime import HttpServer, HttpServerError, ServiceContext, ServiceSpec, create_app
from mts1b_operations.core.runtime._heartbeat import HeartbeatPublisher
from mts1b_operations.core.schemas import ServiceHeartbeat, decode, encode
from mts1b_operations.core.settings import Settings


class Order(msgspec.Struct):
    qty: int


@get("/v1/boom")
async def boom() -> None:
    raise RuntimeError("kaboom: a bug in a handler")


@post("/v1/orders")
async def place(data: JSONBody[Order]) -> Order:
    return data


@get("/v1/whoami")
async def whoami(context: NamedDependency[ServiceContext]) -> dict[str, str]:
    return {"service": context.name, "instance_id": context.instance_id}


SPEC = ServiceSpec(
    name="runtime-test",
    import_name="mts1b_operations.runtime_test",
    default_port=8999,
    version="1.2.3",
    description="A service made up for the runtime tests.",
    route_handlers=[boom, place, whoami],
)


async def _context(database_url: str, nats_url: str) -> ServiceContext:
    pool = await create_pool(database_url, connect_deadline=10)
    bus = await connect_bus(nats_url, name="runtime-test", connect_deadline=10)
    return ServiceContext(
        spec=SPEC,
        settings=Settings(database_url=database_url, nats_url=nats_url, service_name=SPEC.name),
        pool=pool,
        bus=bus,
        instance_id=str(uuid.uuid4()),
    )


@asynccontextmanager
async def app_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client


@pytest_asyncio.fixture
async def context(database_url: str, nats_url: str) -> AsyncIterator[ServiceContext]:
    ctx = await _context(database_url, nats_url)
    yield ctx
    await ctx.bus.close()
    await ctx.pool.close()


async def test_healthz_names_the_service_and_instance(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.get("/v1/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "runtime-test", "instance_id": context.instance_id}


async def test_readyz_is_ready_when_postgres_and_nats_answer(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.get("/v1/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"postgres": "ok", "nats": "ok"}}


async def test_readyz_names_nats_when_it_is_down(database_url: str, restartable_nats: EmbeddedNats) -> None:
    ctx = await _context(database_url, restartable_nats.url)
    try:
        async with app_client(create_app(ctx)) as client:
            restartable_nats.stop()
            response = await client.get("/v1/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["postgres"] == "ok"
            assert body["checks"]["nats"].startswith("down: ")
            # Liveness does not depend on NATS.
            assert (await client.get("/v1/healthz")).status_code == 200
    finally:
        await ctx.bus.close()
        await ctx.pool.close()


async def test_readyz_does_not_hang_when_nats_is_frozen(
    database_url: str, restartable_nats: EmbeddedNats
) -> None:
    ctx = await _context(database_url, restartable_nats.url)
    try:
        async with app_client(create_app(ctx)) as client:
            restartable_nats.pause()
            body: dict[str, object] = {}
            give_up = time.monotonic() + 10
            while time.monotonic() < give_up:  # SIGSTOP lands asynchronously: early answers may be "ok"
                started = time.monotonic()
                response = await client.get("/v1/readyz")
                elapsed = time.monotonic() - started
                body = response.json()
                if response.status_code == 503:
                    break
            assert body == {
                "status": "unavailable",
                "checks": {"postgres": "ok", "nats": "down: no answer within 1s"},
            }
            assert elapsed < 5.0  # the 1 s bound, plus the Postgres check on a loaded machine
    finally:
        restartable_nats.resume()
        await ctx.bus.close()
        await ctx.pool.close()


async def test_readyz_names_postgres_when_it_does_not_answer_in_time(
    database_url: str, nats_url: str
) -> None:
    ctx = await _context(database_url, nats_url)
    original, small = ctx.pool, await create_pool(database_url, min_size=1, max_size=1)
    ctx.pool = small
    try:
        async with small.acquire(), app_client(create_app(ctx)) as client:
            # The only connection is taken: SELECT 1 cannot run, and readyz must not hang.
            response = await client.get("/v1/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"postgres": "down: no answer within 1s", "nats": "ok"}
    finally:
        await small.close()
        await original.close()
        await ctx.bus.close()


async def test_route_handlers_get_the_context_injected(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.get("/v1/whoami")
    assert response.json() == {"service": "runtime-test", "instance_id": context.instance_id}


async def test_unknown_path_is_a_json_404(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.get("/no/such/path", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status_code": 404, "detail": "Not Found"}


async def test_a_failing_handler_is_a_json_500_without_the_internals(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.get("/v1/boom", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status_code": 500, "detail": "Internal Server Error"}
    assert "kaboom" not in response.text


async def test_bad_input_is_a_json_400_naming_the_field(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.post("/v1/orders", json={"qty": "many"})
    assert response.status_code == 400
    body = response.json()
    assert body["status_code"] == 400
    assert "qty" in str(body)


async def test_openapi_carries_the_service_metadata_and_routes(context: ServiceContext) -> None:
    async with app_client(create_app(context)) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "mts1b-runtime-test"
    assert schema["info"]["version"] == "1.2.3"
    assert schema["info"]["description"] == "A service made up for the runtime tests."
    assert {"/v1/healthz", "/v1/readyz", "/v1/orders"} <= set(schema["paths"])
    assert "503" in schema["paths"]["/v1/readyz"]["get"]["responses"]
    assert "/metrics" not in schema["paths"]


def _sample(text: str, name: str, label: str = "service") -> float:
    match = re.search(rf'^{name}\{{{label}="runtime-test"\}} (\S+)$', text, re.MULTILINE)
    assert match, f"{name} missing from /metrics:\n{text}"
    return float(match.group(1))


async def test_metrics_show_requests_uptime_and_outbox_backlog(
    context: ServiceContext, database_url: str
) -> None:
    await asyncio.to_thread(upgrade_all, database_url, [])
    async with context.pool.acquire() as conn, conn.transaction():
        for n in range(3):
            await enqueue(
                conn,
                source="runtime-test",
                subject="mts.v1.operations.service.heartbeat.runtime-test",
                payload=b"{}",
                event_id=f"evt-{n}",
            )
    # Not started: nothing drains the backlog while we look at it.
    context.relay = OutboxRelay(context.pool, context.bus, source="runtime-test")
    async with app_client(create_app(context)) as client:
        await client.get("/v1/healthz")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "mts_outbox_backlog_events", "source") == 3.0
    assert _sample(text, "mts_outbox_oldest_event_age_seconds", "source") > 0.0
    assert _sample(text, "mts_service_uptime_seconds") > 0.0
    assert re.search(r'^mts_http_requests_total\{.*path="/v1/healthz".*\} [1-9]', text, re.MULTILINE), text
    assert f'instance_id="{context.instance_id}"' in text


async def test_two_apps_in_one_process_do_not_collide(context: ServiceContext) -> None:
    first, second = create_app(context), create_app(context)
    async with app_client(first) as a, app_client(second) as b:
        assert (await a.get("/metrics")).status_code == 200
        assert (await b.get("/metrics")).status_code == 200


async def test_http_server_refuses_a_taken_port_with_a_clear_error(context: ServiceContext) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(create_app(context), host="127.0.0.1", port=port)
        with pytest.raises(HttpServerError, match=rf"127\.0\.0\.1:{port}.*(in use|Address)"):
            await server.start()


async def test_http_server_serves_and_stops(context: ServiceContext) -> None:
    port = free_port()
    server = HttpServer(create_app(context), host="127.0.0.1", port=port)
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/v1/healthz")
        assert response.status_code == 200
    finally:
        await server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/v1/healthz")


def test_service_spec_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="name"):
        ServiceSpec(name="bad.name", import_name="mts1b_operations.x", default_port=8000)
    with pytest.raises(ValueError, match="default_port"):
        ServiceSpec(name="x", import_name="mts1b_operations.x", default_port=0)
    with pytest.raises(ValueError, match="migrations"):
        ServiceSpec(name="x", import_name="mts1b_operations.x", default_port=8000, migrations=())
    with pytest.raises(ValueError, match="heartbeat_interval"):
        ServiceSpec(name="x", import_name="mts1b_operations.x", default_port=8000, heartbeat_interval=0)


async def test_heartbeat_message_fits_the_schema(context: ServiceContext) -> None:
    message = HeartbeatPublisher(context, interval=2.0).message(ready=True)
    again = decode(encode(message), ServiceHeartbeat)
    assert again.instance_id == context.instance_id
    assert again.service == "runtime-test"
    assert again.version == "1.2.3"
    assert again.http_url == "http://127.0.0.1:8000"


async def test_http_requests_are_traced_and_probes_are_not(context: ServiceContext) -> None:
    from mts1b_operations.core.telemetry import install_in_memory_tracing

    exporter = install_in_memory_tracing("runtime-test")
    async with app_client(create_app(context)) as client:
        assert (await client.get("/v1/healthz")).status_code == 200
        assert (await client.get("/v1/whoami")).status_code == 200
    names = [span.name for span in exporter.get_finished_spans()]
    assert any("/v1/whoami" in name for name in names), names
    assert not any("healthz" in name for name in names), names
