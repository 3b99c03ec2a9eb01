"""The watchdogs service's HTTP API: :class:`WatchdogsClient` (status, parameters, pause, resume).

Example::

    from mts1b_operations.client import WatchdogsClient

    async with WatchdogsClient.from_env() as watchdogs:        # MTS_WATCHDOGS_URL, MTS_TOKEN
        for w in await watchdogs.list_watchdogs():
            print(w.name, w.status, [f.subject_id for f in w.firing])
        await watchdogs.configure("vpin", threshold=0.45, window=30)
        await watchdogs.configure("vpin", threshold=None)        # back to the default
        await watchdogs.pause("news_spike", duration="30m", reason="earnings season")
        await watchdogs.resume("news_spike")

Errors are the SDK's tree: an unknown watchdog is :class:`~._errors.NotFoundError` (its message
lists the valid names), a parameter out of range or unknown is :class:`~._errors.BadRequestError`
with ``field`` naming it. Changes need role operator, reads role viewer.

The answer types (:class:`WatchdogView`, :class:`WatchdogFiringSubject`) are core's wire shapes
(``mts1b_operations.core.schemas.watchdogs_api``, where the latter is ``FiringSubject`` as in the
service's OpenAPI schema), the Structs the service itself encodes; unknown fields from a newer
service are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mts1b_operations.core.schemas.watchdogs_api import FiringSubject, WatchdogList, WatchdogView

from ._config import ClientConfig
from ._http import ServiceClient

if TYPE_CHECKING:
    from typing import Self

    import httpx

__all__ = ["WatchdogFiringSubject", "WatchdogView", "WatchdogsClient"]


WatchdogFiringSubject = FiringSubject
"""A subject whose alert fires (the service's ``FiringSubject``); ``notified`` is False while a
pause or an inhibition holds it back."""


def _path(name: str, suffix: str = "") -> str:
    return f"/v1/watchdogs/{quote(name, safe='')}{suffix}"


class WatchdogsClient(ServiceClient):
    """The ``mts1b-watchdogs`` API."""

    @classmethod
    def from_env(
        cls, config: ClientConfig | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """A client of MTS_WATCHDOGS_URL with MTS_TOKEN (or the credentials file), see ``ClientConfig``."""
        return cls.for_service("watchdogs", config, transport=transport)

    async def list_watchdogs(self) -> list[WatchdogView]:
        """Every watchdog: parameters, pause, latest evaluation, firing subjects."""
        return (await self.get("/v1/watchdogs", WatchdogList)).watchdogs

    async def show(self, name: str) -> WatchdogView:
        return await self.get(_path(name), WatchdogView)

    async def configure(
        self, name: str, params: dict[str, Any] | None = None, **changes: Any
    ) -> WatchdogView:
        """Change some parameters of ``name`` (``None`` resets one to its default); the rest are kept.

        Parameters whose name is not an identifier (``for``) go in ``params``.
        """
        body = {**(params or {}), **changes}
        return await self.put(_path(name, "/config"), WatchdogView, body=body)

    async def pause(
        self,
        name: str,
        *,
        until: datetime | None = None,
        duration: str | float | None = None,
        reason: str | None = None,
    ) -> WatchdogView:
        """Silence ``name`` until ``until`` or for ``duration`` (seconds, ``30m``, ``2h``; default 1h)."""
        body: dict[str, Any] = {}
        if until is not None:
            body["until"] = until.isoformat()
        if duration is not None:
            body["for"] = duration
        if reason is not None:
            body["reason"] = reason
        return await self.post(_path(name, "/pause"), WatchdogView, body=body)

    async def resume(self, name: str) -> WatchdogView:
        """End the pause of ``name`` now."""
        return await self.post(_path(name, "/resume"), WatchdogView)
