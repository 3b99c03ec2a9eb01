"""Connecting to NATS: deadlines, clusters, reconnects, health, KV buckets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from nats.js.errors import BucketNotFoundError

from mts1b_operations.core.bus import (
    Bus,
    BusConnectError,
    BusUnavailableError,
    connect_bus,
    split_servers,
)
from mts1b_operations.core.embedded import EmbeddedNats, free_port

Eventually = Callable[..., Awaitable[None]]  # the conftest fixture


async def test_connects_pings_and_closes(nats_url: str) -> None:
    bus = await connect_bus(nats_url, name="ping-test")
    assert bus.is_connected
    rtt = await bus.ping(timeout=1.0)
    assert 0 <= rtt < 1.0
    await bus.close()
    assert not bus.is_connected
    with pytest.raises(BusUnavailableError, match="not connected"):
        await bus.ping()
    await bus.close()  # idempotent


async def test_comma_separated_servers_reach_the_live_one(nats_url: str) -> None:
    dead = f"nats://127.0.0.1:{free_port('127.0.0.1')}"
    bus = await connect_bus(f"{dead}, {nats_url}", name="cluster-test", connect_deadline=20)
    try:
        await bus.ping()
        known = {f"{uri.hostname}:{uri.port}" for uri in bus.nc.servers}
        assert dead.removeprefix("nats://") in known
        assert nats_url.removeprefix("nats://") in known
        assert f"nats://{bus.nc.connected_url.netloc}" == nats_url  # type: ignore[union-attr]
    finally:
        await bus.close()


async def test_connect_deadline_gives_a_clear_error() -> None:
    dead = f"nats://127.0.0.1:{free_port('127.0.0.1')}"
    started = time.monotonic()
    with pytest.raises(BusConnectError, match=dead):
        await connect_bus(dead, name="nobody-home", connect_deadline=1.0)
    # One bounded attempt may still be running when the deadline passes, not more.
    assert time.monotonic() - started < 8


async def test_credentials_in_the_url_stay_out_of_errors() -> None:
    dead = f"nats://operator:s3cret@127.0.0.1:{free_port('127.0.0.1')}"
    with pytest.raises(BusConnectError) as caught:
        await connect_bus(dead, name="secretive", connect_deadline=0.5)
    assert "s3cret" not in str(caught.value)
    assert "//***@127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "field"),
    [("", "url"), (" , ", "url"), ("http://127.0.0.1:4222", "url")],
)
async def test_bad_url_is_refused_naming_the_argument(url: str, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        await connect_bus(url, name="x")


async def test_missing_name_and_bad_deadline_are_refused(nats_url: str) -> None:
    with pytest.raises(ValueError, match=r"^name: "):
        await connect_bus(nats_url, name=" ")
    with pytest.raises(ValueError, match=r"^connect_deadline: "):
        await connect_bus(nats_url, name="x", connect_deadline=0)


def test_split_servers() -> None:
    assert split_servers("nats://a:1,nats://b:2 ,, tls://c:3") == ["nats://a:1", "nats://b:2", "tls://c:3"]


async def test_first_connect_waits_for_a_server_that_comes_up(restartable_nats: EmbeddedNats) -> None:
    await asyncio.to_thread(restartable_nats.stop)
    connecting = asyncio.create_task(connect_bus(restartable_nats.url, name="late", connect_deadline=60))
    done, _ = await asyncio.wait({connecting}, timeout=1.5)
    assert not done, "connect_bus returned although no server was running"
    await asyncio.to_thread(restartable_nats.start)
    bus = await asyncio.wait_for(connecting, 30)
    try:
        await bus.ping()
    finally:
        await bus.close()


async def test_reconnects_after_a_server_restart(
    restartable_nats: EmbeddedNats, eventually: Eventually
) -> None:
    bus = await connect_bus(restartable_nats.url, name="reconnect-test", connect_deadline=10)
    try:
        await asyncio.to_thread(restartable_nats.stop)

        # nats-py marks the client as reconnecting first and only calls the disconnect callback
        # (which counts) once it has closed the socket: both must happen, in either order seen.
        async def down_and_counted() -> bool:
            return not bus.is_connected and bus.disconnects >= 1

        await eventually(down_and_counted, within=15, what="the client to notice and count the loss")
        with pytest.raises(BusUnavailableError):
            await bus.ping(timeout=0.5)
        await asyncio.to_thread(restartable_nats.start)
        await bus.wait_connected(timeout=20)
        assert bus.reconnects >= 1
        await bus.ping()
    finally:
        await bus.close()


async def test_kv_creates_then_binds(bus: Bus, nats_url: str) -> None:
    with pytest.raises(BucketNotFoundError):
        await bus.js.key_value("test_kv")
    created = await bus.kv("test_kv", history=5)
    await created.put("halt.fund-a", b"active")
    other = await connect_bus(nats_url, name="kv-other")
    try:
        bound = await other.kv("test_kv", history=1)  # binds: config applies on creation only
        entry = await bound.get("halt.fund-a")
        assert entry.value == b"active"
        status = await bound.status()
        assert status.history == 5
    finally:
        await other.close()


async def test_waiting_on_a_closed_connection_fails_at_once(nats_url: str) -> None:
    bus = await connect_bus(nats_url, name="closed-test", connect_deadline=10)
    await bus.wait_connected(timeout=5)
    await bus.close()
    with pytest.raises(BusUnavailableError, match="closed"):
        await bus.wait_connected()  # no timeout: would wait forever
