"""The SDK against a real service process (mts1b-halt) over TCP."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from mts1b_operations.client import ClientConfig, NotFoundError, ServiceClient, TransportError
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.embedded import free_port
from mts1b_operations.core.testing import start_service


async def test_healthz_and_a_404_from_a_running_service(
    tmp_path: Path, database_url: str, nats_url: str
) -> None:
    await asyncio.to_thread(upgrade_all, database_url, ["halt"])
    service = await asyncio.to_thread(
        start_service, "mts1b_operations.halt", database_url=database_url, nats_url=nats_url, log_dir=tmp_path
    )
    try:
        config = ClientConfig(halt_url=service.base_url)
        async with ServiceClient.for_service("halt", config) as halt:
            health = await halt.healthz()
            assert health.status == "ok"
            assert health.service == "halt"
            uuid.UUID(health.instance_id)
            with pytest.raises(NotFoundError) as caught:
                await halt.get("/v1/no-such-thing", dict[str, str])
            assert caught.value.status == 404
            assert caught.value.code == "not_found"
            assert caught.value.message == "Not Found"
    finally:
        service.stop()


async def test_nothing_listening_is_a_transport_error_after_the_retries() -> None:
    port = free_port()
    async with ServiceClient(f"http://127.0.0.1:{port}", get_attempts=2, backoff=0.01) as client:
        with pytest.raises(
            TransportError, match=rf"GET http://127\.0\.0\.1:{port}/v1/healthz failed: ConnectError"
        ):
            await client.healthz()
