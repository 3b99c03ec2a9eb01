"""SQL-looking and oversized inputs on every endpoint of every service: a 4xx or a clean answer,
never a 5xx, and the database is left as it was.

Each operation of each service's OpenAPI schema gets, with a valid operator token: every path
and query parameter set to each SQL-looking string in turn; a JSON body (for writes) with every
string field set to one; a 1 MB query string and a 1 MB path (431 from the HTTP server: the
request line is a header); and a 1 MB body (a 4xx: 400 or 413 where the body is judged, 404
where the path names nothing and the route looks no further). Afterwards no halt or operator was
added, no table is gone, and the audit chain gained nothing but records of refused requests.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Final
from urllib.parse import quote, urlsplit

import asyncpg
import httpx
import pytest

from .conftest import Operation, Stack, operations

SQL: Final = (
    "' OR 1=1 --",
    "; DROP TABLE halts;",
    "1; SELECT pg_sleep(10) --",
    "') UNION SELECT token_hash, name FROM operators --",
    '" OR ""="',
)
MEGABYTE: Final = 1_000_000
OVERSIZED: Final = frozenset({400, 413, 414, 431})
_TABLES: Final = ("halts", "operators", "audit_entries")


def _headers(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.tokens['operator']}"}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rpartition("/")[2]]
    return schema


def _value(schema: dict[str, Any], components: dict[str, Any], text: str) -> Any:
    """A value of the schema's shape with ``text`` in every free string (enums keep a valid member,
    so the text reaches the code behind the validation)."""
    schema = _resolve(schema, components)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, components).get("type") != "null"]
            return _value(options[0], components, text) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _value(v, components, text) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_value(schema.get("items", {}), components, text)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return text


def _body(stack: Stack, op: Operation, text: str) -> Any:
    content = op.spec.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return {}
    components = stack.schemas[op.service].get("components", {}).get("schemas", {})
    return _value(content["schema"], components, text)


def _check(op: Operation, response: httpx.Response, what: str) -> str | None:
    if response.status_code >= 500:
        return f"{op.label} {what}: {response.status_code} {response.text[:200]}"
    if op.path != "/metrics" and not response.headers.get("content-type", "").startswith("application/"):
        return f"{op.label} {what}: not JSON ({response.headers.get('content-type')})"
    return None


def _raw_status(url: str, target: str, token: str) -> int:
    """The status line's code for a request too long for an HTTP client library to send."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = sock.recv(64)
    return int(head.split(b" ", 2)[1])


async def _counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in _TABLES}
    finally:
        await conn.close()


async def _audit_actions_since(url: str, count: int) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT action FROM audit_entries ORDER BY sequence OFFSET $1", count)
    finally:
        await conn.close()
    return [row["action"] for row in rows]


@pytest.fixture
def counts_before(stack: Stack) -> dict[str, int]:
    return asyncio.run(_counts(stack.database_url))


def _sql_requests(stack: Stack, client: httpx.Client) -> list[str]:
    problems = []
    for op in operations(stack):
        base = stack.url(op.service)
        for text in SQL:
            for name in op.parameters("path"):
                body = _body(stack, op, "ok") if op.writes else None
                response = client.request(op.method, base + _path_with(op, name, text), json=body)
                problems.append(_check(op, response, f"path {name}={text!r}"))
            for name in op.parameters("query"):
                response = client.request(
                    op.method,
                    base + op.concrete_path(),
                    params={name: text},
                    json=_body(stack, op, "ok") if op.writes else None,
                )
                problems.append(_check(op, response, f"query {name}={text!r}"))
            if op.writes:
                response = client.request(op.method, base + op.concrete_path(), json=_body(stack, op, text))
                problems.append(_check(op, response, f"body with {text!r}"))
    return [p for p in problems if p is not None]


def _path_with(op: Operation, name: str, value: str) -> str:
    """The path with parameter ``name`` set to ``value`` (URL-quoted), the others to placeholders."""
    path = op.path
    for parameter in op.parameters("path"):
        single = Operation(op.service, op.method, "{" + parameter + "}", op.spec).concrete_path()
        path = path.replace("{" + parameter + "}", quote(value, safe="") if parameter == name else single)
    return path


