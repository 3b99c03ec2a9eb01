"""The restart of every operations service, over NATS: who runs now, the command, who came back.

1. The instance each service runs now is the last heartbeat its subject holds in the
   HEARTBEATS stream (a direct get; none when the service has not beaten within the hour).
2. The restart command (``OperationsCommand``, targets empty = every service) goes out as a
   core-NATS request on ``mts.v1.operations.cmd.restart``; each instance acks on the reply
   inbox before it drains. The OPERATIONS stream captures the subject too, so its PubAck
   lands on the same inbox: anything that is not an ack of this command is counted and ignored.
3. A service is back once a heartbeat shows a new instance (not the one before, not one that
   acked) and its ``/v1/healthz`` answers with that same instance id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import nats.errors
import nats.js.errors

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import DEFAULT_STREAMS, MSG_ID_HEADER, inject_trace
from mts1b_operations.core.schemas import (
    OperationsCommand,
    OperationsCommandAck,
    SchemaError,
    ServiceHeartbeat,
    decode,
    encode,
)

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from mts1b_operations.core.bus import Bus

__all__ = [
    "HEARTBEAT_STREAM",
    "RestartReport",
    "ServiceRestart",
    "latest_heartbeats",
    "restart_services",
]

HEARTBEAT_STREAM: Final = next(
    spec.name for spec in DEFAULT_STREAMS if subjects.SERVICE_HEARTBEAT_ALL in spec.subjects
)
_POLL: Final = 0.25


@dataclass
class ServiceRestart:
    """One service: its instance before, the acks of its instances, the new instance and its healthz."""

    service: str
    url: str
    before: ServiceHeartbeat | None
    acks: list[OperationsCommandAck] = field(default_factory=list)
    after: ServiceHeartbeat | None = None
    healthz_instance: str | None = None
    healthz_error: str | None = None

    @property
    def back(self) -> bool:
        return self.after is not None and self.healthz_instance == self.after.instance_id

    @property
    def old_instances(self) -> set[str]:
        old = {ack.instance_id for ack in self.acks}
        if self.before is not None:
            old.add(self.before.instance_id)
        return old


@dataclass
class RestartReport:
    command: OperationsCommand
    services: list[ServiceRestart]
    ignored_replies: int
    elapsed: float

    @property
    def not_back(self) -> list[str]:
        return [s.service for s in self.services if not s.back]


async def latest_heartbeats(bus: Bus, services: Sequence[str]) -> dict[str, ServiceHeartbeat | None]:
    """The last heartbeat the HEARTBEATS stream holds for each service (None: none held)."""
    found: dict[str, ServiceHeartbeat | None] = {}
    for service in services:
        found[service] = None
        try:
            raw = await bus.js.get_last_msg(
                HEARTBEAT_STREAM, subjects.service_heartbeat(service), direct=True
            )
        except (nats.js.errors.NotFoundError, nats.errors.NoRespondersError, nats.errors.TimeoutError):
            continue  # no such message, or no stream at all
        if raw.data:
            with contextlib.suppress(SchemaError):
                found[service] = decode(raw.data, ServiceHeartbeat)
    return found


class _Watch:
    """Heartbeats and acks as they arrive, and an event to wake the waiting loop."""

    def __init__(self, command: OperationsCommand) -> None:
        self.command = command
        self.beats: dict[str, list[ServiceHeartbeat]] = defaultdict(list)
        self.acks: list[OperationsCommandAck] = []
        self.ignored = 0
        self.changed = asyncio.Event()

    async def on_heartbeat(self, msg: Msg) -> None:
        try:
            beat = decode(msg.data, ServiceHeartbeat)
        except SchemaError:
            return
        self.beats[beat.service].append(beat)
        self.changed.set()

    async def on_reply(self, msg: Msg) -> None:
        try:
            ack = decode(msg.data, OperationsCommandAck)
        except (SchemaError, ValueError):
            self.ignored += 1  # the stream's PubAck, or anything else that is no ack
            return
        if ack.command_id != self.command.command_id:
            self.ignored += 1
            return
        self.acks.append(ack)
        self.changed.set()

    def new_instance(self, entry: ServiceRestart) -> ServiceHeartbeat | None:
        old = entry.old_instances
        for beat in reversed(self.beats.get(entry.service, [])):
            if beat.instance_id in old or not beat.ready:
                continue
            # Without a heartbeat from before, only an instance started after the command is new.
            if entry.before is None and beat.started_at < self.command.issued_at:
                continue
            return beat
        return None


async def _healthz(entry: ServiceRestart) -> None:
    from mts1b_operations.client import MtsError, ServiceClient

    try:
        async with ServiceClient(entry.url, connect_timeout=1.0, read_timeout=2.0, get_attempts=1) as client:
            entry.healthz_instance = (await client.healthz()).instance_id
            entry.healthz_error = None
    except MtsError as exc:
        entry.healthz_instance, entry.healthz_error = None, str(exc)


async def restart_services(
    bus: Bus,
    urls: Mapping[str, str],
    *,
    requested_by: str,
    timeout: float,  # noqa: ASYNC109 - how long to wait for the services to come back
) -> RestartReport:
    """Restart every service and wait up to ``timeout`` s until each named in ``urls`` is back."""
    started = time.monotonic()
    command = OperationsCommand(
        command_id=str(uuid.uuid4()),
        command="restart",
        targets=[],
        requested_by=requested_by,
        issued_at=datetime.now(UTC),
    )
    watch = _Watch(command)
    nc = bus.nc
    beats = await nc.subscribe(subjects.SERVICE_HEARTBEAT_ALL, cb=watch.on_heartbeat)
    inbox = nc.new_inbox()
    replies = await nc.subscribe(inbox, cb=watch.on_reply)
    try:
        before = await latest_heartbeats(bus, list(urls))
        entries = [ServiceRestart(name, url, before[name]) for name, url in urls.items()]
        headers = {MSG_ID_HEADER: command.command_id}
        inject_trace(headers)
        await nc.publish(
            subjects.operations_command("restart"), encode(command), reply=inbox, headers=headers
        )
        await nc.flush(timeout=5)
        deadline = started + timeout
        while True:
            watch.changed.clear()
            for entry in entries:
                entry.acks = [ack for ack in watch.acks if ack.service == entry.service]
                if entry.back:
                    continue
                candidate = watch.new_instance(entry)
                if candidate is not None:
                    entry.after = candidate
                    await _healthz(entry)
            remaining = deadline - time.monotonic()
            if all(entry.back for entry in entries) or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.changed.wait(), min(_POLL, remaining))
    finally:
        for sub in (beats, replies):
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
    for entry in entries:
        entry.acks = [ack for ack in watch.acks if ack.service == entry.service]
    return RestartReport(
        command=command,
        services=entries,
        ignored_replies=watch.ignored,
        elapsed=round(time.monotonic() - started, 3),
    )
