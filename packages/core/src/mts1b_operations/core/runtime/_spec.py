"""What a service declares (:class:`ServiceSpec`) and what it gets at run time (:class:`ServiceContext`)."""

from __future__ import annotations

import functools
import importlib.metadata
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from litestar.types import ControllerRouterHandler

from mts1b_operations.core import subjects
from mts1b_operations.core.settings import Settings

if TYPE_CHECKING:
    import asyncpg

    from mts1b_operations.core.bus import Bus
    from mts1b_operations.core.outbox import OutboxRelay

__all__ = ["Consumer", "ConsumerFactory", "Hook", "ReadinessCheck", "ServiceContext", "ServiceSpec"]


class Consumer(Protocol):
    """Anything the runtime starts after the relay and stops (letting in-flight work finish) on drain."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ConsumerFactory = Callable[["ServiceContext"], Consumer]
Hook = Callable[["ServiceContext"], Awaitable[None]]
ReadinessCheck = Callable[["ServiceContext"], Awaitable[object]]
"""A dependency of the service's own that ``/v1/readyz`` probes beside Postgres and NATS; raising
(or not answering within the probe's bound) reports it down with the exception's first line."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """A service's declaration, returned by its ``bootstrap.service_spec()``.

    ``name`` is the services/ folder name (``halt``, ``marketdata-api``): it names the heartbeat
    subject, the outbox source and the restart-command target.
    """

    name: str
    import_name: str
    default_port: int
    migrations: tuple[str, ...] = ("core",)
    description: str = ""
    route_handlers: Sequence[ControllerRouterHandler] = ()
    consumers: Sequence[ConsumerFactory] = ()
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    readiness_checks: tuple[tuple[str, ReadinessCheck], ...] = ()
    """``(name, check)`` pairs probed by ``/v1/readyz`` after ``postgres`` and ``nats``."""
    version: str | None = None
    heartbeat_interval: float = 2.0
    connect_deadline: float = 60.0
    drain_timeout: float = 15.0

    def __post_init__(self) -> None:
        subjects.token_of("name", self.name)
        if not self.import_name.startswith("mts1b_operations."):
            raise ValueError(f"import_name: must be a mts1b_operations package (got {self.import_name!r})")
        if not 1 <= self.default_port <= 65535:
            raise ValueError(f"default_port: must be between 1 and 65535 (got {self.default_port})")
        if not self.migrations or any(not m for m in self.migrations):
            raise ValueError(f"migrations: must name at least one migration set (got {self.migrations!r})")
        for attr in ("heartbeat_interval", "connect_deadline", "drain_timeout"):
            if getattr(self, attr) <= 0:
                raise ValueError(f"{attr}: must be positive (got {getattr(self, attr)!r})")

    @property
    def title(self) -> str:
        return f"mts1b-{self.name}"

    @functools.cached_property
    def resolved_version(self) -> str:
        """The explicit version, else the installed distribution's (``mts1b-operations-<name>``)."""
        if self.version:
            return self.version
        try:
            return importlib.metadata.version(f"mts1b-operations-{self.name}")
        except importlib.metadata.PackageNotFoundError:
            return "0+unknown"


class ServiceContext:
    """The running service's connections and identity, handed to hooks, consumers and HTTP handlers.

    HTTP handlers receive it by declaring ``context: NamedDependency[ServiceContext]``. ``state`` is
    the service's own place for what its ``on_startup`` hooks build. A plain class, not a dataclass:
    Litestar must pass it through as is rather than try to validate its fields.
    """

    def __init__(
        self,
        *,
        spec: ServiceSpec,
        settings: Settings,
        pool: asyncpg.Pool,
        bus: Bus,
        instance_id: str,
        on_stop_request: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.pool = pool
        self.bus = bus
        self.instance_id = instance_id
        self.on_stop_request = on_stop_request
        self.started_at = datetime.now(UTC)
        self.relay: OutboxRelay | None = None
        self.state: dict[str, Any] = {}
        self.ready = False
        self.draining = False
        self._started_monotonic = time.monotonic()

    def __repr__(self) -> str:
        return f"ServiceContext(service={self.name!r}, instance_id={self.instance_id!r}, ready={self.ready})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_monotonic

    @property
    def http_url(self) -> str:
        host = self.settings.http_host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.settings.http_port}"

    def request_stop(self, reason: str) -> None:
        """Ask the lifecycle to drain and exit 0 (as SIGTERM would)."""
        if self.on_stop_request is not None:
            self.on_stop_request(reason)
