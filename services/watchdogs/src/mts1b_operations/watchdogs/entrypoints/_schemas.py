"""Request and response bodies of the watchdogs' HTTP API (msgspec Structs, shown in OpenAPI).

The answers are core's wire shapes (``core.schemas.watchdogs_api``, re-exported here), the
Structs the SDK decodes into; the request body, which only the service decodes, is defined here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from mts1b_operations.core.schemas.watchdogs_api import FiringSubject, WatchdogList, WatchdogView

__all__ = ["FiringSubject", "PauseBody", "WatchdogList", "WatchdogView"]


class PauseBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/watchdogs/{name}/pause: a time-boxed pause; give ``until`` or ``for`` (default 1h)."""

    until: datetime | None = None
    """When the pause ends (timezone-aware, in the future, at most 7 days ahead)."""
    for_: str | float | None = msgspec.field(default=None, name="for")
    """How long: seconds, or a duration such as ``30m``, ``2h``, ``1h30m``, ``90s``, ``1d``."""
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
