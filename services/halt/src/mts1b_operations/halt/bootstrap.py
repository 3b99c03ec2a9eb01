"""How the runtime starts mts1b-halt: `service_spec()` (entry point `mts1b_operations.services`).

Start-up (hook ``start_halts``): read the auto-halt policy (MTS_HALT_POLICY_FILE, defaults
otherwise) and the funds registry (MTS_FUNDS_FILE; without it only firm halts can be
requested), build the :class:`HaltManager` on the service's own pool and bus (the runtime's
relay publishes its outbox), reconcile the KV bucket ``mts_halts`` with the halts in force in
Postgres, and resume the re-sends of the OMS commands still owed (``halt_oms_resends``). Then
the watchdog-alerts consumer (auto-halt policy) starts and HTTP serves.
"""

from __future__ import annotations

import logging
from typing import Final

from mts1b_operations.core.bus import DurableConsumer
from mts1b_operations.core.funds import FundsRegistry, load_funds
from mts1b_operations.core.runtime import ServiceContext, ServiceSpec
from mts1b_operations.core.settings import SettingsError

from .alerts import AlertTracker
from .entrypoints._service import STATE_KEY, HaltService, halt_service
from .entrypoints.consumers import AutoHaltPolicy, alerts_consumer
from .entrypoints.http import ROUTE_HANDLERS
from .manager import HaltManager
from .policy import load_policy_from_env

__all__ = ["service_spec", "start_halts", "stop_halts", "watchdog_alerts"]

log = logging.getLogger(__name__)

NAME: Final = "halt"


def _funds(context: ServiceContext) -> FundsRegistry:
    path = context.settings.funds_file
    if path is None:
        log.warning(
            "MTS_FUNDS_FILE is not set: the funds registry is empty, so only FIRM_HALT can be requested; "
            "set it to the funds YAML to halt funds and strategies"
        )
        return FundsRegistry.empty()
    try:
        return load_funds(path)
    except ValueError as exc:
        raise SettingsError("MTS_FUNDS_FILE", str(exc)) from None


async def start_halts(context: ServiceContext) -> None:
    policy = load_policy_from_env()
    funds = _funds(context)
    tracker = AlertTracker(context.pool)
    manager = HaltManager(
        funds=funds,
        pool=context.pool,
        bus=context.bus,
        alerts=tracker,
        source=context.name,
        run_relay=False,
    )
    await manager.start()
    if manager.nats_synced:
        report = await manager.reconcile_kv()
        log.info(
            "KV bucket mts_halts reconciled with Postgres: %d in place, put %s, deleted %s",
            report.unchanged, report.put or "none", report.deleted or "none",
        )  # fmt: skip
    else:
        log.warning("NATS not synced yet: the KV bucket mts_halts is reconciled as soon as it is")
    service = HaltService(
        manager=manager,
        funds=funds,
        policy=policy,
        tracker=tracker,
        pool=context.pool,
        bus=context.bus,
        source=context.name,
    )
    context.state[STATE_KEY] = service
    resumed, lifted, expired = await service.resume_resends()
    log.info(
        "OMS commands owed by halts: %d re-sent again, %d dropped (halt lifted), %d dropped (window passed)",
        resumed, lifted, expired,
    )  # fmt: skip
    log.info(
        "halts: %d fund(s) in the registry, %d auto-halt rule(s) (%s), OMS responders expected: %s",
        len(funds), len(policy.rules), ", ".join(r.name for r in policy.rules if r.enabled) or "none",
        ", ".join(policy.oms.expected_responders) or "whoever answers",
    )  # fmt: skip


async def stop_halts(context: ServiceContext) -> None:
    service = context.state.pop(STATE_KEY, None)
    if isinstance(service, HaltService):
        await service.close()
        await service.manager.close()


def watchdog_alerts(context: ServiceContext) -> DurableConsumer:
    """The auto-halt policy's consumer of watchdog alerts."""
    service = halt_service(context)
    handler = AutoHaltPolicy(
        pool=context.pool,
        manager=service.manager,
        tracker=service.tracker,
        policy=service.policy,
        follow_up=service.follow_up,
    )
    return alerts_consumer(context.bus, handler)


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        import_name="mts1b_operations.halt",
        default_port=8101,
        migrations=("core", "halt"),
        description=(
            "Halts of trading (firm, fund, strategy): sticky until operators cosign a resume, mirrored "
            "to the KV bucket mts_halts for order gates, applied automatically from watchdog alerts."
        ),
        route_handlers=list(ROUTE_HANDLERS),
        consumers=(watchdog_alerts,),
        on_startup=(start_halts,),
        on_shutdown=(stop_halts,),
    )
