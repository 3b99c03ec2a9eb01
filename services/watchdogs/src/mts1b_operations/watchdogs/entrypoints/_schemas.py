"""Request and response bodies of the watchdogs' HTTP API (msgspec Structs, shown in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

__all__ = ["FiringSubject", "PauseBody", "WatchdogList", "WatchdogView"]


class FiringSubject(msgspec.Struct, frozen=True, kw_only=True):
    """A subject whose alert is firing: since when, and whether the alert was sent (not muted)."""

    subject_id: str
    since: datetime | None
    notified: bool
    """False while a pause or an inhibition holds the alert back."""
    value: float | None = None
    threshold: float | None = None
    message: str | None = None
    episode: str | None = None


class WatchdogView(msgspec.Struct, frozen=True, kw_only=True):
    """One watchdog: what it watches, its parameters, its pause and its latest evaluation."""

    name: str
    kind: str
    alert_subject: str
    """The NATS subject its WatchdogAlerts go to."""
    inputs: str
    status: Literal["running", "paused"]
    paused_until: datetime | None = None
    paused_by: str | None = None
    pause_reason: str | None = None
    params: dict[str, Any]
    """The effective parameters (defaults with the overrides laid over them)."""
    overrides: dict[str, Any]
    """The parameters an operator set."""
    updated_at: datetime | None = None
    updated_by: str | None = None
    active: bool
    """Whether this service instance runs the watchdog (MTS_WATCHDOGS may run a subset)."""
    evaluations: int = 0
    """Evaluations since this instance started."""
    last_value: float | None = None
    last_subject: str | None = None
    last_evaluated_at: datetime | None = None
    last_alert_at: datetime | None = None
    firing: list[FiringSubject] = []


class WatchdogList(msgspec.Struct, frozen=True, kw_only=True):
    watchdogs: list[WatchdogView]
    count: int


class PauseBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/watchdogs/{name}/pause: a time-boxed pause; give ``until`` or ``for`` (default 1h)."""

    until: datetime | None = None
    """When the pause ends (timezone-aware, in the future, at most 7 days ahead)."""
    for_: str | float | None = msgspec.field(default=None, name="for")
    """How long: seconds, or a duration such as ``30m``, ``2h``, ``1h30m``, ``90s``, ``1d``."""
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
