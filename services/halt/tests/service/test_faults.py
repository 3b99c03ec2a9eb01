"""The service through a NATS outage: a halt is still taken and answered, OMS commands say why not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.errors import NoKeysError

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, BusUnavailableError, connect_bus
from mts1b_operations.core.embedded import EmbeddedNats
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck, decode, encode
from mts1b_operations.core.testing import eventually
from mts1b_operations.halt import BUCKET
from mts1b_operations.halt.entrypoints._service import OMS_ACK_FACT, OMS_COMMAND_FACT

from .conftest import FakeOms, HaltApp, running_halt_app

FUND_HALT: dict[str, Any] = {
    "severity": "FUND_HALT",
    "fund_id": "paper-momentum",
    "reason": "PL",
    "mode": "cancel_open",
}


@asynccontextmanager
async def halted_with_nats_down(
    pool: asyncpg.Pool, halt_db: str, nats: EmbeddedNats, funds_file: Path, tokens: dict[str, str]
) -> AsyncIterator[tuple[HaltApp, Bus, dict[str, Any]]]:
    """The halt service with NATS stopped under it and a cancel_open fund halt taken meanwhile."""
    bus = await connect_bus(nats.url, name="halt-fault-test", connect_deadline=10)
    await bus.ensure_streams()
    try:
        async with running_halt_app(
            pool=pool, bus=bus, database_url=halt_db, nats_url=nats.url, funds_file=funds_file, tokens=tokens
        ) as app:
            nats.stop()

            async def disconnected() -> bool:
                return not bus.is_connected

            await eventually(disconnected, what="the bus to notice NATS is gone")
            response = await app.post("/v1/halts", "alice", FUND_HALT)
            assert response.status_code == 201, response.text
            yield app, bus, response.json()["oms_command"]
    finally:
        await bus.close()


async def test_with_nats_down_a_halt_is_stored_answered_and_mirrored_once_nats_is_back(
    pool: asyncpg.Pool,
    halt_db: str,
    restartable_nats: EmbeddedNats,
    funds_file: Path,
    policy_file: Path,
    tokens: dict[str, str],
) -> None:
    halted = halted_with_nats_down(pool, halt_db, restartable_nats, funds_file, tokens)
    async with halted as (app, bus, report):
        assert report["sent"] is False
        assert "NATS is not connected" in report["detail"]
        assert [h.scope for h in await app.service.manager.list_active()] == ["fund.paper-momentum"]

        cancel = await app.post("/v1/oms/cancel-all", "alice", {"reason": "drill"})
        assert cancel.status_code == 503, cancel.text
        assert cancel.json()["extra"]["code"] == "unavailable"
        assert cancel.json()["detail"].startswith("NATS is not reachable")

        restartable_nats.start()

        async def mirrored() -> bool:
            if not bus.is_connected:
                return False
            kv = await bus.js.key_value(BUCKET)
            try:
                return "fund.paper-momentum" in await kv.keys()
            except NoKeysError:
                return False

        await eventually(mirrored, within=30, what="the halt in the KV bucket once NATS is back")


async def test_a_cancel_all_that_could_not_be_sent_is_re_sent_once_nats_is_back(
    pool: asyncpg.Pool,
    halt_db: str,
    restartable_nats: EmbeddedNats,
    funds_file: Path,
    policy_file: Path,
    tokens: dict[str, str],
) -> None:
    halted = halted_with_nats_down(pool, halt_db, restartable_nats, funds_file, tokens)
    async with halted as (app, bus, report):
        assert report["sent"] is False
        assert "re-sent in the background" in report["detail"]
        assert app.service.pending_resends == 1

        # NATS back, no OMS yet: the re-send goes out, reaches nobody, and must keep going.
        restartable_nats.start()
        stream = await eventually(
            lambda: _stream_of(bus, OMS_COMMAND_FACT), within=30, what="the bus back with its streams"
        )
        await eventually(
            lambda: _last_on(bus, stream, OMS_COMMAND_FACT), within=30, what="a re-send that reached no OMS"
        )
        assert app.service.pending_resends == 1

        received: list[OmsCommand] = []

        async def on_command(msg: Msg) -> None:
            command = decode(msg.data, OmsCommand)
            received.append(command)
            ack = OmsCommandAck(
                command_id=command.command_id,
                responder="fake-oms",
                command=command.command,
                ok=True,
                orders_cancelled=3,
                acked_at=datetime.now(UTC),
            )
            await msg.respond(encode(ack))

        oms = await connect_bus(restartable_nats.url, name="fake-oms", connect_deadline=10)
        try:
            await oms.nc.subscribe(subjects.oms_command("cancel_all"), cb=on_command)
            await oms.nc.flush()

            async def re_sent_and_done() -> bool:
                return bool(received) and app.service.pending_resends == 0

            await eventually(re_sent_and_done, within=30, what="the cancel_all re-sent until an OMS acked it")
        finally:
            await oms.close()
        assert received[0].command == "cancel_all"
        assert received[0].fund_ids == ["paper-momentum"]


async def _stream_of(bus: Bus, subject: str) -> str | None:
    try:
        return await bus.js.find_stream_name_by_subject(subject)
    except (NatsError, BusUnavailableError):
        return None


async def _last_on(bus: Bus, stream: str, subject: str) -> bool:
    """Something was published on ``subject`` (the halt service records every command it sent)."""
    try:
        await bus.js.get_last_msg(stream, subject)
    except (NatsError, BusUnavailableError):
        return False
    return True


async def test_a_cancel_all_that_reached_no_oms_is_re_sent_until_one_acks(
    halt_app: HaltApp, fake_oms: FakeOms
) -> None:
    response = await halt_app.post("/v1/halts", "alice", FUND_HALT)
    assert response.status_code == 201, response.text
    report = response.json()["oms_command"]
    assert report["sent"] is True
    assert report["outcome"]["complete"] is False
    assert "re-sent in the background until every OMS acks it" in report["detail"]
    assert halt_app.service.pending_resends == 1

    await fake_oms.start("late-oms", orders=2)

    async def acked() -> bool:
        return bool(fake_oms.received) and halt_app.service.pending_resends == 0

    await eventually(acked, within=30, what="the cancel_all re-sent until the late OMS acked it")
    [(responder, command)] = fake_oms.received
    assert (responder, command.command, command.fund_ids) == ("late-oms", "cancel_all", ["paper-momentum"])


async def test_a_lifted_halt_stops_its_re_sends(halt_app: HaltApp) -> None:
    response = await halt_app.post("/v1/halts", "alice", FUND_HALT)
    assert response.status_code == 201, response.text
    assert halt_app.service.pending_resends == 1
    resumed = await halt_app.post(
        "/v1/halts/resume",
        "alice",
        {"scope": "paper-momentum", "cosigned_by": "bob", "reason": "false alarm"},
        cosigner="bob",
    )
    assert resumed.status_code == 200, resumed.text

    async def stopped() -> bool:
        return halt_app.service.pending_resends == 0

    await eventually(stopped, within=30, what="the re-send to stop once the halt was lifted")


async def test_repeated_requests_for_a_halt_share_one_re_send(halt_app: HaltApp) -> None:
    for _ in range(5):
        response = await halt_app.post("/v1/halts", "alice", FUND_HALT)
        assert response.status_code in (200, 201), response.text
        assert "re-sent in the background" in response.json()["oms_command"]["detail"]
    assert halt_app.service.pending_resends == 1


async def test_an_ok_ack_after_a_failed_one_is_a_fact_too(halt_app: HaltApp, bus: Bus, nats_url: str) -> None:
    replies: list[bool] = []

    async def flaky_oms(msg: Msg) -> None:
        command = decode(msg.data, OmsCommand)
        ok = bool(replies)  # fails the first time, succeeds after
        replies.append(ok)
        ack = OmsCommandAck(
            command_id=command.command_id,
            responder="flaky-oms",
            command=command.command,
            ok=ok,
            error=None if ok else "broker session down",
            acked_at=datetime.now(UTC),
        )
        await msg.respond(encode(ack))

    oms = await connect_bus(nats_url, name="flaky-oms", connect_deadline=10)
    try:
        await oms.nc.subscribe(subjects.oms_command("cancel_all"), cb=flaky_oms)
        await oms.nc.flush()
        response = await halt_app.post("/v1/halts", "alice", FUND_HALT)
        assert response.json()["oms_command"]["outcome"]["failed"] == ["flaky-oms"]

        async def done() -> bool:
            return halt_app.service.pending_resends == 0

        await eventually(done, within=30, what="the re-send to end once the OMS acked ok")
        assert replies[:2] == [False, True]
        stream = await bus.js.find_stream_name_by_subject(OMS_ACK_FACT)

        async def both_acks_published() -> int | None:
            info = await bus.js.stream_info(stream, subjects_filter=OMS_ACK_FACT)
            count = (info.state.subjects or {}).get(OMS_ACK_FACT, 0)
            return count if count >= 2 else None

        assert await eventually(both_acks_published, within=30, what="the failed and the ok ack") == 2
    finally:
        await oms.close()
