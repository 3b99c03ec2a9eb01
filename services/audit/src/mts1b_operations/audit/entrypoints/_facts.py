"""What a NATS fact becomes in the chain: actor, action, subject id, data and source event id.

Pure functions, no I/O. The rules:

- ``action``: the subject without ``mts.v1.operations.`` (or, outside operations, ``mts.v1.``):
  ``mts.v1.operations.halt.requested`` → ``halt.requested``, ``mts.v1.oms.order.filled`` →
  ``oms.order.filled``.
- ``actor`` and ``subject_id``: from the payload, by its type (see :data:`_RULES`): a halt's
  ``requested_by`` / ``resumed_by`` and ``halt_id``, ``watchdog:<kind>`` and the alert's subject,
  a command's ``requested_by`` and ``command_id``, an ack's responder and ``command_id``, ...
  A payload of no known type (or without a usable actor or id) is the ``publisher:<domain>``
  (``publisher:oms``) about no one subject (an empty subject id).
- ``data``: the JSON object exactly as published (unknown fields from newer producers included).
- ``source_event_id``: ``nats:<subject>:<Nats-Msg-Id>`` (``nats-sha256:<hex>`` of that when it
  is over 512 characters or not storable text); without a message id,
  ``jetstream:<stream>:<stream sequence>:<stored-at µs>`` (the store time tells a recreated
  stream's sequence 1 from the old one's). A redelivery carries the same values, so it maps to
  the same id and the chain keeps one entry.

The payload type is the subject's (``core.schemas.payload_type_for``) or, on a subject the
contract gives none, the one its ``"type"`` tag names (so acks published as facts are read as
acks). A payload that does not decode, does not match its schema, or is refused by the chain
is still recorded (:meth:`FactRecord.unrecordable`): audit must see everything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeGuard

import msgspec

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import Delivery

from ..domain import (
    MAX_ACTION_CHARS,
    MAX_ACTOR_CHARS,
    MAX_DATA_BYTES,
    AuditInputError,
    validate_append,
)

__all__ = ["FactRecord", "action_of", "fact_record", "is_never_audited", "source_event_id_of"]

_OPERATIONS_PREFIX: Final = f"{subjects.PREFIX}.operations."
_PREFIX: Final = f"{subjects.PREFIX}."
_AUDIT_PREFIX: Final = f"{subjects.PREFIX}.operations.audit."
_HEARTBEAT_PREFIX: Final = f"{subjects.PREFIX}.operations.service.heartbeat."
# Room for the base64 of the raw payload and the error next to it inside MAX_DATA_BYTES.
_RAW_BUDGET: Final = (MAX_DATA_BYTES - 4096) // 4 * 3
_MAX_READABLE_ID: Final = 512


@dataclass(frozen=True, slots=True)
class _Rule:
    actor: Callable[[Mapping[str, Any]], object]
    subject_id: str


def _field(name: str) -> Callable[[Mapping[str, Any]], object]:
    return lambda payload: payload.get(name)


def _prefixed(prefix: str, name: str) -> Callable[[Mapping[str, Any]], object]:
    def actor(payload: Mapping[str, Any]) -> object:
        value = payload.get(name)
        return f"{prefix}:{value}" if isinstance(value, str) and value else None

    return actor


# Payload type name → who acted and what the entry is about.
_RULES: Final[Mapping[str, _Rule]] = {
    "HaltRequested": _Rule(_field("requested_by"), "halt_id"),
    "HaltResumed": _Rule(_field("resumed_by"), "halt_id"),
    "HaltRefused": _Rule(_field("requested_by"), "halt_id"),
    "WatchdogAlert": _Rule(_prefixed("watchdog", "watchdog"), "subject_id"),
    "OperationsCommand": _Rule(_field("requested_by"), "command_id"),
    "OperationsCommandAck": _Rule(_prefixed("service", "service"), "command_id"),
    "OmsCommand": _Rule(_field("requested_by"), "command_id"),
    "OmsCommandAck": _Rule(_field("responder"), "command_id"),
    "OrderEvent": _Rule(lambda _: "service:oms", "order_id"),
    "Nav": _Rule(lambda _: "service:portfolio", "fund_id"),
    "Position": _Rule(lambda _: "service:portfolio", "fund_id"),
    "Greeks": _Rule(lambda _: "service:portfolio", "fund_id"),
    "StrategyPnl": _Rule(_prefixed("strategy", "strategy_id"), "strategy_id"),
    "StrategySignal": _Rule(_prefixed("strategy", "strategy_id"), "strategy_id"),
    "NewsItem": _Rule(_prefixed("news", "source"), "news_id"),
    "AuditCheckpoint": _Rule(lambda _: "service:audit", "key_id"),
    "ComplianceReportFact": _Rule(_field("actor"), "report_key"),
    "ComplianceFileFact": _Rule(_field("actor"), "name"),
}

_PAYLOADS_BY_TAG: Final[Mapping[str, type[schemas.Payload]]] = {
    cls.__name__: cls
    for name in schemas.__all__
    if isinstance(cls := getattr(schemas, name), type)
    and issubclass(cls, schemas.Payload)
    and cls is not schemas.Payload
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FactRecord:
    """The arguments of one ``AuditChain.append`` for one delivered message."""

    actor: str
    action: str
    subject_id: str
    data: dict[str, Any]
    source_event_id: str

    def as_append_kwargs(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "action": self.action,
            "subject_id": self.subject_id,
            "data": self.data,
            "source_event_id": self.source_event_id,
        }

    def unrecordable(self, delivery: Delivery, error: str) -> FactRecord:
        """The same fact with the raw payload in place of the data the chain refused.

        ``data`` becomes ``{"subject", "error", "raw"}`` (``raw``: base64 of the payload bytes)
        or, for a payload too large for an entry, ``{"subject", "error", "raw_sha256",
        "raw_bytes"}``, so the entry still pins down exactly what was published.
        """
        data: dict[str, Any] = {"subject": _clip(delivery.subject, 1024), "error": _clip(error, 2048)}
        if len(delivery.data) <= _RAW_BUDGET:
            data["raw"] = base64.b64encode(delivery.data).decode("ascii")
        else:
            data["raw_sha256"] = hashlib.sha256(delivery.data).hexdigest()
            data["raw_bytes"] = len(delivery.data)
        return replace(self, data=data)


def is_never_audited(subject: str) -> bool:
    """The chain's own facts (a loop) and heartbeats (liveness noise) are never recorded."""
    return subject.startswith((_AUDIT_PREFIX, _HEARTBEAT_PREFIX))


