"""The exact bytes of every answer of the audit API, and the OpenAPI components that describe them.

The SDK decodes these answers into the same core Structs (``core.schemas.audit_api``); a change
to a field's name, order, type or encoding shows up here byte for byte, and a change to what the
schema documents shows up in the components. What the chain generates (times, hashes, the
checkpoint's root, key id and signature) is a ``<kind__name>`` placeholder that must match the
pattern of its kind, and the same placeholder the same value wherever it recurs, inside
``canonical`` and the signed note too; every other byte is pinned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from mts1b_operations.audit import AuditChain
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.runtime import ServiceContext, create_app
from mts1b_operations.core.testing import (
    HEALTH_COMPONENTS,
    SCHEMA_BOOL,
    SCHEMA_DATE_TIME,
    SCHEMA_INT,
    SCHEMA_STRING,
    eventually,
    match_template,
    schema_list_of,
    schema_null_or,
    schema_object,
    schema_ref,
)

from .conftest import append, tamper_with_entry

pytestmark = pytest.mark.timeout(120)

PATTERNS: dict[str, str] = {
    "hex": r"[0-9a-f]{64}",
    "at": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z",
    "us": r"\d{16}",
    "b64": r"[A-Za-z0-9+/]+={0,2}",
    "keyid": r"[0-9a-f]{8}",
}


def pinned(body: bytes, template: bytes, known: dict[str, str]) -> dict[str, str]:
    return match_template(body, template, patterns=PATTERNS, known=known)


GENESIS = "0" * 64


def prev(seq: int) -> str:
    return GENESIS if seq == 0 else f"<hex__h{seq - 1}>"


def canonical(seq: int) -> str:
    return (
        f'{{\\"action\\":\\"order_rejected\\",\\"actor\\":\\"mts1b-oms\\",\\"data\\":{{\\"i\\":{seq}}},'
        f'\\"prev\\":\\"{prev(seq)}\\",\\"seq\\":{seq},\\"subject\\":\\"ord-{seq % 2}\\",'
        f'\\"ts\\":<us__{seq}>,\\"v\\":1}}'
    )


def entry(seq: int) -> bytes:
    return (
        f'{{"sequence":{seq},"timestamp":"<at__{seq}>","timestamp_us":<us__{seq}>,"actor":"mts1b-oms",'
        f'"action":"order_rejected","subject_id":"ord-{seq % 2}","data":{{"i":{seq}}},'
        f'"prev_hash":"{prev(seq)}","hash":"<hex__h{seq}>","canonical":"{canonical(seq)}"}}'
    ).encode()


NOTE = (
    "mts1b-operations/audit\\n3\\n<b64__root>\\nchain-head <hex__h2>\\n\\n"
    "\u2014 mts1b-operations/audit <b64__signature>\\n"
).encode()
VERIFIER_KEY = b"mts1b-operations/audit+<keyid__key>+<b64__key>"
INTACT = (
    b'{"ok":true,"from_sequence":0,"verified":3,"head_sequence":2,"head_hash":"<hex__h2>",'
    b'"checkpoint_tree_size":3}'
)
BROKEN = (
    b'{"ok":false,"from_sequence":0,"sequence":1,"reason":"hash mismatch: the stored hash <hex__h1_16>... '
    b"is not the SHA-256 of the stored canonical bytes (<hex__tampered_16>...); the entry's content was "
    b'changed","kind":"hash_mismatch"}'
)
PATTERNS["hex__tampered_16"] = r"[0-9a-f]{16}"


@pytest_asyncio.fixture
async def http(context: ServiceContext, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    _, token = await add_operator(pool, "olga", "operator", created_by="test")
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://audit.test", headers=headers
    ) as client:
        yield client


async def test_every_answer_byte_for_byte(http: httpx.AsyncClient, chain: AuditChain, audit_db: str) -> None:
    await append(chain, 3)
    v = pinned(
        (await http.get("/v1/audit/entries", params={"from_sequence": 0, "limit": 2})).content,
        b'{"from_sequence":0,"limit":2,"count":2,"entries":[' + entry(0) + b"," + entry(1)
        + b'],"next_from_sequence":2}',
        {},
    )  # fmt: skip
    v = pinned(
        (await http.get("/v1/audit/entries", params={"from_sequence": 2, "limit": 5})).content,
        b'{"from_sequence":2,"limit":5,"count":1,"entries":[' + entry(2) + b'],"next_from_sequence":null}',
        v,
    )
    v = pinned(
        (await http.get("/v1/audit/trail", params={"subject_id": "ord-0"})).content,
        b'{"subject_id":"ord-0","count":2,"entries":[' + entry(0) + b"," + entry(2) + b"]}",
        v,
    )

    async def signed() -> httpx.Response | None:
        answer = await http.get("/v1/audit/checkpoints/latest")
        return answer if answer.status_code == 200 and answer.json()["tree_size"] == 3 else None

    v = pinned(
        (await eventually(signed, what="a checkpoint of the 3 entries")).content,
        b'{"tree_size":3,"sequence":2,"head_hash":"<hex__h2>","merkle_root":"<hex__root>","note":"' + NOTE
        + b'","key_id":"<keyid__key>","signed_at":"<at__signed>","verifier_key":"' + VERIFIER_KEY + b'"}',
        v,
    )  # fmt: skip
    v = pinned((await http.get("/v1/audit/verify")).content, INTACT, v)
    stream = await http.get("/v1/audit/verify/stream")
    assert stream.headers["content-type"] == "application/x-ndjson"
    v = pinned(
        stream.content,
        b'{"progress":{"verified":0,"total":3}}\n{"progress":{"verified":3,"total":3}}\n' + INTACT + b"\n",
        v,
    )
    v = pinned(
        (await http.get("/v1/audit/proof/1")).content,
        b'{"sequence":1,"entry_hash":"<hex__h1>","tree_size":3,"path":["<hex__h0_leaf>","<hex__h2_leaf>"],'
        b'"checkpoint":"' + NOTE + b'","canonical":"' + canonical(1).encode() + b'","verifier_key":"'
        + VERIFIER_KEY + b'"}',
        v,
    )  # fmt: skip

    drill = {"drill_id": "drill-1", "report_sha256": "ab" * 32, "funds": ["paper-momentum"]}
    recorded = (
        b'{"drill_id":"drill-1","report_sha256":"' + b"ab" * 32 + b'","recorded_by":"operator:olga",'
        b'"sequence":3,"entry_hash":"<hex__h3>","created":<created>}'
    )
    first = await http.post("/v1/audit/drill-reports", json=drill)
    assert first.status_code == 201
    v = pinned(first.content, recorded.replace(b"<created>", b"true"), v)
    again = await http.post("/v1/audit/drill-reports", json=drill)
    assert again.status_code == 200
    v = pinned(again.content, recorded.replace(b"<created>", b"false"), v)

    await tamper_with_entry(audit_db, 1)
    broken = await http.get("/v1/audit/verify")
    assert broken.status_code == 409
    v = pinned(broken.content, BROKEN.replace(b"<hex__h1_16>", v["hex__h1"][:16].encode()), v)
    streamed = await http.get("/v1/audit/verify/stream")
    pinned(
        streamed.content,
        b'{"progress":{"verified":0,"total":4}}\n'
        + BROKEN.replace(b"<hex__h1_16>", v["hex__h1"][:16].encode())
        + b"\n",
        v,
    )


# ---------------------------------------------------------------------- OpenAPI components


def _without_examples(schema: Any) -> Any:
    """Litestar makes up examples for a ResponseSpec's model (random values): not part of the pin."""
    if isinstance(schema, dict):
        return {k: _without_examples(v) for k, v in schema.items() if k != "examples"}
    if isinstance(schema, list):
        return [_without_examples(v) for v in schema]
    return schema


