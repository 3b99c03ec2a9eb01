"""Fixtures of the `mts cmd` tests: a real halt service (process), operators, a stand-in OMS on NATS.

The halt service runs as its own process against the test's Postgres and NATS, with a funds
registry and a policy that expects the responder ``fake-oms`` to ack within one second.
``FakeOms`` is a tiny real NATS responder standing in for order management: it acks every
command with fixed counts and records what it received, so a test can prove that a refused
confirmation sent nothing.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from mts1b_operations.cli.main import cli
from mts1b_operations.client import HaltClient
from mts1b_operations.core import testing
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import (
    ServiceProcess,
    migrated,
    open_bus,
    open_pool,
    register_operators,
    service_process,
)

MTS = str(Path(sys.executable).parent / "mts")
RESPONDER = "fake-oms"
ORDERS_CANCELLED = 3
POSITIONS_CLOSED = 2
PAPER_FUNDS = ["paper-momentum", "paper-meanrev"]
LIVE_FUND = "live-equities"

FUNDS_YAML = """\
funds:
  - fund_id: paper-momentum
    mode: paper
    strategies: [mom-us-eq, mom-eu-eq]
  - fund_id: paper-meanrev
    mode: paper
    strategies: [mr-us-eq]
  - fund_id: live-equities
    mode: live
    strategies: [stat-arb-1]
"""

# A registry where "beta" is a fund and also a strategy (of fund alpha): a bare "beta" is ambiguous.
AMBIGUOUS_YAML = """\
funds:
  - fund_id: alpha
    mode: paper
    strategies: [beta]
  - fund_id: beta
    mode: paper
    strategies: [gamma]
"""

URL_VARIABLES = {
    "halt": "MTS_HALT_URL",
    "audit": "MTS_AUDIT_URL",
    "watchdogs": "MTS_WATCHDOGS_URL",
    "compliance": "MTS_COMPLIANCE_URL",
    "marketdata-api": "MTS_MARKETDATA_URL",
}


_CLEARED = (
    "MTS_TOKEN",
    "MTS_CREDENTIALS_FILE",
    "MTS_COSIGNER_TOKEN",
    "MTS_OMS_RESPONDERS",
    "MTS_FUNDS_FILE",
    "MTS_HALT_URL",
)


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for variable in _CLEARED:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def funds_file(tmp_path: Path) -> Path:
    path = tmp_path / "funds.yaml"
    path.write_text(FUNDS_YAML)
    return path


@pytest_asyncio.fixture
async def halt_db(database_url: str) -> str:
    return await migrated(database_url, "halt")


@pytest_asyncio.fixture
async def tokens(halt_db: str) -> dict[str, str]:
    """Bearer tokens: alice and bob are operators, vic is a viewer."""
    async with open_pool(halt_db, max_size=1) as pool:
        return await register_operators(pool, {"alice": "operator", "bob": "operator", "vic": "viewer"})


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    async with open_bus(nats_url, name="cmd-cli-test", ensure_streams=False) as connected:
        yield connected


@pytest.fixture
def expected_responders() -> list[str]:
    """The OMS responders the halt service waits for (parametrize to change it)."""
    return [RESPONDER]


@pytest_asyncio.fixture
async def halt_service(
    halt_db: str, nats_url: str, funds_file: Path, tmp_path: Path, expected_responders: list[str]
) -> AsyncIterator[ServiceProcess]:
    policy = tmp_path / "halt-policy.yaml"
    policy.write_text(f"oms:\n  expected_responders: {json.dumps(expected_responders)}\n  ack_timeout: 1.0\n")
    async with service_process(
        "mts1b_operations.halt",
        database_url=halt_db,
        nats_url=nats_url,
        log_dir=tmp_path / "logs",
        env={"MTS_FUNDS_FILE": str(funds_file), "MTS_HALT_POLICY_FILE": str(policy)},
    ) as process:
        yield process


class FakeOms(testing.FakeOms):
    """Stand-ins for order management (``core.testing.FakeOms``): ``fake-oms`` unless named, and
    acks with fixed counts."""

    async def start(
        self,
        name: str = RESPONDER,
        *,
        orders: int = ORDERS_CANCELLED,
        positions: int = POSITIONS_CLOSED,
        ok: bool = True,
        silent: bool = False,
    ) -> None:
        await super().start(name, orders=orders, positions=positions, ok=ok, silent=silent)


@pytest_asyncio.fixture
async def oms(nats_url: str) -> AsyncIterator[FakeOms]:
    """A fake OMS, not yet listening: call ``await oms.start()``."""
    fake = FakeOms(nats_url)
    yield fake
    await fake.close()


@pytest.fixture
def env(
    halt_service: ServiceProcess, tokens: dict[str, str], funds_file: Path, nats_url: str
) -> dict[str, str | None]:
    """The CLI's environment: alice's token, the halt service, the registry, NATS."""
    return {
        "MTS_HALT_URL": halt_service.base_url,
        "MTS_TOKEN": tokens["alice"],
        "MTS_FUNDS_FILE": str(funds_file),
        "MTS_NATS_URL": nats_url,
    }


async def mts(*args: str, env: dict[str, str | None]) -> Result:
    """``mts cmd ARGS`` through CliRunner (no terminal), in a thread: commands run their own loop."""
    return await asyncio.to_thread(CliRunner().invoke, cli, ["cmd", *args], env=env)


def viewer(service: ServiceProcess, tokens: dict[str, str]) -> HaltClient:
    return HaltClient(service.base_url, token=tokens["vic"])


def operator(service: ServiceProcess, tokens: dict[str, str], name: str = "alice") -> HaltClient:
    return HaltClient(service.base_url, token=tokens[name])


async def halts_ever(service: ServiceProcess, tokens: dict[str, str]) -> int:
    """How many halts the service has ever recorded (active or resumed)."""
    async with viewer(service, tokens) as client:
        return len(await client.history())


# ---------------------------------------------------------------- a real terminal


@dataclass
class TerminalRun:
    exit_code: int
    output: str


def _controlling_terminal() -> None:
    # The child's own session with the pty as its controlling terminal, so getpass can turn echo off.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(
    args: list[str], env: dict[str, str | None], answers: list[tuple[str, str]], *, timeout: float = 60.0
) -> TerminalRun:
    """Run ``mts ARGS`` on a pseudo-terminal; when ``prompt`` appears in its output, type ``answer``.

    ``answers`` are (prompt, answer) pairs in order. Bounded by ``timeout``; the output is
    everything the command wrote to the terminal.
    """
    merged = {**os.environ, **env, "COLUMNS": "200", "TERM": "dumb"}
    full_env = {k: v for k, v in merged.items() if v is not None}
    master, slave = pty.openpty()
    # 50 rows, 200 columns: wide enough that tables keep ids on one line.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen(
        [MTS, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=full_env,
        preexec_fn=_controlling_terminal,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    answered_at = 0  # a prompt is looked for in what came after the last answer
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"mts {' '.join(args)} did not finish in {timeout:g}s:\n{output!r}")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                output += chunk
                if pending and pending[0][0].encode() in output[answered_at:]:
                    _, answer = pending.pop(0)
                    answered_at = len(output)
                    os.write(master, answer.encode() + b"\r")
            elif proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert not pending, f"never asked {pending[0][0]!r}; output:\n{output.decode(errors='replace')}"
    return TerminalRun(code, output.decode(errors="replace"))
