"""The SDK's NATS follow helpers on a real NATS: typed decode, bad messages, streams and plain subjects."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import msgspec
import pytest

from mts1b_operations.client import (
    FollowDecodeError,
    FollowedMessage,
    follow,
    follow_audit,
    follow_watchdog_alerts,
)
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import AuditAppended, WatchdogAlert

HASH = "ab" * 32


def appended(sequence: int) -> AuditAppended:
    return AuditAppended(
        sequence=sequence,
        hash=HASH,
        actor="operator:alice",
        action="halt.requested",
        subject_id="h-1",
        timestamp_us=1,
    )


def alert(kind: str, alert_id: str) -> WatchdogAlert:
    return WatchdogAlert(
        alert_id=alert_id,
        watchdog=kind,  # type: ignore[arg-type]
        status="firing",
        subject_id="AAPL",
        message="m",
        fired_at=datetime.now(UTC),
    )


async def test_follow_audit_yields_typed_entries_with_their_stream_position(bus: Bus) -> None:
    for sequence in range(2):
        await bus.publish(subjects.audit_appended(), appended(sequence), msg_id=f"appended-{sequence}")
    received: list[FollowedMessage[AuditAppended]] = []
    async with contextlib.aclosing(follow_audit(deliver="all", bus=bus)) as stream:
        async for message in stream:
            received.append(message)
            if len(received) == 2:
                break
    assert [m.payload.sequence for m in received] == [0, 1]
    assert [m.stream_sequence for m in received] == [1, 2]
    assert all(m.subject == subjects.audit_appended() and m.stored_at is not None for m in received)
    assert bus.is_connected  # a bus handed in is left open


async def test_an_undecodable_message_raises_or_goes_to_on_invalid(bus: Bus) -> None:
    await bus.publish(subjects.audit_appended(), b'{"type": "AuditAppended", "sequence": -1}', msg_id="bad-1")
    await bus.publish(subjects.audit_appended(), appended(7), msg_id="good-7")

    with pytest.raises(FollowDecodeError) as caught:
        async with contextlib.aclosing(follow_audit(deliver="all", bus=bus)) as stream:
            await anext(stream)
    assert caught.value.stream_sequence == 1
    assert "sequence" in str(caught.value)

    invalid: list[FollowDecodeError] = []
    async with contextlib.aclosing(follow_audit(deliver="all", bus=bus, on_invalid=invalid.append)) as stream:
        first = await anext(stream)
    assert first.payload.sequence == 7
    assert [e.stream_sequence for e in invalid] == [1]


async def test_watchdog_alerts_of_one_kind_or_all(bus: Bus) -> None:
    await bus.publish(subjects.watchdog_alert("vpin"), alert("vpin", "a-1"), msg_id="a-1")
    await bus.publish(subjects.watchdog_alert("db"), alert("db", "a-2"), msg_id="a-2")
    async with contextlib.aclosing(follow_watchdog_alerts("db", deliver="all", bus=bus)) as stream:
        only_db = await anext(stream)
    assert only_db.payload.alert_id == "a-2"
    async with contextlib.aclosing(follow_watchdog_alerts(deliver="all", bus=bus)) as stream:
        everything = [(await anext(stream)).payload.alert_id for _ in range(2)]
    assert everything == ["a-1", "a-2"]


async def test_a_subject_no_stream_captures_is_followed_live_over_core_nats(bus: Bus) -> None:
    subject = "mts1b.test.follow.plain"
    async with contextlib.aclosing(follow(subject, AuditAppended, bus=bus)) as stream:
        pending = asyncio.ensure_future(anext(stream))
        # Nothing is stored for a plain subject: publish until the subscription has seen one.
        for _ in range(200):
            await bus.nc.publish(subject, msgspec.json.encode(appended(3)))
            done, _ = await asyncio.wait({pending}, timeout=0.05)
            if done:
                break
        message = await pending
    assert message.payload.sequence == 3
    assert message.stream_sequence is None

    with pytest.raises(ValueError, match="deliver: 'all' needs a JetStream stream"):
        async with contextlib.aclosing(follow(subject, AuditAppended, bus=bus, deliver="all")) as stream:
            await anext(stream)


async def test_a_bad_deliver_option_is_refused(bus: Bus) -> None:
    with pytest.raises(ValueError, match="deliver: must be one of new, all, last"):
        await anext(follow(subjects.audit_appended(), AuditAppended, bus=bus, deliver="first"))  # type: ignore[arg-type]
