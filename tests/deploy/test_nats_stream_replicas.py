"""MTS_NATS_STREAM_REPLICAS: the replica count of every stream and KV bucket a service creates.

1 on one server (the default), 3 on the 3-node cluster (tests/deploy/test_cluster_*.py run the
cluster); a bad value stops start-up with one line naming the variable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.settings import SettingsError, load_settings
from mts1b_operations.core.testing import ServiceProcess

BASE_ENV = {
    "MTS_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
    "MTS_NATS_URL": "nats://127.0.0.1:1",
    "MTS_SERVICE_NAME": "halt",
}


def test_default_is_one_replica() -> None:
    assert load_settings(BASE_ENV).nats_stream_replicas == 1
    assert load_settings({**BASE_ENV, "MTS_NATS_STREAM_REPLICAS": " "}).nats_stream_replicas == 1


@pytest.mark.parametrize("value", ["1", "3", "5", " 3 "])
def test_a_count_from_one_to_five_is_taken(value: str) -> None:
    settings = load_settings({**BASE_ENV, "MTS_NATS_STREAM_REPLICAS": value})
    assert settings.nats_stream_replicas == int(value)


@pytest.mark.parametrize("value", ["0", "6", "-1", "three", "2.5", "3x"])
def test_anything_else_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE_ENV, "MTS_NATS_STREAM_REPLICAS": value})
    assert caught.value.variable == "MTS_NATS_STREAM_REPLICAS"
    assert str(caught.value).startswith("MTS_NATS_STREAM_REPLICAS: must be an integer from 1 to 5 (got ")


@pytest.mark.parametrize("replicas", [0, 6, True, "3"])
async def test_connect_bus_refuses_a_bad_count(replicas: object) -> None:
    with pytest.raises(ValueError, match=r"^stream_replicas: .* must be an int from 1 to 5$"):
        await connect_bus("nats://127.0.0.1:1", name="t", connect_deadline=1, stream_replicas=replicas)  # type: ignore[arg-type]


def test_a_service_with_a_bad_count_exits_with_one_line(tmp_path: Path) -> None:
    process = ServiceProcess(
        "mts1b_operations.halt",
        env={**BASE_ENV, "MTS_NATS_STREAM_REPLICAS": "7"},
        log_dir=tmp_path,
        argv=[sys.executable, "-m", "mts1b_operations.halt"],
    ).start()
    assert process.wait_exit(timeout=60) == 2
    lines = [line for line in process.stderr().splitlines() if line.strip()]
    assert lines[-1] == (
        "mts1b-halt: configuration error: MTS_NATS_STREAM_REPLICAS: must be an integer from 1 to 5 (got 7)"
    )
    assert "Traceback" not in process.stderr()


async def test_a_single_node_gets_streams_at_one_replica(nats_url: str) -> None:
    bus = await connect_bus(nats_url, name="test-replicas", connect_deadline=10)
    try:
        assert bus.stream_replicas == 1
        infos = await bus.ensure_streams()
        assert {info.config.num_replicas for info in infos} == {1}
        await bus.kv("replicas_drill", history=1)
        assert (await bus.js.stream_info("KV_replicas_drill")).config.num_replicas == 1
    finally:
        await bus.close()
