"""End to end on the dev stack (real processes): halt, resume, flatten-paper and restart-all.

One `mts dev up` (embedded Postgres and NATS, the five services, the market replay and the
paper OMS) is shared by the tests of this module, in order: the halt drill, the flatten of
the paper funds, then the restart of every service. The `mts` commands run as processes, as an
operator runs them; what they did is checked on NATS (order events, positions), through the
halt and audit services, and on each service's /v1/healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from mts1b_operations.client import AuditClient, AuditRecord, ServiceClient
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.embedded import free_port, free_port_block, wait_until
from mts1b_operations.core.schemas import OrderEvent, Payload, Position, SchemaError, decode
from mts1b_operations.core.testing import eventually
from mts1b_operations.devstack import PORT_OFFSETS, RuntimeState, read_state

from .conftest import URL_VARIABLES

T = TypeVar("T")
P = TypeVar("P", bound=Payload)

MTS = str(Path(sys.executable).parent / "mts")
START_TIMEOUT = 150.0
PAPER_FUNDS = {"paper-momentum", "paper-meanrev"}
LIVE_FUND = "live-equities"
REASON_HEADER = "Mts-Reason"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

pytestmark = pytest.mark.slow


def _free_base_port() -> int:
    """A base port whose service block (base + each of PORT_OFFSETS) is free."""
    return free_port_block(PORT_OFFSETS.values())


@dataclass
class Stack:
    state_dir: Path
    runtime: RuntimeState
    funds_file: str
    tokens: dict[str, str]
    urls: dict[str, str]

    def env(self, token: str = "alice", **more: str) -> dict[str, str]:
        env = {
            **os.environ,
            "MTS_NATS_URL": self.runtime.nats_url,
            "MTS_FUNDS_FILE": self.funds_file,
            "MTS_TOKEN": self.tokens[token],
            "XDG_CONFIG_HOME": str(self.state_dir / "no-config"),
            **{URL_VARIABLES[name]: url for name, url in self.urls.items()},
            **more,
        }
        for variable in ("MTS_COSIGNER_TOKEN", "MTS_OMS_RESPONDERS", "MTS_CREDENTIALS_FILE"):
            if variable not in more:
                env.pop(variable, None)
        return env

    async def mts(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``mts ARGS`` as its own process (in a thread, so the test keeps hearing NATS)."""
        return await asyncio.to_thread(
            subprocess.run,
            [MTS, *args],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
        )


def _kill_everything(pids: list[int]) -> None:
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
        except psutil.NoSuchProcess:
            pass