def test_sql_looking_inputs_get_no_server_error_and_change_nothing(
    stack: Stack, counts_before: dict[str, int]
) -> None:
    with httpx.Client(headers=_headers(stack), timeout=30) as client:
        problems = _sql_requests(stack, client)
        # What an injection would show: a trail of every entry, or a halt status of every fund.
        trail = client.get(f"{stack.url('audit')}/v1/audit/trail", params={"subject_id": SQL[0]})
        status = client.get(f"{stack.url('halt')}/v1/halts/status", params={"fund_id": SQL[0]})

    assert problems == []
    assert trail.status_code == 200
    assert trail.json()["count"] == 0
    assert status.status_code in (200, 400), status.text
    if status.status_code == 200:
        assert status.json()["halted"] is False
    after = asyncio.run(_counts(stack.database_url))
    assert (after["halts"], after["operators"]) == (counts_before["halts"], counts_before["operators"])
    added = asyncio.run(_audit_actions_since(stack.database_url, counts_before["audit_entries"]))
    assert set(added) <= {"halt.refused"}, added


def test_oversized_inputs_are_refused_with_a_4xx(stack: Stack, counts_before: dict[str, int]) -> None:
    token = stack.tokens["operator"]
    big = "x" * MEGABYTE
    problems = []
    with httpx.Client(headers=_headers(stack), timeout=60) as client:
        for op in operations(stack):
            base = stack.url(op.service)
            query = op.parameters("query")
            target = f"{op.concrete_path()}?{query[0] if query else 'q'}={big}"
            status = _raw_status(base, target, token) if op.method == "GET" else None
            if status is not None and status not in OVERSIZED:
                problems.append(f"{op.label}: 1 MB query string answered {status}")
            if op.parameters("path"):
                status = _raw_status(base, op.concrete_path(big), token) if op.method == "GET" else None
                if status is not None and status not in OVERSIZED:
                    problems.append(f"{op.label}: 1 MB path answered {status}")
            if op.writes:
                body = _body(stack, op, big)
                response = client.request(op.method, base + op.concrete_path(), json=body)
                if not 400 <= response.status_code < 500:
                    problems.append(
                        f"{op.label}: 1 MB body answered {response.status_code} {response.text[:200]}"
                    )
                garbage = client.request(
                    op.method, base + op.concrete_path(), content=b"{" * MEGABYTE,
                    headers={"content-type": "application/json"},
                )  # fmt: skip
                if not 400 <= garbage.status_code < 500:
                    problems.append(f"{op.label}: 1 MB of '{{' answered {garbage.status_code}")
        header = client.get(f"{stack.url('halt')}/v1/halts", headers={"X-Padding": big})

    assert problems == [], "\n".join(problems)
    assert header.status_code == 431
    after = asyncio.run(_counts(stack.database_url))
    assert (after["halts"], after["operators"]) == (counts_before["halts"], counts_before["operators"])


def _integer_parameters(op: Operation) -> list[tuple[str, str]]:
    return [
        (p["in"], p["name"])
        for p in op.spec.get("parameters", [])
        if p.get("in") in ("path", "query") and p.get("schema", {}).get("type") == "integer"
    ]


def test_integers_beyond_any_database_column_are_a_4xx(stack: Stack) -> None:
    """A number past Postgres' bigint (or below zero) must be refused, not overflow into a 500."""
    problems = []
    with httpx.Client(headers=_headers(stack), timeout=30) as client:
        for op in operations(stack):
            for where, name in _integer_parameters(op):
                for number in (2**63, 2**64 + 1, 10**30):
                    path, params = op.concrete_path(), {name: str(number)}
                    if where == "path":
                        path, params = _path_with(op, name, str(number)), {}
                    body = _body(stack, op, "ok") if op.writes else None
                    response = client.request(
                        op.method, stack.url(op.service) + path, params=params, json=body
                    )
                    if not 400 <= response.status_code < 500:
                        problems.append(f"{op.label} {where} {name}={number}: {response.status_code}")
    assert problems == [], "\n".join(problems)
