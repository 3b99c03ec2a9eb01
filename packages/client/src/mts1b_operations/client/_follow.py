"""Follow a NATS subject as an async iterator of typed payloads (audit tail, watchdog alerts).

A subject a JetStream stream captures is read through an *ordered consumer* (ephemeral, no
acks, gap-free across reconnects, and able to start from the stream's first or last message);
any other subject through a plain core-NATS subscription, which only sees what arrives while
it is subscribed. Payloads are decoded with ``core.schemas.decode`` into the type asked for.

Example::

    from mts1b_operations.client import follow_audit

    async for appended in follow_audit():            # every new audit entry, as it is made
        print(appended.payload.sequence, appended.payload.action, appended.payload.subject_id)

    async for alert in follow_watchdog_alerts("vpin", deliver="all"):
        print(alert.payload.status, alert.payload.message)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, Literal, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.schemas import AuditAppended, SchemaError, WatchdogAlert, decode
from mts1b_operations.core.settings import SettingsError, load_client_settings

from ._errors import ConfigurationError

__all__ = [
    "DeliverFrom",
    "FollowDecodeError",
    "FollowedMessage",
    "InvalidMessageHandler",
    "follow",
    "follow_audit",
    "follow_watchdog_alerts",
]

log = logging.getLogger(__name__)

P = TypeVar("P")

DeliverFrom = Literal["new", "all", "last"]
"""Where to start: messages published from now on, everything the stream still holds, or its last one."""

InvalidMessageHandler = Callable[["FollowDecodeError"], None]

_POLICIES: Final[dict[str, DeliverPolicy]] = {
    "new": DeliverPolicy.NEW,
    "all": DeliverPolicy.ALL,
    "last": DeliverPolicy.LAST,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowedMessage(Generic[P]):
    """One message followed: its decoded payload, the raw bytes, and where the stream put it."""

    subject: str
    payload: P
    data: bytes
    stream_sequence: int | None = None
    """The stream's sequence number (``None`` for a subject no stream captures)."""
    stored_at: datetime | None = None


class FollowDecodeError(ValueError):
    """A followed message does not decode into the payload type asked for."""

    def __init__(self, subject: str, data: bytes, stream_sequence: int | None, cause: Exception) -> None:
        self.subject = subject
        self.data = data
        self.stream_sequence = stream_sequence
        self.cause = cause
        where = f" (stream sequence {stream_sequence})" if stream_sequence is not None else ""
        super().__init__(f"{subject}{where}: {cause}")


def _position(msg: Msg) -> tuple[int | None, datetime | None]:
    if not msg.reply:
        return None, None
    try:
        meta = msg.metadata
    except (ValueError, IndexError, nats.errors.Error):
        return None, None
    return meta.sequence.stream, meta.timestamp


def _nats_url_from_env() -> str:
    try:
        return load_client_settings().nats_url
    except SettingsError as exc:
        raise ConfigurationError(exc.variable, exc.problem) from None


async def _subscribe(bus: Bus, subject: str, deliver: DeliverFrom) -> Any:
    try:
        return await bus.js.subscribe(subject, ordered_consumer=True, deliver_policy=_POLICIES[deliver])
    except nats.js.errors.NotFoundError:
        if deliver != "new":
            raise ValueError(
                f"deliver: {deliver!r} needs a JetStream stream, and none captures {subject!r}"
            ) from None
    return await bus.nc.subscribe(subject)


async def follow(
    subject: str,
    payload_type: type[P],
    *,
    deliver: DeliverFrom = "new",
    nats_url: str | None = None,
    bus: Bus | None = None,
    on_invalid: InvalidMessageHandler | None = None,
    connect_timeout: float = 10.0,
) -> AsyncGenerator[FollowedMessage[P], None]:
    """Yield each message on ``subject`` (wildcards allowed) decoded as ``payload_type``.

    Connects to ``nats_url`` (default: MTS_NATS_URL, else the dev stack's) unless ``bus`` is
    given, and closes what it opened when the iteration ends (leave a loop early inside
    ``contextlib.aclosing(follow(...))`` so that happens at once). A message that does not decode
    raises :class:`FollowDecodeError`, unless ``on_invalid`` is given: then it is handed the
    error and the iteration goes on.
    """
    if deliver not in _POLICIES:
        raise ValueError(f"deliver: must be one of {', '.join(_POLICIES)} (got {deliver!r})")
    own_bus = bus is None
    if bus is None:
        url = nats_url or _nats_url_from_env()
        bus = await connect_bus(url, name="mts1b-operations-client:follow", connect_deadline=connect_timeout)
    sub = None
    try:
        sub = await _subscribe(bus, subject, deliver)
        async for msg in sub.messages:
            sequence, stored_at = _position(msg)
            try:
                payload = decode(msg.data, payload_type)
            except SchemaError as exc:
                error = FollowDecodeError(msg.subject, msg.data, sequence, exc)
                if on_invalid is None:
                    raise error from exc
                on_invalid(error)
                continue
            yield FollowedMessage(
                subject=msg.subject,
                payload=payload,
                data=msg.data,
                stream_sequence=sequence,
                stored_at=stored_at,
            )
    finally:
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        if own_bus:
            await bus.close()


def follow_audit(
    *,
    deliver: DeliverFrom = "new",
    nats_url: str | None = None,
    bus: Bus | None = None,
    on_invalid: InvalidMessageHandler | None = None,
    connect_timeout: float = 10.0,
) -> AsyncGenerator[FollowedMessage[AuditAppended], None]:
    """Each entry appended to the audit chain (``mts.v1.operations.audit.appended``)."""
    return follow(
        subjects.audit_appended(),
        AuditAppended,
        deliver=deliver,
        nats_url=nats_url,
        bus=bus,
        on_invalid=on_invalid,
        connect_timeout=connect_timeout,
    )


def follow_watchdog_alerts(
    kind: str | None = None,
    *,
    deliver: DeliverFrom = "new",
    nats_url: str | None = None,
    bus: Bus | None = None,
    on_invalid: InvalidMessageHandler | None = None,
    connect_timeout: float = 10.0,
) -> AsyncGenerator[FollowedMessage[WatchdogAlert], None]:
    """Watchdog alerts, of one ``kind`` (``vpin``, ``drift``, ...) or of all of them."""
    subject = subjects.WATCHDOG_ALL if kind is None else subjects.watchdog_alert(kind)
    return follow(
        subject,
        WatchdogAlert,
        deliver=deliver,
        nats_url=nats_url,
        bus=bus,
        on_invalid=on_invalid,
        connect_timeout=connect_timeout,
    )