@contextlib.contextmanager
def running_stack(base: Path, *options: str) -> Iterator[Stack]:
    """`mts dev up [options]` on ports of its own, with operators alice, bob (operator) and vic (viewer)."""
    state_dir = base / "stack"
    log = base / "dev-up.out"
    args = [
        *("--state-dir", str(state_dir), *options),
        *("--pg-port", str(free_port()), "--nats-port", str(free_port())),
        *("--base-port", str(_free_base_port())),
    ]
    with log.open("wb") as sink:
        up = subprocess.Popen(
            [MTS, "dev", "up", *args], stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    pids = [up.pid]
    try:

        def running() -> RuntimeState | None:
            assert up.poll() is None, f"mts dev up exited with {up.returncode}:\n{log.read_text()}"
            state = read_state(state_dir)
            runtime = None if state is None else state.runtime
            return runtime if runtime is not None and runtime.phase == "running" else None

        runtime = wait_until(running, timeout=START_TIMEOUT, what="mts dev up running")
        pids.extend(runtime.pids())
        state = read_state(state_dir)
        assert state is not None
        tokens = {}
        for name, role in (("alice", "operator"), ("bob", "operator"), ("vic", "viewer")):
            added = subprocess.run(
                [MTS, "operators", "add", name, "--role", role, "--json"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={**os.environ, "MTS_DATABASE_URL": runtime.database_url},
            )
            assert added.returncode == 0, added.stderr
            tokens[name] = json.loads(added.stdout)["token"]
        urls = {svc.name: svc.url for svc in runtime.services}
        yield Stack(state_dir, runtime, state.funds_file, tokens, urls)
    finally:
        pids.extend(child.pid for child in psutil.Process(up.pid).children(recursive=True))
        up.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.wait(timeout=90)
        _kill_everything(pids)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def bus(stack: Stack) -> AsyncIterator[Bus]:
    connected = await connect_bus(stack.runtime.nats_url, name="cmd-e2e", connect_deadline=30)
    yield connected
    await connected.close()


@dataclass
class Heard:
    """Messages of one subject pattern, decoded, with their headers, from the moment it was started."""

    items: list[tuple[Any, dict[str, str]]] = field(default_factory=list)

    def payloads(self) -> list[Any]:
        return [payload for payload, _ in self.items]


async def listen(bus: Bus, subject: str, payload_type: type[P]) -> tuple[Heard, Any]:
    heard = Heard()

    async def on_message(msg: Msg) -> None:
        with contextlib.suppress(SchemaError):
            heard.items.append((decode(msg.data, payload_type), dict(msg.headers or {})))

    sub = await bus.js.subscribe(
        subject, cb=on_message, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    return heard, sub


async def trail(stack: Stack, subject_id: str, action: str) -> list[AuditRecord] | None:
    async with AuditClient(stack.urls["audit"], token=stack.tokens["vic"]) as audit:
        found = (await audit.trail(subject_id)).entries
    return found if any(entry.action == action for entry in found) else None


def _paper(event: OrderEvent) -> bool:
    return event.fund_id in PAPER_FUNDS


async def test_halt_rejects_new_orders_cancels_open_ones_and_a_cosigned_resume_lets_them_flow(
    stack: Stack, bus: Bus
) -> None:
    orders, sub = await listen(bus, "mts.v1.oms.order.*", OrderEvent)
    try:

        async def flowing() -> bool | None:
            return True if any(e.event == "accepted" and _paper(e) for e in orders.payloads()) else None

        await eventually(flowing, what="paper orders accepted (orders flowing)", within=90)

        halted = await stack.mts("cmd", "halt", "--confirm", "HALT", "--reason", "drill")
        after_halt = datetime.now(UTC)
        assert halted.returncode == 0, halted.stdout + halted.stderr
        out = halted.stdout
        assert "HALTED" in out
        halt_id = re.search(rf"FIRM_HALT ({UUID}) on firm", out)
        command = re.search(rf"cancel_all ({UUID}) \(funds: every fund\)", out)
        ack_row = re.search(r"│ paper-oms\s+│ ok\s+│ (\d+)\s+│", out)
        assert halt_id is not None, out
        assert command is not None, out
        assert ack_row is not None, out
        cancelled = int(ack_row.group(1))

        # Every order the command cancelled is reported on NATS with the command's id as reason.
        async def all_cancels_heard() -> int | None:
            by_command = {
                e.order_id
                for e, headers in orders.items
                if e.event == "canceled" and command.group(1) in headers.get(REASON_HEADER, "")
            }
            return len(by_command) if len(by_command) == cancelled else None

        await eventually(all_cancels_heard, what=f"{cancelled} cancellations by the command")

        # New orders are refused: each new paper order after the halt is canceled at once.
        def after(e: OrderEvent) -> bool:
            return _paper(e) and e.ts > after_halt

        async def refused_orders() -> list[str] | None:
            fresh = [e.order_id for e in orders.payloads() if after(e) and e.event == "new"]
            canceled = {e.order_id for e in orders.payloads() if after(e) and e.event == "canceled"}
            return fresh if len(fresh) >= 2 and set(fresh) <= canceled else None

        await eventually(refused_orders, what="new orders refused after the halt", within=60)
        reasons = [h.get(REASON_HEADER, "") for e, h in orders.items if after(e) and e.event == "canceled"]
        assert all(reason.startswith("rejected:") for reason in reasons), reasons
        fresh = {e.order_id for e in orders.payloads() if after(e) and e.event == "new"}
        assert not [e for e in orders.payloads() if e.order_id in fresh and e.event in ("accepted", "filled")]

        # The audit trail shows the halt, the command and the OMS's ack.
        halt_trail = await eventually(
            lambda: trail(stack, halt_id.group(1), "halt.requested"), what="the halt in the audit trail"
        )
        assert [(e.actor, e.data["reason"]) for e in halt_trail if e.action == "halt.requested"] == [
            ("operator:alice", "drill")
        ]
        command_trail = await eventually(
            lambda: trail(stack, command.group(1), "halt.oms.ack"), what="the ack in the audit trail"
        )
        assert {(e.action, e.actor) for e in command_trail} >= {
            ("halt.oms.command", "operator:alice"),
            ("halt.oms.ack", "paper-oms"),
        }

        resumed = await stack.mts(
            "cmd", "resume", "--confirm", "RESUME", "--cosigner-token", stack.tokens["bob"]
        )
        after_resume = datetime.now(UTC)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert (
            f"RESUMED: {halt_id.group(1)} on firm by operator:alice, cosigned by operator:bob"
            in resumed.stdout
        )

        async def flowing_again() -> bool | None:
            return (
                True
                if any(e.event == "accepted" and _paper(e) and e.ts > after_resume for e in orders.payloads())
                else None
            )

        await eventually(flowing_again, what="orders accepted again after the resume", within=60)
        await eventually(
            lambda: trail(stack, halt_id.group(1), "halt.resumed"), what="the resume in the audit trail"
        )
    finally:
        await sub.unsubscribe()


async def test_flatten_paper_zeroes_the_paper_positions_and_leaves_the_live_fund_alone(
    stack: Stack, bus: Bus
) -> None:
    positions, sub = await listen(bus, "mts.v1.portfolio.position.*", Position)
    try:

        async def holding() -> bool | None:
            held = [p for p in positions.payloads() if p.fund_id in PAPER_FUNDS and p.quantity != 0]
            return True if held else None

        await eventually(holding, what="a paper position to flatten", within=90)

        flattened = await stack.mts(
            "cmd", "flatten-paper", "--confirm", "FLATTEN", "--reason", "drill", "--json"
        )
        assert flattened.returncode == 0, flattened.stdout + flattened.stderr
        data = json.loads(flattened.stdout)
        assert sorted(data["impact"]["flatten"]) == sorted(PAPER_FUNDS)
        assert data["impact"]["skipped"] == [{"fund_id": LIVE_FUND, "why": "live fund: never touched"}]
        assert sorted(data["outcome"]["fund_ids"]) == sorted(PAPER_FUNDS)
        (ack,) = data["outcome"]["acks"]
        assert (ack["responder"], ack["ok"]) == ("paper-oms", True)
        assert ack["positions_closed"] >= 1
        acked_at = datetime.fromisoformat(ack["acked_at"])

        # The OMS publishes its positions the moment it has flattened: the first snapshot after
        # the ack has every share position of each paper fund at zero.
        async def snapshot_after_flatten() -> dict[str, list[Position]] | None:
            later = [p for p in positions.payloads() if p.ts >= acked_at]
            firsts: dict[str, list[Position]] = {}
            for fund in PAPER_FUNDS:
                mine = [p for p in later if p.fund_id == fund]
                if not mine:
                    return None
                first = min(p.ts for p in mine)
                firsts[fund] = [p for p in mine if p.ts == first]
            return firsts

        snapshot = await eventually(snapshot_after_flatten, what="positions published after the flatten")
        for fund, held in snapshot.items():
            assert held, fund
            assert all(p.quantity == 0 for p in held), [(p.symbol, p.quantity) for p in held]
        assert not [p for p in positions.payloads() if p.fund_id == LIVE_FUND]
    finally:
        await sub.unsubscribe()


async def instance_of(url: str) -> str | None:
    async with ServiceClient(url, get_attempts=1, connect_timeout=1, read_timeout=2) as client:
        return (await client.healthz()).instance_id


async def test_restart_all_brings_every_service_back_with_a_new_instance(stack: Stack) -> None:
    before = {name: await instance_of(url) for name, url in stack.urls.items()}
    assert len(before) == 5

    result = await stack.mts("cmd", "restart-all", "--confirm", "RESTART", "--timeout", "90", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["not_back"] == []
    rows = {row["service"]: row for row in data["services"]}
    assert sorted(rows) == sorted(before)
    for name, row in rows.items():
        assert row["before_instance"] == before[name]
        assert row["after_instance"] not in (None, before[name])
        assert [ack["instance_id"] for ack in row["acks"]] == [before[name]]
        assert await instance_of(stack.urls[name]) == row["after_instance"]
