"""Streams of the contract: created idempotently, with the declared config, from many services."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable

import pytest
from nats.js.api import RetentionPolicy, StorageType
from nats.js.errors import APIError

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import (
    DEFAULT_STREAMS,
    Bus,
    PublishError,
    StreamConfigError,
    StreamSpec,
    connect_bus,
)
from mts1b_operations.core.embedded import EmbeddedNats

Eventually = Callable[..., Awaitable[None]]  # the conftest fixture

DAY = 24 * 3600.0

# The table of docs/decisions/0001-foundation-layout.md: name -> (max_age s or 0 for none,
# max_msgs_per_subject, deny_delete/deny_purge).
EXPECTED = {
    "OPERATIONS": (30 * DAY, -1, False),
    "AUDIT_CHECKPOINTS": (0.0, -1, True),
    "HEARTBEATS": (3600.0, 100, False),
    "MARKETDATA": (3600.0, -1, False),
    "NEWS": (7 * DAY, -1, False),
    "OMS": (30 * DAY, -1, False),
    "PORTFOLIO": (7 * DAY, -1, False),
    "STRATEGY": (7 * DAY, -1, False),
}


async def test_every_default_stream_exists_with_its_config(bus: Bus) -> None:
    await bus.ensure_streams()
    names = {info.config.name for info in await bus.js.streams_info()}
    assert names == set(EXPECTED)
    for name, (max_age, per_subject, protected) in EXPECTED.items():
        config = (await bus.js.stream_info(name)).config
        assert config.retention == RetentionPolicy.LIMITS, name
        assert config.storage == StorageType.FILE, name
        assert (config.max_age or 0.0) == max_age, name
        assert config.max_msgs_per_subject == per_subject, name
        assert config.deny_delete is protected, name
        assert config.deny_purge is protected, name
        assert config.duplicate_window == 120.0, name
        assert config.num_replicas == 1, name


@pytest.mark.parametrize(
    ("subject", "stream"),
    [
        (subjects.halt_requested(), "OPERATIONS"),
        (subjects.halt_resumed(), "OPERATIONS"),
        (subjects.watchdog_alert("vpin"), "OPERATIONS"),
        (subjects.operations_command("restart"), "OPERATIONS"),
        (subjects.audit_appended(), "OPERATIONS"),
        (subjects.compliance_report("stored"), "OPERATIONS"),
        (subjects.compliance_file("failed"), "OPERATIONS"),
        (subjects.audit_checkpoint(), "AUDIT_CHECKPOINTS"),
        (subjects.service_heartbeat("halt"), "HEARTBEATS"),
        (subjects.marketdata_bar("1m", "AAPL"), "MARKETDATA"),
        (subjects.marketdata_quote("AAPL"), "MARKETDATA"),
        (subjects.news_item("AAPL"), "NEWS"),
        (subjects.oms_order("filled"), "OMS"),
        (subjects.portfolio_greeks("paper-momentum"), "PORTFOLIO"),
        (subjects.strategy_signal("mom-us-eq"), "STRATEGY"),
    ],
)
async def test_each_contract_subject_lands_in_its_stream(bus: Bus, subject: str, stream: str) -> None:
    await bus.ensure_streams()
    ack = await bus.publish(subject, b"{}", msg_id=f"route-{subject}")
    assert ack.stream == stream


async def test_oms_commands_are_not_captured(bus: Bus) -> None:
    await bus.ensure_streams()
    with pytest.raises(PublishError, match=re.escape("mts.v1.oms.cmd.cancel_all")):
        await bus.publish(
            subjects.oms_command("cancel_all"), b"{}", msg_id="cmd-1", timeout=0.2, deadline=0.5
        )


async def test_ensure_streams_is_idempotent(bus: Bus) -> None:
    first = {info.config.name: info for info in await bus.ensure_streams()}
    await bus.publish(subjects.news_item("AAPL"), b"{}", msg_id="n-1")
    second = {info.config.name: info for info in await bus.ensure_streams()}
    assert second.keys() == first.keys()
    for name, info in second.items():
        assert info.created == first[name].created, f"{name} was recreated"
        assert info.config == first[name].config, f"{name} was changed"
    assert second["NEWS"].state.messages == 1


async def test_drifted_config_is_put_back(bus: Bus) -> None:
    await bus.ensure_streams()
    config = (await bus.js.stream_info("NEWS")).config
    await bus.js.update_stream(dataclasses.replace(config, max_age=3600.0, description="tampered"))
    await bus.ensure_streams()
    restored = (await bus.js.stream_info("NEWS")).config
    assert restored.max_age == 7 * DAY
    assert restored.description is None


async def test_concurrent_ensure_from_several_services(nats_url: str) -> None:
    buses = [await connect_bus(nats_url, name=f"svc-{i}") for i in range(4)]
    try:
        results = await asyncio.gather(*(bus.ensure_streams() for bus in buses))
        for infos in results:
            assert {info.config.name for info in infos} == set(EXPECTED)
        assert len(await buses[0].js.streams_info()) == len(EXPECTED)
    finally:
        for bus in buses:
            await bus.close()


async def test_audit_checkpoints_refuse_purge_and_delete(bus: Bus) -> None:
    await bus.ensure_streams()
    ack = await bus.publish(subjects.audit_checkpoint(), b'{"head": "abc"}', msg_id="cp-1")
    with pytest.raises(APIError, match="purge"):
        await bus.js.purge_stream("AUDIT_CHECKPOINTS")
    with pytest.raises(APIError):
        await bus.js.delete_msg("AUDIT_CHECKPOINTS", ack.seq)
    info = await bus.js.stream_info("AUDIT_CHECKPOINTS")
    assert info.state.messages == 1


async def test_an_update_the_server_refuses_names_the_stream(bus: Bus, test_stream: StreamSpec) -> None:
    await bus.ensure_streams([test_stream])
    in_memory = dataclasses.replace(test_stream, storage="memory")
    with pytest.raises(StreamConfigError, match=f"stream {test_stream.name}: update of storage refused"):
        await bus.ensure_streams([in_memory])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "has.dot"}, "name"),
        ({"subjects": ()}, "subjects"),
        ({"subjects": "a.b"}, "subjects"),
        ({"storage": "disk"}, "storage"),
        ({"retention": "forever"}, "retention"),
        ({"max_age": 0}, "max_age"),
        ({"max_msgs_per_subject": 0}, "max_msgs_per_subject"),
        ({"duplicate_window": 0}, "duplicate_window"),
        ({"max_age": 60, "duplicate_window": 120}, "duplicate_window"),
    ],
)
def test_bad_stream_spec_names_the_field(change: dict[str, object], field: str) -> None:
    valid: dict[str, object] = {
        "name": "S",
        "subjects": ("s.>",),
        "storage": "file",
        "retention": "limits",
    }
    with pytest.raises(ValueError, match=f"^{field}: "):
        StreamSpec(**{**valid, **change})  # type: ignore[arg-type]


async def test_bad_replicas_and_repeated_names_are_refused(bus: Bus, test_stream: StreamSpec) -> None:
    with pytest.raises(ValueError, match=r"^replicas: "):
        await bus.ensure_streams(replicas=0)
    with pytest.raises(ValueError, match=r"^specs: "):
        await bus.ensure_streams([test_stream, test_stream])


def test_default_streams_do_not_overlap() -> None:
    every = [subject for spec in DEFAULT_STREAMS for subject in spec.subjects]
    assert len(every) == len(set(every))
    assert all(spec.storage and spec.retention for spec in DEFAULT_STREAMS)


async def test_ensure_streams_waits_out_a_nats_restart(
    restartable_nats: EmbeddedNats, caplog: pytest.LogCaptureFixture, eventually: Eventually
) -> None:
    caplog.set_level(logging.WARNING, logger="mts1b_operations.core.bus")
    bus = await connect_bus(restartable_nats.url, name="ensure-restart", connect_deadline=10)
    try:
        await asyncio.to_thread(restartable_nats.stop)

        async def down() -> bool:
            return not bus.is_connected

        await eventually(down, within=15, what="the client to see the server gone")
        ensuring = asyncio.create_task(bus.ensure_streams(deadline=60))

        async def retried() -> bool:
            return any("ensure_streams: JetStream not reachable" in r.getMessage() for r in caplog.records)

        await eventually(retried, within=15, what="ensure_streams to retry during the outage")
        assert not ensuring.done()
        await asyncio.to_thread(restartable_nats.start)
        infos = await asyncio.wait_for(ensuring, 60)
        assert {info.config.name for info in infos} == set(EXPECTED)
    finally:
        await bus.close()


async def test_bad_deadline_is_refused(bus: Bus) -> None:
    with pytest.raises(ValueError, match=r"^deadline: "):
        await bus.ensure_streams(deadline=0)
