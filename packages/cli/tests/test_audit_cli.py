"""`mts mts1b-operations audit show|verify|tail|prove` against a real mts1b-audit, Postgres and NATS."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.audit.domain import verifier_key_string
from mts1b_operations.cli import ExitCode
from mts1b_operations.cli.main import cli
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import free_port
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.schemas import HaltRequested
from mts1b_operations.core.testing import ServiceProcess, eventually, start_service

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _no_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for variable in ("MTS_TOKEN", "MTS_CREDENTIALS_FILE", "MTS_AUDIT_VERIFIER_KEY", "MTS_AUDIT_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest_asyncio.fixture
async def audit_db(database_url: str) -> str:
    await asyncio.to_thread(upgrade_all, database_url)
    return database_url


@pytest_asyncio.fixture
async def token(audit_db: str) -> str:
    pool = await create_pool(audit_db, min_size=1, max_size=1, connect_deadline=10)
    try:
        _, secret = await add_operator(pool, "vic", "viewer", created_by="test")
    finally:
        await pool.close()
    return secret


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await connect_bus(nats_url, name="audit-cli-test", connect_deadline=10)
    yield connected
    await connected.close()


@pytest_asyncio.fixture
async def service(audit_db: str, nats_url: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    key = tmp_path / "audit.key"
    key.write_bytes(os.urandom(32))
    process = await asyncio.to_thread(
        start_service,
        "mts1b_operations.audit",
        database_url=audit_db,
        nats_url=nats_url,
        log_dir=tmp_path / "logs",
        env={"MTS_AUDIT_SIGNING_KEY": str(key), "MTS_AUDIT_EXTRA_SUBJECTS": None},
    )
    yield process
    await asyncio.to_thread(process.stop)


@pytest.fixture
def env(service: ServiceProcess, token: str, nats_url: str) -> dict[str, str | None]:
    return {"MTS_AUDIT_URL": service.base_url, "MTS_TOKEN": token, "MTS_NATS_URL": nats_url}


async def mts(*args: str, env: dict[str, str | None]) -> Result:
    # In a worker thread: the commands run their own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, cli, ["mts1b-operations", "audit", *args], env=env)


async def record_halts(bus: Bus, service: ServiceProcess, token: str, count: int) -> None:
    """Publish ``count`` halt facts and wait until the service has recorded them all."""
    for n in range(count):
        fact = HaltRequested(
            halt_id=f"halt-{n}",
            severity="FIRM_HALT",
            mode="block_new",
            reason=f"drill {n}",
            requested_by="operator:alice",
            requested_at=datetime.now(UTC),
        )
        await bus.publish(subjects.halt_requested(), fact, msg_id=f"halt-requested-{n}")

    async def all_recorded() -> bool | None:
        result = await mts("verify", "--json", env={"MTS_AUDIT_URL": service.base_url, "MTS_TOKEN": token})
        return True if json.loads(result.stdout).get("verified") == count else None

    await eventually(all_recorded, what=f"{count} recorded halts")


async def tamper(audit_db: str, sequence: int) -> None:
    conn = await asyncpg.connect(audit_db)
    try:
        await conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
        await conn.execute(
            "UPDATE audit_entries SET canonical = convert_to(replace(convert_from(canonical, 'UTF8'), "
            "'drill', 'DRILL'), 'UTF8') WHERE sequence = $1",
            sequence,
        )
    finally:
        await conn.close()


# ---------------------------------------------------------------- show


async def test_show_prints_the_trail_of_a_subject(
    bus: Bus, service: ServiceProcess, token: str, env: dict[str, str | None]
) -> None:
    await record_halts(bus, service, token, 2)
    result = await mts("show", "--subject-id", "halt-1", env=env)
    assert result.exit_code == 0, result.output
    assert "audit trail of halt-1 (1 entries)" in result.stdout
    assert "halt.requested" in result.stdout
    assert "operator:alice" in result.stdout
    assert "… ok" in result.stdout
    assert "MISMATCH" not in result.stdout

    as_json = json.loads((await mts("show", "--subject-id", "halt-0", "--json", env=env)).stdout)
    assert as_json["count"] == 1
    assert as_json["entries"][0]["data"]["reason"] == "drill 0"

    nothing = await mts("show", "--subject-id", "nobody", env=env)
    assert nothing.exit_code == 0
    assert "no audit entries about 'nobody'" in nothing.stdout


async def test_show_needs_the_subject_id_and_a_token(service: ServiceProcess) -> None:
    missing = await mts("show", env={"MTS_AUDIT_URL": service.base_url})
    assert missing.exit_code == ExitCode.USAGE
    assert "--subject-id" in missing.output
    anonymous = await mts("show", "--subject-id", "x", env={"MTS_AUDIT_URL": service.base_url})
    assert anonymous.exit_code == ExitCode.FAILURE
    assert "401" in anonymous.stderr
    assert "MTS_TOKEN" in anonymous.stderr


async def test_an_unreachable_service_exits_3() -> None:
    result = await mts(
        "show",
        "--subject-id",
        "x",
        env={"MTS_AUDIT_URL": f"http://127.0.0.1:{free_port()}", "MTS_TOKEN": "t"},
    )
    assert result.exit_code == ExitCode.UNREACHABLE
    assert result.stderr.startswith("error: ")


# ---------------------------------------------------------------- verify


async def test_verify_an_intact_chain_exits_0(
    bus: Bus, service: ServiceProcess, token: str, env: dict[str, str | None]
) -> None:
    await record_halts(bus, service, token, 3)
    result = await mts("verify", env=env)
    assert result.exit_code == 0, result.output
    assert "intact: 3 entries verified from sequence 0 (head 2 " in result.stdout
    partial = await mts("verify", "--from-sequence", "2", env=env)
    assert "intact: 1 entries verified from sequence 2" in partial.stdout


async def test_verify_a_tampered_chain_exits_1_naming_the_sequence(
    bus: Bus, service: ServiceProcess, token: str, env: dict[str, str | None], audit_db: str
) -> None:
    await record_halts(bus, service, token, 4)
    await tamper(audit_db, 2)
    result = await mts("verify", env=env)
    assert result.exit_code == ExitCode.FAILURE
    assert "audit chain BROKEN at sequence 2:" in result.stderr
    as_json = await mts("verify", "--json", env=env)
    assert as_json.exit_code == ExitCode.FAILURE
    body = json.loads(as_json.stdout)
    assert (body["ok"], body["sequence"], body["kind"]) == (False, 2, "hash_mismatch")


async def test_verify_beyond_the_head_is_a_usage_error(
    service: ServiceProcess, env: dict[str, str | None]
) -> None:
    result = await mts("verify", "--from-sequence", "5", env=env)
    assert result.exit_code == ExitCode.USAGE
    assert "from_sequence" in result.stderr
    negative = await mts("verify", "--from-sequence", "-1", env=env)
    assert negative.exit_code == ExitCode.USAGE


# ---------------------------------------------------------------- prove


async def test_prove_checks_the_proof_offline(
    bus: Bus, service: ServiceProcess, token: str, env: dict[str, str | None]
) -> None:
    await record_halts(bus, service, token, 5)
    result = await mts("prove", "--sequence", "3", env=env)
    assert result.exit_code == 0, result.output
    assert "proven: entry 3 " in result.stdout
    assert "taken from the service" in result.stdout

    as_json = json.loads((await mts("prove", "--sequence", "0", "--json", env=env)).stdout)
    assert as_json["ok"] is True
    assert as_json["tree_size"] >= 1
    pinned = await mts("prove", "--sequence", "0", "--verifier-key", as_json["verifier_key"], env=env)
    assert pinned.exit_code == 0, pinned.output
    assert "(pinned)" in pinned.stdout


async def test_prove_with_another_key_or_beyond_the_head_fails(
    bus: Bus, service: ServiceProcess, token: str, env: dict[str, str | None]
) -> None:
    await record_halts(bus, service, token, 2)
    impostor = verifier_key_string(Ed25519PrivateKey.generate().public_key(), "mts1b-operations/audit")
    wrong = await mts("prove", "--sequence", "1", env={**env, "MTS_AUDIT_VERIFIER_KEY": impostor})
    assert wrong.exit_code == ExitCode.FAILURE
    assert "the proof of entry 1 does NOT hold: checkpoint: no signature" in wrong.stderr
    beyond = await mts("prove", "--sequence", "9", env=env)
    assert beyond.exit_code == ExitCode.FAILURE
    assert "404" in beyond.stderr
    assert "no audit entry 9" in beyond.stderr


# ---------------------------------------------------------------- tail


async def test_tail_all_prints_what_was_appended(
    bus: Bus, service: ServiceProcess, token: str, env: dict[str, str | None]
) -> None:
    await record_halts(bus, service, token, 3)
    result = await mts("tail", "--all", "--count", "2", "--json", "--timeout", "20", env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["sequence"] for line in lines] == [0, 1]
    assert {line["action"] for line in lines} == {"halt.requested"}


async def test_tail_follows_new_entries_live(
    bus: Bus, service: ServiceProcess, env: dict[str, str | None]
) -> None:
    before = (await bus.js.stream_info("OPERATIONS")).state.consumer_count
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = CliRunner().invoke(
            cli, ["mts1b-operations", "audit", "tail", "--count", "1", "--timeout", "20"], env=env
        )

    thread = threading.Thread(target=run)
    thread.start()

    async def subscribed() -> bool | None:
        info = await bus.js.stream_info("OPERATIONS")
        return True if info.state.consumer_count > before else None

    await eventually(subscribed, what="the tail's consumer")
    fact = HaltRequested(
        halt_id=f"halt-live-{uuid.uuid4().hex[:6]}",
        severity="FIRM_HALT",
        mode="block_new",
        reason="live",
        requested_by="operator:alice",
        requested_at=datetime.now(UTC),
    )
    await bus.publish(subjects.halt_requested(), fact, msg_id=fact.halt_id)
    await asyncio.to_thread(thread.join, 30)
    result: Result = outcome["result"]
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert "operator:alice  halt.requested  " + fact.halt_id in line


async def test_tail_times_out_with_exit_1(service: ServiceProcess, env: dict[str, str | None]) -> None:
    result = await mts("tail", "--count", "1", "--timeout", "0.5", env=env)
    assert result.exit_code == ExitCode.FAILURE
    assert "only 0 of 1 entries arrived within 0.5s" in result.stderr
    without_count = await mts("tail", "--timeout", "0.5", env=env)
    assert without_count.exit_code == 0
    assert without_count.stdout == ""


async def test_tail_without_nats_exits_3() -> None:
    result = await mts(
        "tail",
        "--count",
        "1",
        "--connect-timeout",
        "0.5",
        env={"MTS_NATS_URL": f"nats://127.0.0.1:{free_port()}"},
    )
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "could not connect to NATS" in result.stderr


# ---------------------------------------------------------------- help


def test_the_operations_group_lists_audit_and_every_command_has_help_with_an_example() -> None:
    group = CliRunner().invoke(cli, ["mts1b-operations", "--help"])
    assert group.exit_code == 0, group.output
    assert "  audit " in group.output
    assert "Exit codes:" in group.output
    for command in ("show", "verify", "tail", "prove"):
        result = CliRunner().invoke(cli, ["mts1b-operations", "audit", command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--json" in result.output
        assert "mts mts1b-operations audit " + command in result.output
