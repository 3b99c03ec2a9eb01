"""devstack.json, the signing-key seed, the funds file, port checks and the service plan."""

from __future__ import annotations

import os
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import yaml

from mts1b_operations.core.funds import load_funds
from mts1b_operations.devstack import (
    PORT_OFFSETS,
    SEED_BYTES,
    DevstackState,
    RuntimeState,
    ServiceState,
    StateError,
    UnknownServiceError,
    clear_runtime,
    ensure_funds_file,
    ensure_signing_key,
    env_lines,
    example_funds_file,
    plan_services,
    port_in_use,
    read_state,
    state_path,
    write_state,
)


def sample_state(tmp_path: Path) -> DevstackState:
    return DevstackState(
        state_dir=str(tmp_path),
        pg_port=15432,
        nats_port=14222,
        base_port=8100,
        funds_file=str(tmp_path / "funds.yaml"),
        signing_key_file=str(tmp_path / "key"),
        scenario="calm-day",
        runtime=RuntimeState(
            supervisor_pid=11,
            started_at=datetime(2025, 1, 2, tzinfo=UTC),
            phase="running",
            database_url="postgresql://postgres@127.0.0.1:15432/mts",
            nats_url="nats://127.0.0.1:14222",
            postgres_pid=12,
            postgres_port=15432,
            nats_pid=13,
            nats_port=14222,
            services=[
                ServiceState(name="halt", port=8101, url="http://127.0.0.1:8101", log_file="h.log", pid=14),
                ServiceState(
                    name="marketdata-api", port=8105, url="http://127.0.0.1:8105", log_file="m.log", pid=15
                ),
            ],
        ),
    )


def test_state_round_trips_and_clearing_keeps_the_lasting_part(tmp_path: Path) -> None:
    assert read_state(tmp_path) is None
    state = sample_state(tmp_path)
    write_state(tmp_path, state)
    assert read_state(tmp_path) == state
    assert state.runtime is not None
    assert sorted(state.runtime.pids()) == [11, 12, 13, 14, 15]
    clear_runtime(tmp_path)
    cleared = read_state(tmp_path)
    assert cleared is not None
    assert cleared.runtime is None
    assert cleared.scenario == "calm-day"
    assert [p.name for p in tmp_path.iterdir()] == ["devstack.json"]  # no temp file left


def test_a_corrupt_state_file_is_reported_with_its_path(tmp_path: Path) -> None:
    state_path(tmp_path).write_text('{"state_dir": 5}')
    with pytest.raises(StateError, match=r"devstack\.json"):
        read_state(tmp_path)
    state_path(tmp_path).write_text("not json")
    with pytest.raises(StateError, match="not valid JSON"):
        read_state(tmp_path)


def test_env_lines_name_every_client_variable(tmp_path: Path) -> None:
    runtime = sample_state(tmp_path).runtime
    assert runtime is not None
    assert env_lines(runtime) == [
        "export MTS_DATABASE_URL=postgresql://postgres@127.0.0.1:15432/mts",
        "export MTS_NATS_URL=nats://127.0.0.1:14222",
        "export MTS_HALT_URL=http://127.0.0.1:8101",
        "export MTS_MARKETDATA_URL=http://127.0.0.1:8105",
    ]


def test_signing_key_is_32_random_bytes_owner_only_and_kept(tmp_path: Path) -> None:
    key = tmp_path / "sub" / "audit.seed"
    assert ensure_signing_key(key) is True
    seed = key.read_bytes()
    assert len(seed) == SEED_BYTES
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert ensure_signing_key(key) is False
    assert key.read_bytes() == seed
    other = tmp_path / "other.seed"
    ensure_signing_key(other)
    assert other.read_bytes() != seed


def test_a_signing_key_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "audit.seed"
    key.write_bytes(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        ensure_signing_key(key)


def test_funds_file_is_cores_example_and_is_not_overwritten(tmp_path: Path) -> None:
    funds = tmp_path / "funds.yaml"
    assert ensure_funds_file(funds) is True
    assert funds.read_bytes() == example_funds_file().read_bytes()
    assert load_funds(funds).funds  # a valid registry with at least one fund
    funds.write_text(yaml.safe_dump({"funds": []}))
    assert ensure_funds_file(funds) is False
    assert yaml.safe_load(funds.read_text()) == {"funds": []}


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_services_get_fixed_offsets_from_the_base_port() -> None:
    installed = ["audit", "compliance", "halt", "marketdata-api", "watchdogs"]
    plan = plan_services(9000, installed=installed)
    assert [(s.name, s.port) for s in plan] == [
        ("halt", 9001),
        ("audit", 9002),
        ("watchdogs", 9003),
        ("compliance", 9004),
        ("marketdata-api", 9005),
    ]
    assert plan[0].url == "http://127.0.0.1:9001"
    assert {s.name: s.port - 9000 for s in plan} == PORT_OFFSETS
    only = plan_services(8100, ["audit"], installed=installed)
    assert [(s.name, s.port, s.url_variable) for s in only] == [("audit", 8102, "MTS_AUDIT_URL")]


def test_an_unknown_service_gets_the_next_free_offset() -> None:
    plan = plan_services(8100, installed=["halt", "zeta"])
    assert [(s.name, s.port) for s in plan] == [("halt", 8101), ("zeta", 8106)]
    assert plan[1].url_variable == "MTS_ZETA_URL"


def test_only_with_an_unknown_name_names_the_valid_ones() -> None:
    with pytest.raises(UnknownServiceError, match=r"nope.*valid services: audit, halt"):
        plan_services(8100, ["nope"], installed=["halt", "audit"])


def test_plan_uses_the_installed_entry_points() -> None:
    names = {s.name for s in plan_services(8100)}
    assert names == set(PORT_OFFSETS)


def test_state_json_is_plain_json(tmp_path: Path) -> None:
    write_state(tmp_path, sample_state(tmp_path))
    raw = msgspec.json.decode(state_path(tmp_path).read_bytes())
    assert raw["runtime"]["services"][0]["pid"] == 14
    assert os.access(state_path(tmp_path), os.R_OK)
