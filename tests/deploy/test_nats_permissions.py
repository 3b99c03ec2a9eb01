"""deploy/nats: accounts and per-service users, on a real nats-server started with that configuration.

Each user may publish only what the contract's subject table gives its service (only halt
publishes halt.*, only audit audit.*, ...); the CLI/SDK user reads and never publishes a fact;
nobody may delete or purge the streams the services create.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nats
import nats.errors
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from mts1b_operations.client import HaltGate
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import DEFAULT_STREAMS, connect_bus
from mts1b_operations.core.embedded import nats_server_binary
from mts1b_operations.core.schemas import HaltRequested, encode
from mts1b_operations.core.testing import eventually

from ._nats_helpers import (
    NATS_DIR,
    PASSWORD_VARIABLES,
    ConfiguredNats,
    random_passwords,
    render_single,
    server_environment,
    user_url,
)

HALT_BUCKET = "mts_halts"


@dataclass
class Server:
    nats: ConfiguredNats
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        return user_url(user, self.passwords[user], self.nats.port)


@dataclass
class Session:
    """A connection as one user, with every asynchronous error the server sent it."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    passwords = random_passwords()
    config = render_single(tmp_path_factory.mktemp("nats-single"))
    started = ConfiguredNats(config, server_environment(passwords)).start()
    try:
        yield Server(started, passwords)
    finally:
        started.stop()


async def _connect(server: Server, user: str, password: str | None = None) -> Session:
    session = Session(nc=Client())

    async def on_error(error: Exception) -> None:
        session.errors.append(str(error))

    pw = server.passwords[user] if password is None else password
    await session.nc.connect(
        user_url(user, pw, server.nats.port), error_cb=on_error, allow_reconnect=False, connect_timeout=10
    )
    return session


@pytest_asyncio.fixture(scope="module")
async def streams(server: Server) -> AsyncIterator[None]:
    """The contract's streams and the halts bucket, created by the halt service's user (as at start-up)."""
    bus = await connect_bus(server.url("halt"), name="test-halt-setup", connect_deadline=10)
    try:
        await bus.ensure_streams()
        await bus.kv(HALT_BUCKET, history=1)
        yield
    finally:
        await bus.close()


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


def _stream_of(subject: str) -> str:
    for spec in DEFAULT_STREAMS:
        if any(_matches(pattern, subject) for pattern in spec.subjects):
            return spec.name
    raise AssertionError(f"no stream captures {subject}")


ALLOWED = [
    ("halt", subjects.halt_requested()),
    ("halt", subjects.halt_resumed()),
    ("halt", subjects.service_heartbeat("halt")),
    ("audit", subjects.audit_appended()),
    ("audit", subjects.audit_checkpoint()),
    ("watchdogs", subjects.watchdog_alert("db")),
    ("watchdogs", subjects.operations_command("watchdog")),
    ("compliance", "mts.v1.operations.compliance.report.stored"),
    ("marketdata-api", subjects.service_heartbeat("marketdata-api")),
    ("operator", subjects.operations_command("restart")),
    ("oms", subjects.oms_order("filled")),
    ("oms", subjects.portfolio_position("paper-momentum")),
    ("marketdata-feed", subjects.marketdata_trade("AAPL")),
    ("devstack", subjects.marketdata_quote("AAPL")),
]
REFUSED = [
    ("watchdogs", subjects.halt_requested()),
    ("audit", subjects.halt_requested()),
    ("compliance", subjects.halt_resumed()),
    ("marketdata-api", subjects.halt_requested()),
    ("oms", subjects.halt_requested()),
    ("devstack", subjects.halt_requested()),
    ("halt", subjects.audit_appended()),
    ("watchdogs", subjects.audit_checkpoint()),
    ("compliance", subjects.watchdog_alert("db")),
    ("watchdogs", subjects.service_heartbeat("halt")),
    ("halt", subjects.operations_command("restart")),
    ("watchdogs", subjects.operations_command("restart")),
    ("cli", subjects.halt_requested()),
    ("cli", subjects.audit_appended()),
    ("cli", subjects.operations_command("restart")),
    ("cli", subjects.marketdata_trade("AAPL")),
    ("cli", subjects.service_heartbeat("cli")),
    ("marketdata-feed", subjects.oms_order("filled")),
    ("strategy", subjects.portfolio_nav("paper-momentum")),
]


