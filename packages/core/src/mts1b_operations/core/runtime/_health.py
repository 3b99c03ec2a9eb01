"""Liveness, readiness and metrics endpoints every service serves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest

from ._spec import ServiceContext

__all__ = [
    "HealthController",
    "Liveness",
    "MetricsController",
    "Readiness",
    "ServiceMetrics",
    "check_dependencies",
]

CHECK_TIMEOUT = 1.0


class Liveness(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok"]
    service: str
    instance_id: str


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name


async def _probe(check: Awaitable[object], within: float) -> str:
    try:
        async with asyncio.timeout(within):
            await check
    except TimeoutError:
        return f"down: no answer within {within:g}s"
    except Exception as exc:
        return f"down: {_one_line(exc)}"
    return "ok"


async def _postgres_probe(context: ServiceContext) -> None:
    await context.pool.fetchval("SELECT 1")


async def _nats_probe(context: ServiceContext, within: float) -> None:
    if not context.bus.is_connected:
        raise ConnectionError("not connected")
    await context.bus.ping(timeout=within)


async def check_dependencies(context: ServiceContext, *, within: float = CHECK_TIMEOUT) -> dict[str, str]:
    """Probe Postgres, NATS and the spec's own readiness checks at once, each bounded by ``within`` s;
    values are "ok" or "down: <why>"."""
    own = context.spec.readiness_checks
    postgres, nats, *others = await asyncio.gather(
        _probe(_postgres_probe(context), within),
        _probe(_nats_probe(context, within), within),
        *(_probe(check(context), within) for _, check in own),
    )
    return {
        "postgres": postgres,
        "nats": nats,
        **{name: value for (name, _), value in zip(own, others, strict=True)},
    }


class HealthController(Controller):
    path = "/v1"
    tags = ["health"]

    @get("/healthz", summary="Liveness: the process loop answers")
    async def healthz(self, context: NamedDependency[ServiceContext]) -> Liveness:
        return Liveness(status="ok", service=context.name, instance_id=context.instance_id)

    @get(
        "/readyz",
        summary="Readiness: Postgres and NATS answer",
        responses={503: ResponseSpec(data_container=Readiness, description="A dependency is down")},
    )
    async def readyz(self, context: NamedDependency[ServiceContext]) -> Response[Readiness]:
        checks = await check_dependencies(context)
        ok = all(value == "ok" for value in checks.values())
        return Response(
            Readiness(status="ready" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )


class ServiceMetrics:
    """Per-service gauges in a registry of their own (apps built in one process do not collide)."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["service"]
        self.uptime = Gauge(
            "mts_service_uptime_seconds", "Seconds since the process started", labels, registry=self.registry
        )
        self.ready = Gauge(
            "mts_service_ready", "1 while the service is serving", labels, registry=self.registry
        )
        self.info = Gauge(
            "mts_service_info",
            "Identity of the running instance",
            ["service", "instance_id", "version"],
            registry=self.registry,
        )
        self.info.labels(context.name, context.instance_id, context.spec.resolved_version).set(1)

    async def refresh(self) -> None:
        name = self.context.name
        self.uptime.labels(name).set(self.context.uptime)
        self.ready.labels(name).set(1 if self.context.ready and not self.context.draining else 0)
        relay = self.context.relay
        if relay is not None:
            # backlog() sets core.outbox's gauges (mts_outbox_backlog_events and
            # mts_outbox_oldest_event_age_seconds); with Postgres down they keep their last value.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await relay.backlog()

    def render(self) -> bytes:
        # The default registry carries the HTTP request metrics, core.bus's consumer counters
        # and core.outbox's backlog gauges.
        return bytes(generate_latest(REGISTRY)) + bytes(generate_latest(self.registry))


class MetricsController(Controller):
    path = "/metrics"
    include_in_schema = False

    @get(media_type=PROMETHEUS_CONTENT_TYPE)
    async def metrics(self, metrics: NamedDependency[ServiceMetrics]) -> Response[bytes]:
        await metrics.refresh()
        return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)