_HEX = {"description": "lowercase hex SHA-256", "pattern": "^[0-9a-f]{64}$", "type": "string"}
_ENTRIES = schema_list_of(schema_ref("EntryView"))

ANSWER_COMPONENTS: dict[str, dict[str, Any]] = {
    "EntryView": schema_object(
        "EntryView",
        {
            "action": SCHEMA_STRING,
            "actor": SCHEMA_STRING,
            "canonical": {"description": "the exact hashed bytes: RFC 8785 JSON, UTF-8", "type": "string"},
            "data": {"additionalProperties": {}, "type": "object"},
            "hash": _HEX,
            "prev_hash": _HEX,
            "sequence": SCHEMA_INT,
            "subject_id": SCHEMA_STRING,
            "timestamp": SCHEMA_DATE_TIME,
            "timestamp_us": {"description": "microseconds since the Unix epoch (hashed)", "type": "integer"},
        },
        [
            "action",
            "actor",
            "canonical",
            "data",
            "hash",
            "prev_hash",
            "sequence",
            "subject_id",
            "timestamp",
            "timestamp_us",
        ],
    ),
    "TrailView": schema_object(
        "TrailView",
        {"count": SCHEMA_INT, "entries": _ENTRIES, "subject_id": SCHEMA_STRING},
        ["count", "entries", "subject_id"],
    ),
    "EntriesPage": schema_object(
        "EntriesPage",
        {
            "count": SCHEMA_INT,
            "entries": _ENTRIES,
            "from_sequence": SCHEMA_INT,
            "limit": SCHEMA_INT,
            "next_from_sequence": schema_null_or(SCHEMA_INT),
        },
        ["count", "entries", "from_sequence", "limit", "next_from_sequence"],
    ),
    "VerifyIntact": schema_object(
        "VerifyIntact",
        {
            "checkpoint_tree_size": schema_null_or(SCHEMA_INT),
            "from_sequence": SCHEMA_INT,
            "head_hash": schema_null_or(SCHEMA_STRING),
            "head_sequence": schema_null_or(SCHEMA_INT),
            "ok": {"const": True, "default": True, "type": "boolean"},
            "verified": SCHEMA_INT,
        },
        ["checkpoint_tree_size", "from_sequence", "head_hash", "head_sequence", "verified"],
    ),
    "VerifyBroken": schema_object(
        "VerifyBroken",
        {
            "from_sequence": SCHEMA_INT,
            "kind": schema_null_or(SCHEMA_STRING),
            "ok": {"const": False, "default": False, "type": "boolean"},
            "reason": SCHEMA_STRING,
            "sequence": SCHEMA_INT,
        },
        ["from_sequence", "kind", "reason", "sequence"],
    ),
    "ProofView": schema_object(
        "ProofView",
        {
            "canonical": schema_null_or(SCHEMA_STRING),
            "checkpoint": SCHEMA_STRING,
            "entry_hash": _HEX,
            "path": schema_list_of(SCHEMA_STRING),
            "sequence": SCHEMA_INT,
            "tree_size": SCHEMA_INT,
            "verifier_key": SCHEMA_STRING,
        },
        ["canonical", "checkpoint", "entry_hash", "path", "sequence", "tree_size", "verifier_key"],
    ),
    "CheckpointView": schema_object(
        "CheckpointView",
        {
            "head_hash": _HEX,
            "key_id": SCHEMA_STRING,
            "merkle_root": _HEX,
            "note": SCHEMA_STRING,
            "sequence": SCHEMA_INT,
            "signed_at": SCHEMA_DATE_TIME,
            "tree_size": SCHEMA_INT,
            "verifier_key": SCHEMA_STRING,
        },
        ["head_hash", "key_id", "merkle_root", "note", "sequence", "signed_at", "tree_size", "verifier_key"],
    ),
    "DrillReportRecorded": schema_object(
        "DrillReportRecorded",
        {
            "created": SCHEMA_BOOL,
            "drill_id": SCHEMA_STRING,
            "entry_hash": SCHEMA_STRING,
            "recorded_by": SCHEMA_STRING,
            "report_sha256": SCHEMA_STRING,
            "sequence": SCHEMA_INT,
        },
        ["created", "drill_id", "entry_hash", "recorded_by", "report_sha256", "sequence"],
    ),
    **HEALTH_COMPONENTS,
}
BODY_COMPONENTS: dict[str, dict[str, Any]] = {
    "DrillReportBody": schema_object(
        "DrillReportBody",
        {
            "drill_id": {
                "description": "The drill's id: 1-64 letters, digits, _ and -",
                "pattern": "^[A-Za-z0-9_\\-]{1,64}$",
                "type": "string",
            },
            "funds": {"items": SCHEMA_STRING, "maxItems": 1000, "type": "array"},
            "report_name": {"default": "report.json", "maxLength": 255, "minLength": 1, "type": "string"},
            "report_sha256": _HEX,
        },
        ["drill_id", "report_sha256"],
    ),
}
ANSWERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("get", "/v1/audit/trail", "200"): schema_ref("TrailView"),
    ("get", "/v1/audit/entries", "200"): schema_ref("EntriesPage"),
    ("get", "/v1/audit/verify", "200"): {"oneOf": [schema_ref("VerifyIntact"), schema_ref("VerifyBroken")]},
    ("get", "/v1/audit/verify", "409"): schema_ref("VerifyBroken"),
    ("get", "/v1/audit/proof/{sequence}", "200"): schema_ref("ProofView"),
    ("get", "/v1/audit/checkpoints/latest", "200"): schema_ref("CheckpointView"),
    ("post", "/v1/audit/drill-reports", "200"): schema_ref("DrillReportRecorded"),
    ("post", "/v1/audit/drill-reports", "201"): schema_ref("DrillReportRecorded"),
    ("get", "/v1/healthz", "200"): schema_ref("Liveness"),
    ("get", "/v1/readyz", "200"): schema_ref("Readiness"),
}


async def test_openapi_components_describe_the_answers(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert set(components) == {*ANSWER_COMPONENTS, *BODY_COMPONENTS, "ErrorBody"}
    for name, expected in {**ANSWER_COMPONENTS, **BODY_COMPONENTS}.items():
        assert _without_examples(components[name]) == expected, name
    for (method, path, status), expected in ANSWERS.items():
        answer = schema["paths"][path][method]["responses"][status]
        assert answer["content"]["application/json"]["schema"] == expected, (method, path, status)
    stream = schema["paths"]["/v1/audit/verify/stream"]["get"]["responses"]["200"]
    assert stream["content"] == {"application/x-ndjson": {"schema": {}}}
