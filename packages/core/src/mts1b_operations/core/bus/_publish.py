"""Publish to JetStream: Nats-Msg-Id for deduplication, trace context, retries until a PubAck."""

from __future__ import annotations

import logging
import time
from typing import Final

import msgspec
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_before_delay,
    stop_never,
    wait_exponential,
    wait_random,
)

from mts1b_operations.core import schemas

from ._errors import TRANSIENT_NATS_ERRORS, PublishError
from ._tracing import bus_tracer, extract_trace, inject_trace

__all__ = ["MSG_ID_HEADER", "encode_payload", "publish"]

log = logging.getLogger(__name__)

MSG_ID_HEADER: Final = "Nats-Msg-Id"


def encode_payload(payload: msgspec.Struct | bytes | bytearray | memoryview) -> bytes:
    if isinstance(payload, msgspec.Struct):
        return schemas.encode(payload)
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    raise TypeError(f"payload: expected a msgspec.Struct or bytes, got {type(payload).__name__}")


def _check_arguments(subject: str, msg_id: str, timeout: float, deadline: float | None) -> None:
    if not isinstance(subject, str) or not subject or any(c in subject for c in " \t\r\n*>"):
        raise ValueError(f"subject: {subject!r} is not a publishable NATS subject")
    if not isinstance(msg_id, str) or not msg_id.strip():
        raise ValueError("msg_id: a non-empty Nats-Msg-Id is required so a retried publish lands once")
    if timeout <= 0:
        raise ValueError(f"timeout: {timeout!r} must be positive seconds")
    if deadline is not None and deadline <= 0:
        raise ValueError(f"deadline: {deadline!r} must be positive seconds or None")


async def publish(
    js: JetStreamContext,
    subject: str,
    payload: msgspec.Struct | bytes | bytearray | memoryview,
    *,
    msg_id: str,
    headers: dict[str, str] | None = None,
    timeout: float = 2.0,  # noqa: ASYNC109 (per attempt, within deadline)
    deadline: float | None = 30.0,
) -> PubAck:
    """Publish until JetStream acknowledges or ``deadline`` seconds pass; see ``Bus.publish``."""
    _check_arguments(subject, msg_id, timeout, deadline)
    data = encode_payload(payload)
    started = time.monotonic()

    def attempt_timeout() -> float:
        if deadline is None:
            return timeout
        return max(0.05, min(timeout, deadline - (time.monotonic() - started)))

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "publish to %s (msg %s) attempt %d failed: %r", subject, msg_id, state.attempt_number, error
        )

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT_NATS_ERRORS),
        stop=stop_never if deadline is None else stop_before_delay(deadline),
        wait=wait_exponential(multiplier=0.05, max=2.0) + wait_random(0, 0.05),
        before_sleep=log_retry,
    )
    # Without a current span, trace context the caller carried in ``headers`` (an event
    # relayed from storage) stays the parent instead of a new trace starting here.
    parent = None
    if headers and not trace.get_current_span().get_span_context().is_valid:
        parent = extract_trace(headers)
    with bus_tracer().start_as_current_span(
        f"publish {subject}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "publish",
            "messaging.destination.name": subject,
            "messaging.message.id": msg_id,
            "messaging.message.body.size": len(data),
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        sent = dict(headers or {})
        sent[MSG_ID_HEADER] = msg_id
        inject_trace(sent)
        try:
            async for attempt in retrying:
                with attempt:
                    ack = await js.publish(subject, data, timeout=attempt_timeout(), headers=sent)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            error = PublishError(subject, msg_id, exc.last_attempt.attempt_number, cause)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
            raise error from cause
        except nats.errors.Error as exc:
            error = PublishError(subject, msg_id, retrying.statistics.get("attempt_number", 1), exc)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
            raise error from exc
        span.set_attribute("messaging.nats.stream", ack.stream)
        span.set_attribute("messaging.nats.stream_sequence", ack.seq)
        if ack.duplicate:
            span.set_attribute("messaging.nats.duplicate", True)
        return ack
