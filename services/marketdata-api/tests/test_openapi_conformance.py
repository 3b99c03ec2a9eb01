"""schemathesis against the service's own OpenAPI schema, served by a running service process.

Every operation is fuzzed with valid (positive) and invalid (negative) requests, a bounded number
of examples each, with schemathesis' checks: no server error, status codes, content types,
headers and bodies as the schema documents them, valid data accepted and invalid data refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mts1b_operations.core.testing import ServiceProcess, start_service

from .conftest import DAY0, Feed, bar, quote, wait_for

pytestmark = pytest.mark.timeout(300)

EXAMPLES = 40


@pytest_asyncio.fixture
async def running(
    md_db: str, nats_url: str, tmp_path: Path, feed: Feed, funds_file: Path
) -> AsyncIterator[ServiceProcess]:
    environment: dict[str, str | None] = {
        "MTS_FUNDS_FILE": str(funds_file),
        "MTS_RATE_LIMIT": "second:100000",
    }
    service = await asyncio.to_thread(
        start_service,
        "mts1b_operations.marketdata",
        database_url=md_db,
        nats_url=nats_url,
        log_dir=tmp_path,
        env=environment,
    )
    # Something to find, so positive cases also reach the 200 paths.
    await feed.quote(quote("AAPL"))
    for day in range(3):
        await feed.bar(bar("AAPL", "1d", DAY0 + timedelta(days=day)))
    await feed.bar(bar("AAPL", "1m", DAY0))

    async def seeded() -> bool:
        answer = await asyncio.to_thread(service.get, "/v1/bars/AAPL?interval=1d&start=2024-01-01T00:00:00Z")
        return answer.status == 200 and len(answer.json()) == 3

    await wait_for(seeded, what="the seeded bars")
    yield service
    await asyncio.to_thread(service.stop)


def excused(operation: schemathesis.APIOperation) -> list[schemathesis.CheckFunction]:
    """Checks an operation cannot pass by design.

    The bars range rules span parameters or bound a date-time (end after start; 1970 to 2100),
    which JSON Schema cannot state: a schema-valid range may rightly be refused with the
    documented 400, so "valid data accepted" does not apply to bars. Everything else does.
    """
    return [positive_data_acceptance] if operation.path == "/v1/bars/{symbol}" else []


def has_parameters(operation: schemathesis.APIOperation) -> bool:
    return any(len(group) for group in (operation.path_parameters, operation.headers, operation.query))


def test_the_api_conforms_to_its_own_schema(running: ServiceProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{running.base_url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = sorted(op.label for op in operations)
    assert labels == [
        "GET /v1/bars/{symbol}",
        "GET /v1/funds",
        "GET /v1/halts",
        "GET /v1/healthz",
        "GET /v1/quotes/{symbol}",
        "GET /v1/readyz",
    ]
    session = requests.Session()
    statuses: dict[str, set[int]] = {}
    # Negative cases need a parameter to break: operations without any get positive ones only.
    runs = [(op, GenerationMode.POSITIVE, None) for op in operations]
    runs += [(op, GenerationMode.NEGATIVE, None) for op in operations if has_parameters(op)]
    # And the symbol that has data, so the 200 answers are fuzzed too (parameters, ETag, ...).
    runs += [(op, GenerationMode.POSITIVE, {"symbol": "AAPL"}) for op in operations if "{symbol}" in op.path]
    for operation, mode, path_parameters in runs:

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(
                base_url=running.base_url, session=session, excluded_checks=excused(case.operation)
            )
            statuses.setdefault(case.operation.label, set()).add(response.status_code)

        check()
    # The fuzzing reached the answers that matter, not only refusals.
    assert 200 in statuses["GET /v1/quotes/{symbol}"]
    assert {200, 400} <= statuses["GET /v1/bars/{symbol}"]
    assert all(status < 500 for seen in statuses.values() for status in seen), statuses