@pytest.mark.parametrize(("user", "subject"), ALLOWED)
async def test_a_user_publishes_what_its_service_owns(
    server: Server, streams: None, user: str, subject: str
) -> None:
    session = await _connect(server, user)
    try:
        ack = await session.nc.jetstream().publish(subject, b"{}", timeout=5)
        assert ack.stream == _stream_of(subject)
        assert session.violations() == []
    finally:
        await session.nc.close()


@pytest.mark.parametrize(("user", "subject"), REFUSED)
async def test_a_user_publishing_outside_its_permissions_is_refused(
    server: Server, streams: None, user: str, subject: str
) -> None:
    stream = _stream_of(subject)
    admin = await _connect(server, "halt")
    session = await _connect(server, user)
    try:
        before = (await admin.nc.jetstream().stream_info(stream)).state.messages
        await session.nc.publish(subject, b"{}")
        await session.nc.flush(timeout=5)
        violations = await eventually(session.violations, within=15, what=f"{user} refused on {subject}")
        assert f'publish to "{subject.lower()}"' in violations[0]
        assert session.nc.is_connected, "a refused publish does not cost the connection"
        assert (await admin.nc.jetstream().stream_info(stream)).state.messages == before
    finally:
        await session.nc.close()
        await admin.nc.close()


DESTRUCTIVE_API = (
    "$JS.API.STREAM.DELETE.OPERATIONS",
    "$JS.API.STREAM.PURGE.OPERATIONS",
    "$JS.API.STREAM.MSG.DELETE.OPERATIONS",
    f"$JS.API.STREAM.DELETE.KV_{HALT_BUCKET}",
)


async def test_nobody_deletes_or_purges_the_streams(server: Server, streams: None) -> None:
    for user in ("halt", "watchdogs", "cli"):
        session = await _connect(server, user)
        try:
            for api in DESTRUCTIVE_API:
                # A refused request is dropped by the server: no answer, and an error on the side.
                with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
                    await session.nc.request(api, b"{}", timeout=0.25)
            await eventually(
                lambda s=session: len(s.violations()) == len(DESTRUCTIVE_API),
                within=15,
                what=f"{user} refused",
            )
        finally:
            await session.nc.close()
    admin = await _connect(server, "halt")
    try:
        assert (await admin.nc.jetstream().stream_info("OPERATIONS")).config.name == "OPERATIONS"
    finally:
        await admin.nc.close()


async def test_only_halt_writes_the_halts_bucket_and_the_cli_reads_it(server: Server, streams: None) -> None:
    halt = await _connect(server, "halt")
    try:
        kv = await halt.nc.jetstream().key_value(HALT_BUCKET)
        revision = await kv.put("firm", b'{"drill": true}')
    finally:
        await halt.nc.close()
    for reader in ("cli", "oms", "marketdata-api"):
        session = await _connect(server, reader)
        try:
            kv = await session.nc.jetstream().key_value(HALT_BUCKET)
            entry = await kv.get("firm")
            assert (entry.value, entry.revision) == (b'{"drill": true}', revision)
            await session.nc.publish(f"$KV.{HALT_BUCKET}.firm", b"{}")
            await session.nc.flush(timeout=5)
            await eventually(session.violations, within=15, what=f"{reader} refused writing the bucket")
            assert (await kv.get("firm")).revision == revision
        finally:
            await session.nc.close()


