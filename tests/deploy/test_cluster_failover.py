"""A 3-node JetStream cluster (deploy/nats/cluster) loses a node in the middle of the work.

Three nats-server processes on loopback, configured by deploy/nats/cluster/nats-{1,2,3}.conf
(routes rewritten to loopback ports), streams and the mts_halts bucket at R3
(MTS_NATS_STREAM_REPLICAS=3). The halt and audit services run against it with their own users
and roles, the client URL listing all three servers. While halts are requested over HTTP and a
burst of order events (which the audit service records) is published, the node leading the
OPERATIONS stream is killed with SIGKILL. Then: every acknowledged halt (HTTP 2xx) is in
Postgres, in the bucket and in the audit chain; every acknowledged publish is in its stream and
in the audit chain; both services run on with the same PID, are ready, and take new halts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import nats.errors
import pytest
from nats.js.errors import NotFoundError

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import DEFAULT_STREAMS, connect_bus
from mts1b_operations.core.testing import eventually

from ._nats_helpers import NatsCluster, random_passwords, stream_replicas, user_url
from ._pg_helpers import prepare_database, role_url
from ._services_helpers import (
    audit_trail,
    register_operator,
    request_halt,
    service_env,
    start_services,
    stop_services,
)

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

FUNDS = [f"fund-{n:02d}" for n in range(24)]
ORDERS = 200
HALTS_BEFORE_KILL = 2
ORDERS_BEFORE_KILL = 20


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[NatsCluster, dict[str, str]]]:
    passwords = random_passwords()
    nodes = NatsCluster(tmp_path / "nats", passwords).start()
    try:
        yield nodes, passwords
    finally:
        nodes.stop()


def _funds_file(path: Path) -> Path:
    lines = ["funds:"]
    for fund in FUNDS:
        lines += [f"  - fund_id: {fund}", "    mode: paper", f"    strategies: [{fund}-s]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _order(order_id: str) -> schemas.OrderEvent:
    return schemas.OrderEvent(
        event="new",
        event_id=f"{order_id}:new",
        order_id=order_id,
        fund_id="fund-00",
        symbol="AAPL",
        side="buy",
        quantity=Decimal(10),
        order_type="market",
        ts=datetime.now(UTC),
    )


async def test_losing_the_stream_leader_loses_nothing_acknowledged(
    tmp_path: Path, database_url: str, cluster: tuple[NatsCluster, dict[str, str]]
) -> None:
    nodes, passwords = cluster
    await prepare_database(database_url)
    token = await register_operator(database_url, "ada")
    extra = {"MTS_NATS_STREAM_REPLICAS": "3", "MTS_FUNDS_FILE": str(_funds_file(tmp_path / "funds.yaml"))}
    envs = {
        name: service_env(
            name,
            database_url=database_url,
            nats_passwords=passwords,
            nats_ports=nodes.ports,
            work_dir=tmp_path,
            extra=extra,
        )
        for name in ("halt", "audit")
    }
    envs["audit"]["MTS_AUDIT_EXTRA_SUBJECTS"] = subjects.OMS_ORDER_ALL  # the order events are audited too
    services = start_services(envs, tmp_path / "logs")
    pids = {name: process.pid for name, process in services.items()}
    cli = await connect_bus(
        user_url("cli", passwords["cli"], nodes.ports), name="test-cli", connect_deadline=10
    )
    oms = await connect_bus(
        user_url("oms", passwords["oms"], nodes.ports), name="test-oms", connect_deadline=10
    )
    try:
        for spec in DEFAULT_STREAMS:
            assert (await cli.js.stream_info(spec.name)).config.num_replicas == 3, spec.name
        bucket = await eventually(
            lambda: stream_replicas(cli.js, "KV_mts_halts"), within=15, what="mts_halts"
        )
        # ensure_streams ran before the halt service's hook created the bucket, so 3 here is Bus.kv's default.
        assert bucket == 3
        leader = (await cli.js.stream_info("OPERATIONS")).cluster
        assert leader is not None
        assert leader.leader is not None
        doomed = nodes.node_named(leader.leader)

        killed_at: list[float] = []
        orders_at_kill: list[int] = []
        acked_halts: dict[str, str] = {}  # fund -> halt id
        acked_orders: dict[str, tuple[str, int]] = {}  # order id -> (stream, sequence)
        async with httpx.AsyncClient(timeout=30) as client:
            # Each side keeps its last part for after the kill: work must go on across it,
            # however fast the rest went.
            killed = asyncio.Event()

            async def halts() -> None:
                for n, fund in enumerate(FUNDS):
                    if n == len(FUNDS) - 2:
                        await killed.wait()
                    try:
                        answer = await request_halt(
                            client,
                            services["halt"],
                            token,
                            severity="FUND_HALT",
                            fund_id=fund,
                            reason="drill",
                        )
                    except httpx.HTTPError:
                        continue  # not acknowledged: nothing is promised
                    if answer.is_success:
                        acked_halts[fund] = answer.json()["halt"]["halt_id"]

            async def orders() -> None:
                async def one(order_id: str) -> None:
                    ack = await oms.publish(
                        subjects.oms_order("new"), _order(order_id), msg_id=order_id, deadline=20
                    )
                    acked_orders[order_id] = (ack.stream, ack.seq)

                ids = [f"ord-{uuid.uuid4().hex[:12]}" for _ in range(ORDERS)]
                for start in range(0, ORDERS, 20):
                    if start == ORDERS - 40:
                        await killed.wait()
                    await asyncio.gather(*(one(i) for i in ids[start : start + 20]), return_exceptions=True)

            async def kill_when_busy() -> None:
                await eventually(
                    lambda: len(acked_halts) >= HALTS_BEFORE_KILL and len(acked_orders) >= ORDERS_BEFORE_KILL,
                    within=60,
                    what="work under way before the kill",
                )
                doomed.kill()
                killed_at.append(time.monotonic())
                orders_at_kill.append(len(acked_orders))
                killed.set()

            await asyncio.gather(halts(), orders(), kill_when_busy())
            assert not doomed.running
            assert len(acked_halts) > HALTS_BEFORE_KILL
            assert len(acked_orders) > orders_at_kill[0], "the burst went on after the kill"

            # The services came through on their own: same processes, ready, and they take a new halt.
            for name, process in services.items():
                assert process.pid == pids[name]
                await eventually(
                    lambda p=process: p.get("/v1/readyz").status == 200, within=30, what=f"{name} ready"
                )
            after = await request_halt(
                client, services["halt"], token, severity="FIRM_HALT", reason="after the kill"
            )
            assert after.status_code == 201, after.text
            acked_halts["firm"] = after.json()["halt"]["halt_id"]
            log.info(
                "killed %s (leader of OPERATIONS); %d halts and %d order events acknowledged "
                "(%d at the kill); "
                "both services ready and a new halt taken %.1f s after the kill",
                leader.leader,
                len(acked_halts),
                len(acked_orders),
                orders_at_kill[0],
                time.monotonic() - killed_at[0],
            )

            conn = await asyncpg.connect(role_url(database_url, "mts_migrate"))
            try:
                active = {r["halt_id"] for r in await conn.fetch("SELECT halt_id FROM halts WHERE active")}
            finally:
                await conn.close()
            assert set(acked_halts.values()) <= active

            # JetStream API calls time out while the cluster elects new leaders: asked again until then.
            async def all_in_bucket() -> bool:
                for scope, halt_id in acked_halts.items():
                    key = "firm" if scope == "firm" else f"fund.{scope}"
                    try:
                        entry = await (await cli.js.key_value("mts_halts")).get(key)
                    except (NotFoundError, nats.errors.TimeoutError):
                        return False
                    if schemas.decode(entry.value or b"", schemas.HaltRequested).halt_id != halt_id:
                        return False
                return True

            await eventually(all_in_bucket, within=30, what="every acknowledged halt in mts_halts")

            unread = dict(acked_orders)

            async def all_in_stream() -> bool:
                for order_id, (stream, seq) in list(unread.items()):
                    try:
                        stored = await cli.js.get_msg(stream, seq)
                    except nats.errors.TimeoutError:
                        return False
                    assert schemas.decode(stored.data or b"", schemas.OrderEvent).order_id == order_id
                    del unread[order_id]
                return True

            await eventually(all_in_stream, within=30, what="every acknowledged order event in its stream")

            unaudited = [*acked_halts.values(), *acked_orders]

            async def all_audited() -> bool:
                while unaudited:
                    if not await audit_trail(client, services["audit"], token, unaudited[0]):
                        return False
                    unaudited.pop(0)
                return True

            await eventually(
                all_audited, within=60, what="every acknowledged halt and order in the audit chain"
            )
            verified = await client.get(
                f"{services['audit'].base_url}/v1/audit/verify", headers={"Authorization": f"Bearer {token}"}
            )
            assert verified.status_code == 200, verified.text
            assert verified.json()["ok"] is True
    finally:
        await cli.close()
        await oms.close()
        codes = stop_services(services.values())
    assert set(codes.values()) == {0}, {name: p.stderr()[-2000:] for name, p in services.items()}
