"""The answers of the watchdogs API (``mts1b-watchdogs``), as they go on the wire.

The service encodes these Structs and the SDK (``mts1b_operations.client``) decodes into them, so
the two cannot drift. They are HTTP answers, not bus payloads: untagged, and without the bus
payloads' constraints, because these annotations are also what the service's OpenAPI schema
documents (a ``Meta`` added here changes the schema). Unknown fields from a newer service are
ignored on decode. The request bodies stay with the service: only it decodes them.

The class names are those of the OpenAPI components (the SDK also calls :class:`FiringSubject`
``WatchdogFiringSubject``). The alerts themselves are the bus payload
:class:`~mts1b_operations.core.schemas.WatchdogAlert`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

__all__ = ["FiringSubject", "WatchdogList", "WatchdogStatus", "WatchdogView"]

WatchdogStatus = Literal["running", "paused"]


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
    """One watchdog: what it watches, its parameters, its pause and its latest evaluation
    (``GET /v1/watchdogs/{name}``, and the answer of a change)."""

    name: str
    kind: str
    alert_subject: str
    """The NATS subject its WatchdogAlerts go to."""
    inputs: str
    status: WatchdogStatus
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
    """Every watchdog, in the configuration's order (``GET /v1/watchdogs``)."""

    watchdogs: list[WatchdogView]
    count: int
