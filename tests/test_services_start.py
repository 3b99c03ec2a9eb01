"""Each of the five services starts as its own process and answers its health endpoints."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.testing import start_service


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("halt", "mts1b_operations.halt"),
        ("audit", "mts1b_operations.audit"),
        ("watchdogs", "mts1b_operations.watchdogs"),
        ("compliance", "mts1b_operations.compliance"),
        ("marketdata-api", "mts1b_operations.marketdata"),
    ],
)
async def test_service_starts_and_answers_health(
    tmp_path: Path, database_url: str, nats_url: str, name: str, module: str
) -> None:
    await asyncio.to_thread(upgrade_all, database_url, [name])
    signing_key = tmp_path / "audit-signing-key.seed"
    signing_key.write_bytes(os.urandom(32))
    signing_key.chmod(0o600)
    env = {"MTS_AUDIT_SIGNING_KEY": str(signing_key), "MTS_COMPLIANCE_OUTPUT_DIR": str(tmp_path / "filed")}
    with start_service(
        module, database_url=database_url, nats_url=nats_url, log_dir=tmp_path, env=env
    ) as service:
        health = service.get("/v1/healthz")
        assert health.status == 200
        assert health.json()["service"] == name
        ready = service.get("/v1/readyz")
        assert ready.status == 200
        own_checks = {"compliance": {"output_dir": "ok"}}.get(name, {})  # its report files' directory
        assert ready.json() == {"status": "ready", "checks": {"postgres": "ok", "nats": "ok", **own_checks}}
        assert service.stop() == 0, service.stderr()
