"""The five services as processes on one database, and operators of every kind of token.

Started once for the package (``scope="package"``): every test here only reads the services'
schemas and sends requests that a real operator could send. The tokens: ``operator``,
``second`` (operators), ``viewer``, ``admin``, and three that must be refused: ``expired``,
``revoked`` and the token of an operator whose name was never registered (forged ones are
made by the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import nats
import pytest
from nats.js.errors import NotFoundError

from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.operators import add_operator, revoke_operator
from mts1b_operations.core.testing import ServiceProcess, SharedNats, SharedPostgres, start_service

SERVICES = {
    "halt": "mts1b_operations.halt",
    "audit": "mts1b_operations.audit",
    "watchdogs": "mts1b_operations.watchdogs",
    "compliance": "mts1b_operations.compliance",
    "marketdata-api": "mts1b_operations.marketdata",
}
PUBLIC_SERVICES = frozenset({"marketdata-api"})
"""Public read-only: no operator endpoint at all."""

FUNDS_YAML = """\
funds:
  - fund_id: paper-momentum
    mode: paper
    strategies: [mom-us-eq]
  - fund_id: live-equities
    mode: live
    strategies: [stat-arb-1]
"""


@dataclass(frozen=True)
class Stack:
    database_url: str
    services: dict[str, ServiceProcess]
    tokens: dict[str, str]
    schemas: dict[str, dict[str, Any]]

    def url(self, service: str) -> str:
        return self.services[service].base_url


async def _create_database(admin_url: str) -> str:
    name = f"mts_security_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


async def _drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        name = urlsplit(url).path.lstrip("/")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _clean_jetstream(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(info.config.name or "")
    finally:
        await nc.close()


async def _operators(url: str) -> dict[str, str]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    assert pool is not None
    tokens: dict[str, str] = {}
    try:
        for name, role in (
            ("operator", "operator"),
            ("second", "operator"),
            ("viewer", "viewer"),
            ("admin", "admin"),
            ("expired", "operator"),
            ("revoked", "operator"),
        ):
            _, tokens[name] = await add_operator(pool, name, role, created_by="security-test")  # type: ignore[arg-type]
        await revoke_operator(pool, "revoked")
        # Expired an hour ago (registered two hours ago): what a token looks like past its date.
        await pool.execute(
            "UPDATE operators SET created_at = now() - interval '2 hours', "
            "expires_at = now() - interval '1 hour' WHERE name = 'expired'"
        )
    finally:
        await pool.close()
    return tokens


@pytest.fixture(scope="package")
def stack(
    shared_postgres: SharedPostgres, shared_nats: SharedNats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("security")
    database_url = asyncio.run(_create_database(shared_postgres.url))
    asyncio.run(_clean_jetstream(shared_nats.url))
    upgrade_all(database_url)
    tokens = asyncio.run(_operators(database_url))
    funds = base / "funds.yaml"
    funds.write_text(FUNDS_YAML)
    key = base / "audit.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    policy = base / "halt-policy.yaml"
    policy.write_text("oms:\n  expected_responders: []\n  ack_timeout: 0.5\n")
    env: dict[str, str | None] = {
        "MTS_FUNDS_FILE": str(funds),
        "MTS_AUDIT_SIGNING_KEY": str(key),
        "MTS_HALT_POLICY_FILE": str(policy),
        "MTS_RATE_LIMIT": "second:100000",
        "MTS_AUDIT_EXTRA_SUBJECTS": None,
        "MTS_COMPLIANCE_OUTPUT_DIR": str(base / "compliance-files"),
    }
    services: dict[str, ServiceProcess] = {}
    try:
        for name, module in SERVICES.items():
            services[name] = start_service(
                module,
                database_url=database_url,
                nats_url=shared_nats.url,
                log_dir=base / name,
                env=env,
                ready_timeout=120,
            )
        schemas = {
            name: httpx.get(f"{service.base_url}/schema/openapi.json", timeout=10).json()
            for name, service in services.items()
        }
        yield Stack(database_url, services, tokens, schemas)
    finally:
        for service in services.values():
            service.stop()
        asyncio.run(_drop_database(shared_postgres.url, database_url))


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def protected(self) -> bool:
        """Documented as needing a token: its responses include 401 (``AUTH_RESPONSES``)."""
        return "401" in self.spec.get("responses", {})

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    def parameters(self, where: str) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p.get("in") == where]

    def concrete_path(self, value: str | None = None) -> str:
        """The path with every parameter set to ``value``, or to something of its type that names
        nothing (a route typed ``{id:int}`` is only matched by an integer)."""
        path = self.path
        for parameter in self.spec.get("parameters", []):
            if parameter.get("in") == "path":
                path = path.replace("{" + parameter["name"] + "}", value or _nothing(parameter))
        return path


def _nothing(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    kind = schema.get("type")
    if kind == "integer":
        return "987654321"
    if schema.get("format") == "uuid":
        return str(uuid.UUID(int=0))
    return "no-such-thing"


_METHODS = ("get", "post", "put", "patch", "delete")


def operations(stack: Stack) -> list[Operation]:
    """Every operation of every service's OpenAPI schema (so a new endpoint is covered at once)."""
    found = []
    for service, schema in stack.schemas.items():
        for path, item in schema.get("paths", {}).items():
            for method in _METHODS:
                if method in item:
                    found.append(Operation(service, method.upper(), path, item[method]))
    return found
