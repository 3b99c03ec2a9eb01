"""No request, however malformed, gets a 500 from the real service: schemathesis from its OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mts1b_operations.core.testing import ServiceProcess


def test_generated_requests_never_get_a_server_error(
    tmp_path: Path,
    halt_db: str,
    nats_url: str,
    funds_file: Path,
    policy_file: Path,
    tokens: dict[str, str],
) -> None:
    process = ServiceProcess(
        "mts1b_operations.halt",
        env={
            "MTS_DATABASE_URL": halt_db,
            "MTS_NATS_URL": nats_url,
            "MTS_FUNDS_FILE": str(funds_file),
            "MTS_HALT_POLICY_FILE": str(policy_file),
        },
        log_dir=tmp_path / "logs",
    )
    process.start()
    try:
        process.wait_ready()
        schema = schemathesis.openapi.from_url(f"{process.base_url}/schema/openapi.json")
        cases = st.one_of(
            schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
            schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
        )
        seen: set[tuple[str, str]] = set()

        @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            seen.add((case.method, case.path))
            response = case.call(
                base_url=process.base_url, headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=30
            )
            assert response.status_code < 500, (case.method, case.path, case.body, case.query, response.text)
            content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])
            assert content_type[0].startswith("application/json"), response.text

        no_server_error()
        assert ("POST", "/v1/halts") in seen
        assert ("POST", "/v1/halts/resume") in seen
        assert "Traceback" not in process.stderr(), process.stderr()[-3000:]
    finally:
        assert process.stop() == 0, process.stderr()[-3000:]
