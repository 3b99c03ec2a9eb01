"""The audit HTTP API in-process (the service's own app on a real Postgres and NATS), incl. error paths."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from mts1b_operations.audit import AuditChain, check_proof_offline
from mts1b_operations.audit.domain import InclusionProof, parse_verifier_key
from mts1b_operations.core.runtime import ServiceContext, create_app

from .conftest import append, tamper_with_entry


@pytest_asyncio.fixture
async def client(context: ServiceContext, viewer_token: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://audit.test", headers={"Authorization": f"Bearer {viewer_token}"}
    ) as http:
        yield http


def assert_bad_parameter(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["detail"].startswith(f"{field}: "), body
    assert body["extra"]["field"] == field
    assert body["extra"]["code"] == "invalid"
    return body


# ---------------------------------------------------------------- trail


async def test_the_trail_lists_a_subjects_entries_oldest_first(
    client: httpx.AsyncClient, chain: AuditChain
) -> None:
    await append(chain, 5)
    response = await client.get("/v1/audit/trail", params={"subject_id": "ord-0"})
    assert response.status_code == 200
    body = response.json()
    assert body["subject_id"] == "ord-0"
    assert body["count"] == 3
    assert [e["data"]["i"] for e in body["entries"]] == [0, 2, 4]
    first = body["entries"][0]
    assert first["sequence"] == 0
    assert json.loads(first["canonical"])["data"] == {"i": 0}


async def test_an_unknown_subject_has_an_empty_trail(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/audit/trail", params={"subject_id": "nobody"})
    assert response.json() == {"subject_id": "nobody", "count": 0, "entries": []}


async def test_the_trail_without_subject_id_is_a_400_naming_it(client: httpx.AsyncClient) -> None:
    body = assert_bad_parameter(await client.get("/v1/audit/trail"), "subject_id")
    assert body["detail"] == "subject_id: is required"
    assert_bad_parameter(await client.get("/v1/audit/trail", params={"subject_id": ""}), "subject_id")
    assert_bad_parameter(await client.get("/v1/audit/trail", params={"subject_id": "x" * 300}), "subject_id")


# ---------------------------------------------------------------- entries


async def test_entries_page_through_the_chain(client: httpx.AsyncClient, chain: AuditChain) -> None:
    await append(chain, 5)
    first = (await client.get("/v1/audit/entries", params={"limit": 2})).json()
    assert [e["sequence"] for e in first["entries"]] == [0, 1]
    assert first["next_from_sequence"] == 2
    last = (await client.get("/v1/audit/entries", params={"from_sequence": 4, "limit": 2})).json()
    assert [e["sequence"] for e in last["entries"]] == [4]
    assert last["next_from_sequence"] is None
    beyond = (await client.get("/v1/audit/entries", params={"from_sequence": 50})).json()
    assert beyond["entries"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"from_sequence": "-1"}, "from_sequence"),
        ({"from_sequence": "1.5"}, "from_sequence"),
    ],
)
async def test_bad_paging_parameters_are_a_400_naming_them(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    assert_bad_parameter(await client.get("/v1/audit/entries", params=params), field)


# ---------------------------------------------------------------- verify


async def test_an_intact_chain_verifies(client: httpx.AsyncClient, chain: AuditChain) -> None:
    await append(chain, 4)
    await chain.checkpoint()
    response = await client.get("/v1/audit/verify")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["verified"] == 4
    assert body["head_sequence"] == 3
    assert body["head_hash"] == (await chain.get_entry(3)).hash
    assert body["checkpoint_tree_size"] == 4
    partial = (await client.get("/v1/audit/verify", params={"from_sequence": 3})).json()
    assert (partial["ok"], partial["verified"]) == (True, 1)


async def test_an_empty_chain_verifies(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/audit/verify")).json()
    assert body == {
        "ok": True,
        "from_sequence": 0,
        "verified": 0,
        "head_sequence": None,
        "head_hash": None,
        "checkpoint_tree_size": None,
    }


async def test_a_tampered_chain_is_a_409_naming_the_first_bad_sequence(
    client: httpx.AsyncClient, chain: AuditChain, audit_db: str
) -> None:
    await append(chain, 5)
    await tamper_with_entry(audit_db, 2)
    response = await client.get("/v1/audit/verify")
    assert response.status_code == 409
    body = response.json()
    assert body["ok"] is False
    assert body["sequence"] == 2
    assert body["kind"] == "hash_mismatch"
    assert "2" in body["reason"] or "hash" in body["reason"]


async def test_verify_beyond_the_head_is_a_400(client: httpx.AsyncClient, chain: AuditChain) -> None:
    await append(chain, 2)
    assert_bad_parameter(await client.get("/v1/audit/verify", params={"from_sequence": 3}), "from_sequence")
    assert_bad_parameter(
        await client.get("/v1/audit/verify/stream", params={"from_sequence": 3}), "from_sequence"
    )
    assert_bad_parameter(await client.get("/v1/audit/verify", params={"from_sequence": "x"}), "from_sequence")


async def test_the_verify_stream_reports_progress_then_the_result(
    client: httpx.AsyncClient, chain: AuditChain, audit_db: str
) -> None:
    await append(chain, 3)
    response = await client.get("/v1/audit/verify/stream")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0] == {"progress": {"verified": 0, "total": 3}}
    assert lines[-2] == {"progress": {"verified": 3, "total": 3}}
    assert lines[-1]["ok"] is True
    assert lines[-1]["verified"] == 3

    await tamper_with_entry(audit_db, 1)
    broken = [json.loads(line) for line in (await client.get("/v1/audit/verify/stream")).text.splitlines()]
    assert broken[-1]["ok"] is False
    assert broken[-1]["sequence"] == 1


# ---------------------------------------------------------------- proofs and checkpoints


async def test_a_proof_checks_offline_with_the_served_key(
    client: httpx.AsyncClient, chain: AuditChain
) -> None:
    await append(chain, 7)
    response = await client.get("/v1/audit/proof/3")
    assert response.status_code == 200
    body = response.json()
    assert body["sequence"] == 3
    assert body["tree_size"] >= 4
    name, public_key = parse_verifier_key(body["verifier_key"])
    proof = InclusionProof(
        sequence=body["sequence"],
        entry_hash=body["entry_hash"],
        tree_size=body["tree_size"],
        path=tuple(body["path"]),
        checkpoint=body["checkpoint"],
        canonical=body["canonical"],
    )
    checkpoint = check_proof_offline(proof, public_key, name)
    assert checkpoint.tree_size == body["tree_size"]
    assert body["entry_hash"] == (await chain.get_entry(3)).hash


async def test_a_proof_beyond_the_head_is_a_404_and_a_bad_sequence_a_400(
    client: httpx.AsyncClient, chain: AuditChain
) -> None:
    await append(chain, 2)
    missing = await client.get("/v1/audit/proof/2")
    assert missing.status_code == 404
    assert missing.json()["extra"] == {"code": "not_found", "field": "sequence"}
    assert "no audit entry 2" in missing.json()["detail"]
    for bad in ("abc", "-1", "01"):
        assert_bad_parameter(await client.get(f"/v1/audit/proof/{bad}"), "sequence")


async def test_the_latest_checkpoint_comes_with_its_verifier_key(
    client: httpx.AsyncClient, chain: AuditChain
) -> None:
    missing = await client.get("/v1/audit/checkpoints/latest")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no checkpoint has been signed yet"
    await append(chain, 3)
    record = await chain.checkpoint()
    body = (await client.get("/v1/audit/checkpoints/latest")).json()
    assert body["tree_size"] >= record.tree_size
    assert body["verifier_key"] == chain.verifier_key
    assert body["note"].startswith("mts1b-operations/audit\n")
    assert body["sequence"] == body["tree_size"] - 1


async def test_the_openapi_schema_documents_the_audit_routes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/v1/audit/trail",
        "/v1/audit/entries",
        "/v1/audit/verify",
        "/v1/audit/verify/stream",
        "/v1/audit/proof/{sequence}",
        "/v1/audit/checkpoints/latest",
    ):
        operation = schema["paths"][path]["get"]
        assert operation["tags"] == ["audit"]
        assert operation["summary"]
        assert "401" in operation["responses"]
    assert "409" in schema["paths"]["/v1/audit/verify"]["get"]["responses"]


async def test_no_token_is_a_401(context: ServiceContext) -> None:
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://audit.test") as anonymous:
        response = await anonymous.get("/v1/audit/trail", params={"subject_id": "x"})
    assert response.status_code == 401
