"""schemathesis across every service's OpenAPI schema, with a valid operator token.

Each operation gets a bounded number of generated requests, valid (positive) and invalid
(negative), so the deeper code paths behind the guard run too. Every answer must be no 5xx,
carry a documented status code and content type, and match the documented body schema.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Stack

EXAMPLES: Final = 25
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _has_input(operation: schemathesis.APIOperation) -> bool:
    groups = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(group) for group in groups)


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    statuses: set[int],
) -> str | None:
    """Run the operation's cases; the first failure (not shrunk: the report says what was sent)."""

    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case[Any]) -> None:
        if failures:
            return  # one failure per operation and mode is enough to name it
        response = case.call(base_url=base_url, session=session)
        statuses.add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label} ({mode.value}): {exc}"[:3000])

    # Unsatisfiable: no request of this mode can be made (nothing to break in a negative one).
    with contextlib.suppress(Unsatisfiable):
        check()
    return failures[0] if failures else None


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(stack: Stack) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.tokens['operator']}"
    statuses: dict[str, set[int]] = {}
    failures: list[str] = []
    for name, service in stack.services.items():
        schema = schemathesis.openapi.from_url(f"{service.base_url}/schema/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            seen = statuses.setdefault(f"{name} {operation.label}", set())
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _has_input(operation) else [])
            for mode in modes:
                failure = _fuzz(operation, mode, service.base_url, session, seen)
                if failure is not None:
                    failures.append(f"{name}: {failure}")
    assert failures == [], "\n\n".join(failures)
    assert all(status < 500 for seen in statuses.values() for status in seen), statuses
    # The token let the fuzzing past the guards: the operator endpoints answered more than 401/403.
    assert {200, 201} & statuses["halt POST /v1/halts"]
    assert 200 in statuses["audit GET /v1/audit/trail"]
