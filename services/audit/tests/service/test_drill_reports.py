"""POST /v1/audit/drill-reports in-process: an operator puts a drill report's hash into the chain."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest_asyncio

from mts1b_operations.audit import AuditChain
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.runtime import ServiceContext, create_app

REPORT_HASH = hashlib.sha256(b'{"funds": []}').hexdigest()


@pytest_asyncio.fixture
async def http(context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://audit.test") as client:
        yield client


async def _token(pool: asyncpg.Pool, role: str) -> tuple[str, str]:
    name = f"{role[:3]}{uuid.uuid4().hex[:6]}"
    _, token = await add_operator(pool, name, role, created_by="test")  # type: ignore[arg-type]
    return name, token


async def test_an_operator_records_a_drill_report_once_and_a_retry_returns_the_same_entry(
    http: httpx.AsyncClient, chain: AuditChain, pool: asyncpg.Pool
) -> None:
    name, token = await _token(pool, "operator")
    body = {"drill_id": "drill-1", "report_sha256": REPORT_HASH, "funds": ["paper-momentum"]}
    auth = {"Authorization": f"Bearer {token}"}

    first = await http.post("/v1/audit/drill-reports", json=body, headers=auth)
    again = await http.post("/v1/audit/drill-reports", json=body, headers=auth)

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    recorded = first.json()
    assert recorded["created"] is True
    assert again.json()["created"] is False
    assert again.json()["sequence"] == recorded["sequence"]
    (entry,) = await chain.get_trail("drill-1")
    assert (entry.actor, entry.action, entry.sequence) == (
        f"operator:{name}",
        "drill.report",
        recorded["sequence"],
    )
    assert entry.data["report_sha256"] == REPORT_HASH
    assert entry.data["funds"] == ["paper-momentum"]
    assert entry.hash == recorded["entry_hash"]


async def test_the_same_drill_with_another_hash_is_a_conflict_and_adds_nothing(
    http: httpx.AsyncClient, chain: AuditChain, pool: asyncpg.Pool
) -> None:
    _, token = await _token(pool, "operator")
    auth = {"Authorization": f"Bearer {token}"}
    body = {"drill_id": "drill-2", "report_sha256": REPORT_HASH}
    assert (await http.post("/v1/audit/drill-reports", json=body, headers=auth)).status_code == 201

    other = await http.post("/v1/audit/drill-reports", json={**body, "report_sha256": "0" * 64}, headers=auth)

    assert other.status_code == 409, other.text
    assert other.json()["extra"] == {"code": "conflict", "field": "drill_id"}
    assert len(await chain.get_trail("drill-2")) == 1


async def test_a_viewer_may_not_record_and_bad_fields_are_named(
    http: httpx.AsyncClient, chain: AuditChain, pool: asyncpg.Pool
) -> None:
    _, viewer = await _token(pool, "viewer")
    _, operator = await _token(pool, "operator")
    body = {"drill_id": "drill-3", "report_sha256": REPORT_HASH}

    refused = await http.post(
        "/v1/audit/drill-reports", json=body, headers={"Authorization": f"Bearer {viewer}"}
    )
    bad = await http.post(
        "/v1/audit/drill-reports",
        json={**body, "report_sha256": "not-a-hash"},
        headers={"Authorization": f"Bearer {operator}"},
    )

    assert refused.status_code == 403, refused.text
    assert bad.status_code == 400, bad.text
    assert "report_sha256" in bad.text
    assert await chain.get_trail("drill-3") == []


async def test_a_trail_of_a_subject_id_with_a_nul_is_a_400_not_a_500(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Found by tests/security: Postgres text cannot hold NUL, and the query used to fail with 500."""
    _, viewer = await _token(pool, "viewer")
    response = await http.get(
        "/v1/audit/trail", params={"subject_id": "ord\x00-1"}, headers={"Authorization": f"Bearer {viewer}"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["extra"] == {"code": "invalid", "field": "subject_id"}


async def test_a_from_sequence_beyond_any_sequence_is_a_400_not_a_500(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Found by tests/security: a number over Postgres' bigint used to fail the query with 500."""
    _, viewer = await _token(pool, "viewer")
    auth = {"Authorization": f"Bearer {viewer}"}
    for path in ("/v1/audit/entries", "/v1/audit/verify"):
        response = await http.get(path, params={"from_sequence": str(2**67)}, headers=auth)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["extra"]["field"] == "from_sequence"
