"""``running_service``: a made-up service run in-process on the test's Postgres and NATS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from litestar import Request, get
from litestar.di import NamedDependency

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.operators import authenticate
from mts1b_operations.core.runtime import ServiceContext, ServiceSpec
from mts1b_operations.core.testing import migrated, open_bus, open_pool, register_operators, running_service


@get("/v1/probe")
async def probe(context: NamedDependency[ServiceContext], request: Request) -> dict[str, object]:  # type: ignore[type-arg]
    return {
        "service": context.name,
        "instance_id": context.instance_id,
        "funds_file": str(context.settings.funds_file),
        "client": request.client.host if request.client else None,
        "started": context.state.get("started", False),
    }


@dataclass
class Recorder:
    """A consumer that writes down when it starts and stops."""

    name: str
    log: list[str]

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


class Other(Recorder):
    """A second kind of consumer, for the look-up by kind."""


def recording_spec(log: list[str], *, failing_startup: bool = False) -> ServiceSpec:
    async def startup(context: ServiceContext) -> None:
        log.append("startup")
        if failing_startup:
            raise RuntimeError("startup: the service's hook failed")
        context.state["started"] = True

    async def shutdown(context: ServiceContext) -> None:
        log.append("shutdown")

    return ServiceSpec(
        name="harness-test",
        import_name="mts1b_operations.harness_test",
        default_port=8998,
        route_handlers=[probe],
        consumers=(lambda _: Recorder("a", log), lambda _: Other("b", log)),
        on_startup=(startup,),
        on_shutdown=(shutdown,),
    )


@pytest_asyncio.fixture
async def core_db(database_url: str) -> str:
    return await migrated(database_url, "core")


async def test_it_starts_as_run_service_does_serves_and_drains_in_reverse(
    core_db: str, nats_url: str, tmp_path: Path
) -> None:
    log: list[str] = []
    funds = tmp_path / "funds.yaml"
    async with running_service(
        recording_spec(log), database_url=core_db, nats_url=nats_url, instance_id="i-1", funds_file=funds
    ) as service:
        assert log == ["startup", "start a", "start b"]
        response = await service.http.get("/v1/probe")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "service": "harness-test",
            "instance_id": "i-1",
            "funds_file": str(funds),
            "client": "127.0.0.1",
            "started": True,
        }
        assert str(service.http.base_url) == "http://harness-test.test"
        assert service.relay is not None
        assert service.context.relay is service.relay
        assert service.consumer(Other).name == "b"
        assert service.consumer(Recorder).name == "a"
        pool, bus = service.pool, service.bus
        assert await pool.fetchval("SELECT 1") == 1
        assert bus.is_connected
    assert log == ["startup", "start a", "start b", "stop b", "stop a", "shutdown"]
    assert pool.is_closing()
    assert not bus.is_connected


async def test_a_pool_and_bus_of_the_tests_own_are_shared_and_left_open(core_db: str, nats_url: str) -> None:
    log: list[str] = []
    async with (
        open_pool(core_db) as pool,
        open_bus(nats_url, name="harness-test-own") as bus,
    ):
        spec = recording_spec(log)
        async with running_service(
            spec, database_url=core_db, nats_url=nats_url, pool=pool, bus=bus, outbox_relay=False
        ) as service:
            assert service.pool is pool
            assert service.bus is bus
            assert service.relay is None
            assert service.context.relay is None
        assert await pool.fetchval("SELECT 1") == 1
        assert bus.is_connected


async def test_an_extra_client_is_seen_from_its_address_and_closed_with_the_service(
    core_db: str, nats_url: str
) -> None:
    async with running_service(recording_spec([]), database_url=core_db, nats_url=nats_url) as service:
        client = service.client(address=("203.0.113.7", 40000), headers={"X-Test": "1"})
        response = await client.get("/v1/probe")
        assert response.json()["client"] == "203.0.113.7"
        assert client.headers["X-Test"] == "1"
    assert client.is_closed
    assert service.http.is_closed


async def test_a_failing_start_up_hook_still_runs_the_shutdown_hooks_and_closes_what_it_opened(
    core_db: str, nats_url: str
) -> None:
    log: list[str] = []
    with pytest.raises(RuntimeError, match="startup: the service's hook failed"):
        async with running_service(
            recording_spec(log, failing_startup=True), database_url=core_db, nats_url=nats_url
        ):
            pytest.fail("the service must not be yielded when a start-up hook fails")
    assert log == ["startup", "shutdown"]


async def test_looking_up_a_consumer_kind_that_did_not_start_names_the_kind(
    core_db: str, nats_url: str
) -> None:
    async with running_service(recording_spec([]), database_url=core_db, nats_url=nats_url) as service:
        expected = r"kind: no started consumer is a Bus \(started: Recorder, Other\)"
        with pytest.raises(LookupError, match=expected):
            service.consumer(Bus)


async def test_register_operators_returns_a_working_token_per_name(core_db: str) -> None:
    async with open_pool(core_db) as pool:
        tokens = await register_operators(pool, {"alice": "operator", "vera": "viewer"})
        assert list(tokens) == ["alice", "vera"]
        operator = await authenticate(pool, tokens["vera"])
        assert (operator.name, operator.role) == ("vera", "viewer")