def action_of(subject: str) -> str:
    """``halt.requested`` for ``mts.v1.operations.halt.requested`` (see the module doc)."""
    for prefix in (_OPERATIONS_PREFIX, _PREFIX):
        if subject.startswith(prefix) and len(subject) > len(prefix):
            return _clip(subject[len(prefix) :], MAX_ACTION_CHARS)
    return _clip(subject, MAX_ACTION_CHARS)


def source_event_id_of(delivery: Delivery) -> str:
    if delivery.msg_id:
        readable = f"nats:{delivery.subject}:{delivery.msg_id}"
        if len(readable) <= _MAX_READABLE_ID and _clip(readable, _MAX_READABLE_ID) == readable:
            return readable
        # Too long, or a NUL / lone surrogate the chain would refuse: the digest is as unique.
        digest = hashlib.sha256(readable.encode("utf-8", "surrogatepass")).hexdigest()
        return f"nats-sha256:{digest}"
    stored_us = int(delivery.timestamp.timestamp() * 1_000_000)
    return f"jetstream:{delivery.stream}:{delivery.stream_sequence}:{stored_us}"


def fact_record(delivery: Delivery) -> FactRecord:
    """Map one delivered message to the entry that records it.

    Never raises for a bad payload: an undecodable or schema-violating one comes back as
    :meth:`FactRecord.unrecordable` with the reason.
    """
    subject = delivery.subject
    record = FactRecord(
        actor=_default_actor(subject),
        action=action_of(subject),
        subject_id="",
        data={},
        source_event_id=source_event_id_of(delivery),
    )
    try:
        payload = msgspec.json.decode(delivery.data)
    except msgspec.DecodeError as exc:
        return record.unrecordable(delivery, f"not JSON: {exc}")
    if not isinstance(payload, dict):
        return record.unrecordable(delivery, f"not a JSON object but a {type(payload).__name__}")
    payload_type = schemas.payload_type_for(subject) or _PAYLOADS_BY_TAG.get(str(payload.get("type")))
    record = _with_identity(record, payload, payload_type)
    if payload_type is not None:
        try:
            schemas.decode(delivery.data, payload_type)
        except schemas.SchemaError as exc:
            return record.unrecordable(delivery, f"does not match {payload_type.__name__}: {exc}")
    return replace(record, data=payload)


def _with_identity(
    record: FactRecord, payload: Mapping[str, Any], payload_type: type[schemas.Payload] | None
) -> FactRecord:
    """Actor and subject id from the payload, where it has valid ones (best effort on a bad one)."""
    rule = _RULES.get(payload_type.__name__) if payload_type is not None else None
    if rule is None:
        return record
    actor = rule.actor(payload)
    subject_id = payload.get(rule.subject_id)
    return replace(
        record,
        actor=actor if _storable(actor) else record.actor,
        subject_id=subject_id if _storable(subject_id, as_subject_id=True) else record.subject_id,
    )


def _default_actor(subject: str) -> str:
    rest = subject.removeprefix(_PREFIX)
    domain = rest.split(".", 1)[0] if rest != subject else "unknown"
    return _clip(f"publisher:{domain or 'unknown'}", MAX_ACTOR_CHARS)


def _storable(value: object, *, as_subject_id: bool = False) -> TypeGuard[str]:
    """Whether the chain takes ``value`` as an actor (or a non-empty subject id), so a bad one
    falls back to the default rather than getting the whole fact refused."""
    if not isinstance(value, str) or not value:
        return False
    try:
        validate_append("-" if as_subject_id else value, "-", value if as_subject_id else "", {})
    except AuditInputError:
        return False
    return True


def _clip(text: str, limit: int) -> str:
    """``text`` made storable: no NUL or lone surrogate, at most ``limit`` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 1] + "…"
