"""The audit service against a real Postgres and NATS: migrated databases, keys, operators, processes."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio

from mts1b_operations.audit import AuditChain
from mts1b_operations.audit.bootstrap import close_audit, open_audit, service_spec
from mts1b_operations.audit.entrypoints import chain_of
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.runtime import ServiceContext
from mts1b_operations.core.schemas import HaltRequested
from mts1b_operations.core.settings import Settings
from mts1b_operations.core.testing import ServiceProcess, migrated, open_bus, open_pool, start_service

T = TypeVar("T")

AUDIT = "mts1b_operations.audit"


def halt_fact(halt_id: str = "halt-42", **changes: Any) -> HaltRequested:
    fields: dict[str, Any] = {
        "halt_id": halt_id,
        "severity": "FUND_HALT",
        "mode": "cancel_open",
        "fund_id": "paper-momentum",
        "reason": "drawdown breach",
        "requested_by": "operator:alice",
        "requested_at": datetime.now(UTC),
    }
    return HaltRequested(**(fields | changes))


@pytest.fixture
def signing_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    return path


@pytest_asyncio.fixture
async def audit_db(database_url: str) -> str:
    return await migrated(database_url)


@pytest_asyncio.fixture
async def pool(audit_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(audit_db, max_size=4) as created:
        yield created


@pytest_asyncio.fixture
async def viewer_token(pool: asyncpg.Pool) -> str:
    _, token = await add_operator(pool, f"vera{uuid.uuid4().hex[:6]}", "viewer", created_by="test")
    return token


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="audit-service-test") as connected:
        yield connected


@pytest_asyncio.fixture
async def audit_service(
    audit_db: str, nats_url: str, signing_key_file: Path, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    process = await asyncio.to_thread(
        start_service,
        AUDIT,
        database_url=audit_db,
        nats_url=nats_url,
        log_dir=tmp_path / "logs",
        env={"MTS_AUDIT_SIGNING_KEY": str(signing_key_file), "MTS_AUDIT_EXTRA_SUBJECTS": None},
    )
    yield process
    await asyncio.to_thread(process.stop)


@pytest_asyncio.fixture
async def context(
    audit_db: str,
    nats_url: str,
    pool: asyncpg.Pool,
    bus: Bus,
    signing_key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ServiceContext]:
    monkeypatch.delenv("MTS_AUDIT_EXTRA_SUBJECTS", raising=False)
    ctx = ServiceContext(
        spec=service_spec(),
        settings=Settings(
            database_url=audit_db, nats_url=nats_url, service_name="audit", audit_signing_key=signing_key_file
        ),
        pool=pool,
        bus=bus,
        instance_id="test-instance",
    )
    await open_audit(ctx)
    yield ctx
    await close_audit(ctx)


@pytest.fixture
def chain(context: ServiceContext) -> AuditChain:
    """The chain the in-process service opened (its signer runs too)."""
    return chain_of(context)


async def append(chain: AuditChain, n: int, *, subject: str = "ord") -> None:
    for i in range(n):
        await chain.append(
            actor="mts1b-oms", action="order_rejected", subject_id=f"{subject}-{i % 2}", data={"i": i}
        )


async def tamper_with_entry(audit_db: str, sequence: int) -> None:
    """What a DBA could do: switch the append-only trigger off and change one data byte."""
    conn = await asyncpg.connect(audit_db)
    try:
        await conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
        await conn.execute(
            "UPDATE audit_entries SET canonical = convert_to(replace(convert_from(canonical, 'UTF8'), "
            "'\"i\":' || $1::text, '\"i\":9' || $1::text), 'UTF8') WHERE sequence = $1",
            sequence,
        )
    finally:
        await conn.close()
