"""The NATS JetStream layer every service uses: connection, streams, publish, durable consumers."""

from ._connect import Bus, connect_bus, split_servers
from ._consume import ConsumerSpec, Delivery, DurableConsumer, Handler
from ._errors import (
    TRANSIENT_NATS_ERRORS,
    BusConnectError,
    BusError,
    BusUnavailableError,
    ConsumerConfigError,
    PoisonMessageError,
    PublishError,
    StreamConfigError,
    TransientError,
)
from ._publish import MSG_ID_HEADER
from ._streams import DEFAULT_STREAMS, HALT_ALL, OPERATIONS_COMMAND_ALL, StreamSpec, ensure_streams
from ._tracing import extract_trace, inject_trace

__all__ = [
    "DEFAULT_STREAMS",
    "HALT_ALL",
    "MSG_ID_HEADER",
    "OPERATIONS_COMMAND_ALL",
    "TRANSIENT_NATS_ERRORS",
    "Bus",
    "BusConnectError",
    "BusError",
    "BusUnavailableError",
    "ConsumerConfigError",
    "ConsumerSpec",
    "Delivery",
    "DurableConsumer",
    "Handler",
    "PoisonMessageError",
    "PublishError",
    "StreamConfigError",
    "StreamSpec",
    "TransientError",
    "connect_bus",
    "ensure_streams",
    "extract_trace",
    "inject_trace",
    "split_servers",
]