async def test_the_cli_user_follows_a_stream(server: Server, streams: None) -> None:
    halt = await _connect(server, "halt")
    cli = await _connect(server, "cli")
    try:
        sub = await cli.nc.jetstream().subscribe(
            subjects.halt_requested(), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        await halt.nc.jetstream().publish(subjects.halt_requested(), b'{"follow": 1}')
        msg = await sub.next_msg(timeout=15)
        assert msg.data == b'{"follow": 1}'
        info = await cli.nc.jetstream().stream_info("HEARTBEATS")
        assert info.config.name == "HEARTBEATS"
        assert cli.violations() == []
        await sub.unsubscribe()
    finally:
        await cli.nc.close()
        await halt.nc.close()


@pytest.mark.parametrize("user", ["cli", "oms"])
async def test_the_sdk_halt_gate_works_with_the_read_only_users(
    server: Server, streams: None, user: str
) -> None:
    halt = await _connect(server, "halt")
    try:
        kv = await halt.nc.jetstream().key_value(HALT_BUCKET)
        halted = HaltRequested(
            halt_id="h-gate",
            severity="FUND_HALT",
            mode="block_new",
            fund_id="paper-momentum",
            reason="drill",
            requested_by="operator:ada",
            requested_at=datetime.now(UTC),
        )
        await kv.put("fund.paper-momentum", encode(halted))
        await kv.delete("firm")  # the drill value another test wrote is no HaltRequested
    finally:
        await halt.nc.close()
    gate = HaltGate(server.url(user), max_staleness=2.0, name=f"gate-{user}")
    try:
        assert await gate.start(wait=15), "the gate never got a complete view"
        decision = gate.allows("paper-momentum")
        assert not decision.allowed
        assert decision.halt is not None
        assert decision.halt.halt_id == "h-gate"
        assert gate.allows("paper-meanrev").allowed
    finally:
        await gate.stop()


@pytest.mark.parametrize(("user", "password"), [("halt", "not-the-password"), ("nobody", "x")])
async def test_a_wrong_password_or_unknown_user_cannot_connect(
    server: Server, user: str, password: str
) -> None:
    nc = Client()
    with pytest.raises((nats.errors.Error, OSError)):
        await nc.connect(
            user_url(user, password, server.nats.port),
            allow_reconnect=False,
            connect_timeout=2,
            max_reconnect_attempts=0,
        )
    with contextlib.suppress(Exception):
        await nc.close()
    assert not nc.is_connected


async def test_no_anonymous_connection(server: Server) -> None:
    nc = Client()
    with pytest.raises((nats.errors.Error, OSError)):
        await nc.connect(f"nats://127.0.0.1:{server.nats.port}", allow_reconnect=False, connect_timeout=2)
    assert not nc.is_connected


@pytest.mark.parametrize("missing", sorted(PASSWORD_VARIABLES.values()))
def test_the_server_does_not_start_without_every_password(tmp_path: Path, missing: str) -> None:
    env = server_environment(random_passwords())
    del env[missing]
    done = subprocess.run(
        [nats_server_binary(), "-c", str(NATS_DIR / "nats.conf"), "-t"],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert f"variable reference for '{missing}'" in done.stderr


def test_the_shipped_configurations_are_valid() -> None:
    env = {"PATH": os.environ.get("PATH", ""), **server_environment(random_passwords())}
    for config in [NATS_DIR / "nats.conf", *sorted((NATS_DIR / "cluster").glob("nats-*.conf"))]:
        done = subprocess.run(
            [nats_server_binary(), "-c", str(config), "-t"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, (config, done.stderr)
        assert "is valid" in done.stderr + done.stdout


def test_every_user_has_a_password_variable() -> None:
    text = (NATS_DIR / "accounts.conf").read_text()
    users = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("user:")]
    assert sorted(users) == sorted(PASSWORD_VARIABLES)
    for user, variable in PASSWORD_VARIABLES.items():
        assert f"user: {user}\n        password: ${variable}\n" in text, user
