"""JetStream streams of the contract, declared once and brought into being idempotently."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import APIError, NotFoundError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from mts1b_operations.core import subjects

from ._errors import TRANSIENT_NATS_ERRORS, StreamConfigError

__all__ = ["DEFAULT_STREAMS", "HALT_ALL", "OPERATIONS_COMMAND_ALL", "StreamSpec", "ensure_streams"]

log = logging.getLogger(__name__)

Storage = Literal["file", "memory"]
Retention = Literal["limits", "interest", "workqueue"]

_MINUTE: Final = 60.0
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
_STREAM_NAME_IN_USE: Final = 10058

# Wildcards the OPERATIONS stream needs that core.subjects does not (yet) export.
HALT_ALL: Final = subjects.HALT_ALL
OPERATIONS_COMMAND_ALL: Final = subjects.OPERATIONS_COMMAND_ALL


@dataclass(frozen=True, kw_only=True)
class StreamSpec:
    """One stream: its subjects and limits. ``max_age`` in seconds, ``None`` for no age limit."""

    name: str
    subjects: tuple[str, ...]
    storage: Storage
    retention: Retention
    max_age: float | None = None
    max_msgs_per_subject: int = -1
    deny_delete: bool = False
    deny_purge: bool = False
    duplicate_window: float = 2 * _MINUTE
    allow_direct: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _STREAM_NAME.fullmatch(self.name):
            raise ValueError(f"name: {self.name!r} is not a stream name (letters, digits, _ and -)")
        if isinstance(self.subjects, str) or not self.subjects:
            raise ValueError(f"subjects: stream {self.name} needs a non-empty tuple of subjects")
        for subject in self.subjects:
            if not subject or " " in subject or subject.startswith(".") or subject.endswith("."):
                raise ValueError(f"subjects: {subject!r} is not a NATS subject")
        if self.storage not in ("file", "memory"):
            raise ValueError(f"storage: {self.storage!r} is not 'file' or 'memory'")
        if self.retention not in ("limits", "interest", "workqueue"):
            raise ValueError(f"retention: {self.retention!r} is not 'limits', 'interest' or 'workqueue'")
        if self.max_age is not None and self.max_age <= 0:
            raise ValueError(f"max_age: {self.max_age!r} must be positive seconds or None")
        if self.max_msgs_per_subject == 0 or self.max_msgs_per_subject < -1:
            raise ValueError(f"max_msgs_per_subject: {self.max_msgs_per_subject!r} must be >= 1 or -1")
        if self.duplicate_window <= 0:
            raise ValueError(f"duplicate_window: {self.duplicate_window!r} must be positive seconds")
        if self.max_age is not None and self.duplicate_window > self.max_age:
            raise ValueError(
                f"duplicate_window: {self.duplicate_window}s is longer than max_age {self.max_age}s"
            )

    def to_config(self, *, replicas: int = 1) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description or None,
            subjects=list(self.subjects),
            storage=StorageType(self.storage),
            retention=RetentionPolicy(self.retention),
            max_age=self.max_age,
            max_msgs_per_subject=self.max_msgs_per_subject,
            deny_delete=self.deny_delete,
            deny_purge=self.deny_purge,
            duplicate_window=self.duplicate_window,
            allow_direct=self.allow_direct,
            num_replicas=replicas,
        )


DEFAULT_STREAMS: Final[tuple[StreamSpec, ...]] = (
    StreamSpec(
        name="OPERATIONS",
        description="facts of the operations plane, replayable by the audit consumer",
        subjects=(
            HALT_ALL,
            subjects.WATCHDOG_ALL,
            OPERATIONS_COMMAND_ALL,
            subjects.audit_appended(),
            subjects.COMPLIANCE_ALL,
        ),
        storage="file",
        retention="limits",
        max_age=30 * _DAY,
    ),
    StreamSpec(
        name="AUDIT_CHECKPOINTS",
        description="signed audit chain heads; must not be removable",
        subjects=(subjects.AUDIT_CHECKPOINT,),
        storage="file",
        retention="limits",
        max_age=None,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
    ),
    StreamSpec(
        name="HEARTBEATS",
        description="service liveness",
        subjects=(subjects.SERVICE_HEARTBEAT_ALL,),
        storage="file",
        retention="limits",
        max_age=_HOUR,
        max_msgs_per_subject=100,
        allow_direct=True,
    ),
    StreamSpec(
        name="MARKETDATA",
        description="trades, quotes and bars; short-lived",
        subjects=(subjects.MARKETDATA_ALL,),
        storage="file",
        retention="limits",
        max_age=_HOUR,
    ),
    StreamSpec(
        name="NEWS",
        subjects=(subjects.NEWS_ALL,),
        storage="file",
        retention="limits",
        max_age=7 * _DAY,
    ),
    StreamSpec(
        name="OMS",
        description="order lifecycle events (oms.cmd.* is request/reply and deliberately not captured)",
        subjects=(subjects.OMS_ORDER_ALL,),
        storage="file",
        retention="limits",
        max_age=30 * _DAY,
    ),
    StreamSpec(
        name="PORTFOLIO",
        subjects=(subjects.PORTFOLIO_ALL,),
        storage="file",
        retention="limits",
        max_age=7 * _DAY,
    ),
    StreamSpec(
        name="STRATEGY",
        subjects=(subjects.STRATEGY_ALL,),
        storage="file",
        retention="limits",
        max_age=7 * _DAY,
    ),
)


def _differences(want: StreamConfig, have: StreamConfig) -> list[str]:
    """Fields a StreamSpec sets whose live value differs (the server fills in everything else)."""
    pairs: dict[str, tuple[object, object]] = {
        "subjects": (sorted(want.subjects or []), sorted(have.subjects or [])),
        "storage": (want.storage, have.storage),
        "retention": (want.retention, have.retention),
        "max_age": (want.max_age or 0.0, have.max_age or 0.0),
        "max_msgs_per_subject": (want.max_msgs_per_subject, have.max_msgs_per_subject),
        "deny_delete": (want.deny_delete, have.deny_delete),
        "deny_purge": (want.deny_purge, have.deny_purge),
        "duplicate_window": (want.duplicate_window, have.duplicate_window),
        "allow_direct": (bool(want.allow_direct), bool(have.allow_direct)),
        "num_replicas": (want.num_replicas, have.num_replicas),
        "description": (want.description or "", have.description or ""),
    }
    return [field for field, (a, b) in pairs.items() if a != b]


async def _ensure_one(js: JetStreamContext, spec: StreamSpec, replicas: int) -> StreamInfo:
    want = spec.to_config(replicas=replicas)
    try:
        have = await js.stream_info(spec.name)
    except NotFoundError:
        try:
            # Creating with a config equal to an existing stream's succeeds, so a service
            # racing another one here gets the stream either way.
            info = await js.add_stream(want)
            log.info("stream %s created (%s)", spec.name, ", ".join(spec.subjects))
            return info
        except APIError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise StreamConfigError(spec.name, f"create refused: {exc}") from exc
            have = await js.stream_info(spec.name)
    changed = _differences(want, have.config)
    if not changed:
        return have
    try:
        info = await js.update_stream(want)
    except APIError as exc:
        raise StreamConfigError(spec.name, f"update of {', '.join(changed)} refused: {exc}") from exc
    log.warning("stream %s updated: %s", spec.name, ", ".join(changed))
    return info


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("ensure_streams: JetStream not reachable (attempt %d): %r", state.attempt_number, error)


async def ensure_streams(
    js: JetStreamContext,
    specs: Sequence[StreamSpec] = DEFAULT_STREAMS,
    *,
    replicas: int = 1,
    deadline: float = 30.0,
) -> list[StreamInfo]:
    """Create missing streams, update those whose config differs, leave equal ones alone.

    JetStream being briefly unreachable (a restart, a reconnect) is retried for up to
    ``deadline`` seconds per stream; a refused configuration raises ``StreamConfigError`` at once.
    """
    if not isinstance(replicas, int) or not 1 <= replicas <= 5:
        raise ValueError(f"replicas: {replicas!r} must be an int from 1 to 5")
    names = [spec.name for spec in specs]
    if deadline <= 0:
        raise ValueError(f"deadline: {deadline!r} must be positive seconds")
    if len(set(names)) != len(names):
        raise ValueError(f"specs: stream names repeat: {names}")
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT_NATS_ERRORS),
        stop=stop_after_delay(deadline),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        before_sleep=_log_retry,
        reraise=True,
    )
    infos: list[StreamInfo] = []
    for spec in specs:
        async for attempt in retrying:
            with attempt:
                info = await _ensure_one(js, spec, replicas)
        infos.append(info)
    return infos
