"""Errors raised by the bus, and the two a handler raises to steer redelivery."""

from __future__ import annotations

from typing import Final

import nats.errors
import nats.js.errors

__all__ = [
    "TRANSIENT_NATS_ERRORS",
    "BusConnectError",
    "BusError",
    "BusUnavailableError",
    "ConsumerConfigError",
    "PoisonMessageError",
    "PublishError",
    "StreamConfigError",
    "TransientError",
]


class BusError(Exception):
    """Base of the errors the bus raises."""


class BusConnectError(BusError):
    """The first connection to NATS did not succeed before the connect deadline."""

    def __init__(self, url: str, deadline: float | None, cause: BaseException | None) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"could not connect to NATS at {url} within {deadline}s: {cause!r}")


class BusUnavailableError(BusError):
    """NATS did not answer a ping: the connection is down or reconnecting."""


class PublishError(BusError):
    """No PubAck for a publish before its deadline (or a failure retrying cannot fix)."""

    def __init__(self, subject: str, msg_id: str, attempts: int, cause: BaseException | None) -> None:
        self.subject = subject
        self.msg_id = msg_id
        self.attempts = attempts
        self.cause = cause
        super().__init__(
            f"publish to {subject!r} (Nats-Msg-Id {msg_id!r}) failed after {attempts} attempt(s): {cause!r}"
        )


class StreamConfigError(BusError):
    """A stream could not be created or brought to its declared configuration."""

    def __init__(self, stream: str, problem: str) -> None:
        self.stream = stream
        super().__init__(f"stream {stream}: {problem}")


class ConsumerConfigError(BusError):
    """A durable consumer could not be created or updated (missing stream, refused change)."""

    def __init__(self, stream: str, durable: str, problem: str) -> None:
        self.stream = stream
        self.durable = durable
        super().__init__(f"consumer {durable} on stream {stream}: {problem}")


class TransientError(Exception):
    """Raised by a handler: the message is fine but cannot be handled now; redeliver it later."""


class PoisonMessageError(Exception):
    """Raised by a handler: the message can never be handled; terminate it without retry."""


# What a later attempt can get past: no reply in time, nobody listening yet (stream being
# created, JetStream restarting), the connection being re-established. ConnectionClosedError
# is missing on purpose: a closed client never comes back.
TRANSIENT_NATS_ERRORS: Final[tuple[type[BaseException], ...]] = (
    TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)
