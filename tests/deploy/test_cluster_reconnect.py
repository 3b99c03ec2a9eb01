"""A client that knows one cluster node reconnects, with its credentials, to a node the cluster announced.

nats-py puts the servers a cluster announces into its pool without credentials; core's
connect_bus hands the URL's credentials over as connection options so that a reconnect to an
announced node authenticates (deploy/nats has no anonymous access). Streams ensured through the
Bus are at its replica count (MTS_NATS_STREAM_REPLICAS), and stay readable after the loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest

from mts1b_operations.core.bus import StreamSpec, connect_bus
from mts1b_operations.core.testing import eventually

from ._nats_helpers import NatsCluster, random_passwords, stream_replicas, user_url

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[NatsCluster, dict[str, str]]]:
    passwords = random_passwords()
    nodes = NatsCluster(tmp_path / "nats", passwords).start()
    try:
        yield nodes, passwords
    finally:
        nodes.stop()


async def test_reconnect_through_an_announced_node_authenticates(
    cluster: tuple[NatsCluster, dict[str, str]],
) -> None:
    nodes, passwords = cluster
    first = nodes.nodes[0]
    # Only node 1 is named: nodes 2 and 3 are known from what the cluster announces.
    bus = await connect_bus(
        user_url("halt", passwords["halt"], first.port),
        name="test-reconnect",
        connect_deadline=10,
        stream_replicas=3,
    )
    try:
        spec = StreamSpec(
            name="DRILL", subjects=("mts.v1.operations.halt.drill",), storage="file", retention="limits"
        )
        (info,) = await bus.ensure_streams([spec])
        assert info.config.num_replicas == 3
        kv = await bus.kv("mts_halts", history=1)
        replicas = await eventually(lambda: stream_replicas(bus.js, "KV_mts_halts"), within=15, what="bucket")
        assert replicas == 3
        await kv.put("firm", b"before")
        first_ack = await bus.publish("mts.v1.operations.halt.drill", b"1", msg_id="drill-1", deadline=10)

        first.kill()

        await eventually(lambda: bus.reconnects >= 1 and bus.is_connected, within=30, what="a reconnect")
        assert "authorization" not in repr(bus.last_error).lower(), bus.last_error
        second_ack = await bus.publish("mts.v1.operations.halt.drill", b"2", msg_id="drill-2", deadline=20)
        assert second_ack.seq == first_ack.seq + 1

        async def read_back() -> bytes | None:
            try:
                return (await kv.get("firm")).value
            except nats.errors.TimeoutError:  # the bucket's group may be electing a new leader
                return None

        assert await eventually(read_back, within=20, what="the bucket readable again") == b"before"
    finally:
        await bus.close()
