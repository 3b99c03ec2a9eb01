"""Every operator endpoint of every service refuses a missing, expired, revoked or forged token.

The endpoints are read from each service's OpenAPI schema: an operation that documents a 401
is an operator endpoint, so a new one is covered without touching this file. Every refusal
is a 401 with a JSON error naming why (``extra.code``) and a ``WWW-Authenticate: Bearer``
challenge, never a 500. Roles: a viewer may read but not change anything (403), and the
admin-only routes (none today; :data:`ADMIN_ONLY`) refuse operators.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

import httpx
import pytest

from .conftest import PUBLIC_SERVICES, Operation, Stack, operations

UNGUARDED: Final = frozenset({"/v1/healthz", "/v1/readyz", "/metrics"})
"""Probes that must answer without a token (orchestrators call them)."""

ADMIN_ONLY: Final[frozenset[str]] = frozenset()
"""Labels (``service METHOD path``) of routes only an admin may call. A route found admin-only
but not listed here fails the role test, so the list stays the truth."""


def _forged_random(_: dict[str, str]) -> str:
    return secrets.token_urlsafe(24)


def _forged_prefix(tokens: dict[str, str]) -> str:
    # A real operator's visible prefix (mts_ and 8 characters) with another secret: well formed, unknown.
    real = tokens["operator"]
    forged = real[:12] + secrets.token_urlsafe(32)[: len(real) - 12]
    assert forged != real
    return forged


BAD_TOKENS: Final[dict[str, tuple[Callable[[dict[str, str]], str | None], str]]] = {
    "none": (lambda _: None, "token_missing"),
    "expired": (lambda t: t["expired"], "token_expired"),
    "revoked": (lambda t: t["revoked"], "token_revoked"),
    "forged-random": (_forged_random, "token_malformed"),
    "forged-prefix": (_forged_prefix, "token_unknown"),
}


def _call(stack: Stack, op: Operation, token: str | None, *, scheme: str = "Bearer") -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"{scheme} {token}"}
    body = {} if op.writes else None
    return httpx.request(
        op.method, stack.url(op.service) + op.concrete_path(), headers=headers, json=body, timeout=15
    )


def _protected(stack: Stack) -> list[Operation]:
    return [op for op in operations(stack) if op.protected]


def test_every_endpoint_is_either_a_probe_public_data_or_guarded(stack: Stack) -> None:
    ops = operations(stack)
    assert {op.service for op in ops} == set(stack.services)
    unguarded = [
        op.label
        for op in ops
        if not op.protected and op.path not in UNGUARDED and op.service not in PUBLIC_SERVICES
    ]
    assert unguarded == []
    public = [op for op in ops if op.service in PUBLIC_SERVICES]
    assert public, "the public read-only service has operations"
    assert [op.label for op in public if op.writes or op.protected] == []
    assert len(_protected(stack)) >= 20


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_operator_endpoints_refuse_a_bad_token_with_401_json(stack: Stack, kind: str) -> None:
    make, code = BAD_TOKENS[kind]
    token = make(stack.tokens)
    wrong = []
    for op in _protected(stack):
        response = _call(stack, op, token)
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else None
        )
        if (
            response.status_code != 401
            or body is None
            or body.get("extra", {}).get("code") != code
            or not response.headers.get("www-authenticate", "").startswith("Bearer")
        ):
            wrong.append((op.label, response.status_code, response.text[:200]))
    assert wrong == []


def test_a_token_with_another_scheme_is_refused(stack: Stack) -> None:
    wrong = [
        (op.label, response.status_code)
        for op in _protected(stack)
        if (response := _call(stack, op, stack.tokens["operator"], scheme="Basic")).status_code != 401
    ]
    assert wrong == []


def _refused_role(stack: Stack, op: Operation, who: str) -> bool:
    response = _call(stack, op, stack.tokens[who])
    assert response.status_code < 500, (op.label, who, response.text)
    return response.status_code == 403 and response.json().get("extra", {}).get("code") == "insufficient_role"


def test_a_viewer_reads_but_changes_nothing_and_only_admins_pass_admin_routes(stack: Stack) -> None:
    """Requests carry an empty body and a path value that names nothing, so a request that passes
    the guard is refused by validation (400/404/409) rather than acting."""
    problems = []
    for op in _protected(stack):
        viewer_refused = _refused_role(stack, op, "viewer")
        operator_refused = _refused_role(stack, op, "operator")
        admin_refused = _refused_role(stack, op, "admin")
        if admin_refused:
            problems.append(f"{op.label}: refuses an admin")
        if op.writes and not viewer_refused:
            problems.append(f"{op.label}: a viewer was not refused (403) a write")
        if not op.writes and viewer_refused:
            problems.append(f"{op.label}: a viewer may not read")
        if operator_refused != (op.label in ADMIN_ONLY):
            state = "refuses" if operator_refused else "admits"
            problems.append(f"{op.label}: {state} an operator; ADMIN_ONLY says otherwise")
    assert problems == []


def test_a_viewer_cannot_halt_and_nothing_is_halted(stack: Stack) -> None:
    url = stack.url("halt")
    body = {"severity": "FIRM_HALT", "reason": "viewer tries", "mode": "block_new"}
    response = httpx.post(
        f"{url}/v1/halts",
        json=body,
        headers={"Authorization": f"Bearer {stack.tokens['viewer']}"},
        timeout=15,
    )
    active = httpx.get(
        f"{url}/v1/halts", headers={"Authorization": f"Bearer {stack.tokens['viewer']}"}, timeout=15
    )

    assert response.status_code == 403, response.text
    assert response.json()["extra"] == {
        "code": "insufficient_role",
        "required_role": "operator",
        "role": "viewer",
    }
    assert active.status_code == 200
    assert [h for h in active.json()["halts"] if h["reason"] == "viewer tries"] == []
