"""``requires_role`` on a real Litestar app built by core.runtime, against a real Postgres.

Served in-process through httpx's ASGITransport (see tests/runtime/test_app.py for why not
Litestar's AsyncTestClient).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Request, get, post

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import EmbeddedPostgres
from mts1b_operations.core.operators import Operator, add_operator, revoke_operator
from mts1b_operations.core.runtime import (
    AUTH_RESPONSES,
    ServiceContext,
    ServiceSpec,
    create_app,
    current_operator,
    requires_role,
)
from mts1b_operations.core.settings import Settings
from mts1b_operations.core.testing import eventually


@get("/v1/board", guards=[requires_role("viewer")], responses=AUTH_RESPONSES)
async def board(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"seen_by": current_operator(request).actor}


@post("/v1/act", guards=[requires_role("operator")], status_code=200)
async def act(request: Request[Any, Any, Any]) -> dict[str, str]:
    operator = request.state.operator
    assert isinstance(operator, Operator)
    return {"actor": operator.actor, "role": operator.role}


@post("/v1/admin", guards=[requires_role("admin")], status_code=200)
async def admin_only(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"actor": current_operator(request).actor}


@post("/v1/quick", guards=[requires_role("operator", timeout=0.5)], status_code=200)
async def quick(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"actor": current_operator(request).actor}


@get("/v1/open")
async def unguarded(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"actor": current_operator(request).actor}  # a wiring bug: no guard


SPEC = ServiceSpec(
    name="auth-test",
    import_name="mts1b_operations.auth_test",
    default_port=8998,
    version="0.0.1",
    route_handlers=[board, act, admin_only, quick, unguarded],
)


@pytest_asyncio.fixture
async def context(pool: asyncpg.Pool, database_url: str, nats_url: str) -> AsyncIterator[ServiceContext]:
    bus = await connect_bus(nats_url, name="auth-test", connect_deadline=10)
    ctx = ServiceContext(
        spec=SPEC,
        settings=Settings(database_url=database_url, nats_url=nats_url, service_name=SPEC.name),
        pool=pool,
        bus=bus,
        instance_id=str(uuid.uuid4()),
    )
    yield ctx
    await bus.close()


@pytest_asyncio.fixture
async def client(context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == 401
    assert body["extra"] == {"code": code}
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="mts1b-operations"')
    if code == "token_missing":
        assert "error=" not in challenge
    else:
        assert 'error="invalid_token"' in challenge


async def test_no_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/act")
    assert_401(response, "token_missing")
    assert "no bearer token" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer not-an-mts-token", "mts_abc", "Token mts_" + "a" * 43],
)
async def test_malformed_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    assert_401(await client.post("/v1/act", headers={"Authorization": header}), "token_malformed")


async def test_forged_token_is_401(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    _, token = await add_operator(pool, "alice", "admin", created_by="test")
    forged = "mts_" + ("B" if token[4] == "A" else "A") + token[5:]
    assert_401(await client.post("/v1/act", headers=bearer(forged)), "token_unknown")


async def test_revoked_token_is_401_on_the_next_request(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    _, token = await add_operator(pool, "bob", "operator", created_by="test")
    assert (await client.post("/v1/act", headers=bearer(token))).status_code == 200
    await revoke_operator(pool, "bob")
    response = await client.post("/v1/act", headers=bearer(token))
    assert_401(response, "token_revoked")
    assert "'bob' was revoked" in response.json()["detail"]


async def test_expired_token_is_401(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    _, token = await add_operator(
        pool, "carol", "operator", created_by="test", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    assert (await client.post("/v1/act", headers=bearer(token))).status_code == 200
    await pool.execute(
        "UPDATE operators SET created_at = now() - interval '2 hours', "
        "expires_at = now() - interval '1 second' WHERE name = 'carol'"
    )
    assert_401(await client.post("/v1/act", headers=bearer(token)), "token_expired")


async def test_viewer_on_an_operator_route_is_403_naming_the_role(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    _, token = await add_operator(pool, "vic", "viewer", created_by="test")
    response = await client.post("/v1/act", headers=bearer(token))
    assert response.status_code == 403
    body = response.json()
    assert "needs role 'operator'" in body["detail"]
    assert "'vic' has role 'viewer'" in body["detail"]
    assert body["extra"] == {"code": "insufficient_role", "required_role": "operator", "role": "viewer"}
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    # The same viewer may read.
    seen = await client.get("/v1/board", headers=bearer(token))
    assert seen.status_code == 200
    assert seen.json() == {"seen_by": "operator:vic"}


async def test_operator_passes_and_is_on_request_state(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    _, token = await add_operator(pool, "olga", "operator", created_by="test")
    response = await client.post("/v1/act", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"actor": "operator:olga", "role": "operator"}
    # The scheme is case-insensitive (RFC 7235).
    assert (await client.post("/v1/act", headers={"Authorization": f"bearer {token}"})).status_code == 200
    refused = await client.post("/v1/admin", headers=bearer(token))
    assert refused.status_code == 403
    assert "needs role 'admin'" in refused.json()["detail"]


async def test_admin_passes_every_route(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    _, token = await add_operator(pool, "ada", "admin", created_by="test")
    for method, path in [("GET", "/v1/board"), ("POST", "/v1/act"), ("POST", "/v1/admin")]:
        response = await client.request(method, path, headers=bearer(token))
        assert response.status_code == 200, (path, response.text)


async def test_current_operator_without_a_guard_is_a_500_not_a_pass(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    _, token = await add_operator(pool, "dan", "admin", created_by="test")
    response = await client.get("/v1/open", headers=bearer(token))
    assert response.status_code == 500


async def test_postgres_down_is_503_then_the_guard_recovers(
    context: ServiceContext, restartable_postgres: EmbeddedPostgres
) -> None:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade_all, dsn, [])
    own = await create_pool(dsn, min_size=1, max_size=2, connect_deadline=10)
    _, token = await add_operator(own, "pat", "operator", created_by="test")
    original, context.pool = context.pool, own
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t.local") as http:
            assert (await http.post("/v1/act", headers=bearer(token))).status_code == 200
            restartable_postgres.stop()
            response = await http.post("/v1/act", headers=bearer(token))
            assert response.status_code == 503, response.text
            assert response.json()["extra"] == {"code": "auth_unavailable"}
            restartable_postgres.start()

            async def admitted() -> bool:
                return (await http.post("/v1/act", headers=bearer(token))).status_code == 200

            await eventually(admitted, within=30, what="the guard to admit the operator again")
    finally:
        context.pool = original
        own.terminate()


async def test_a_lookup_that_cannot_get_a_connection_is_503_within_the_timeout(
    context: ServiceContext, database_url: str, pool: asyncpg.Pool
) -> None:
    _, token = await add_operator(pool, "quin", "operator", created_by="test")
    small = await create_pool(database_url, min_size=1, max_size=1)
    original, context.pool = context.pool, small
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    try:
        async with small.acquire(), httpx.AsyncClient(transport=transport, base_url="http://t.local") as http:
            started = time.monotonic()
            response = await http.post("/v1/quick", headers=bearer(token))
            elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["extra"] == {"code": "auth_unavailable"}
        assert 0.5 <= elapsed < 10.0  # bounded by the guard's timeout, with room for a loaded machine
    finally:
        context.pool = original
        await small.close()


async def test_openapi_documents_the_auth_responses(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    responses = schema["paths"]["/v1/board"]["get"]["responses"]
    assert {"401", "403", "503"} <= set(responses)


def test_bad_guard_arguments_fail_when_the_guard_is_built() -> None:
    with pytest.raises(ValueError, match=r"^role: must be one of viewer, operator, admin"):
        requires_role("superuser")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^timeout: must be a positive"):
        requires_role("viewer", timeout=0)
