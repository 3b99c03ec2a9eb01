"""How the runtime starts mts1b-watchdogs: `service_spec()` (entry point `mts1b_operations.services`).

Start-up (hook ``start_watchdogs``): read the funds registry (MTS_FUNDS_FILE; vol targets and
drawdown limits of portfolio_vol_dd), the watchdogs to run (MTS_WATCHDOGS, default all ten) and
the upstreams of the dependency watchdog (MTS_WATCHDOG_UPSTREAMS), and build the
:class:`WatchdogRuntime` and its :class:`WatchdogControl` on the service's pool and bus. The
runtime then starts as a consumer (configuration and state from Postgres, one durable consumer
per input, the periodic probes), the control listens for other replicas' changes, and HTTP
serves. Alerts leave through the service's outbox (its relay is started by the core runtime).
"""

from __future__ import annotations

import logging
import os
from typing import Final

from mts1b_operations.core.funds import FundsRegistry, load_funds
from mts1b_operations.core.runtime import Consumer, ServiceContext, ServiceSpec
from mts1b_operations.core.settings import SettingsError

from .config import UPSTREAMS_VARIABLE, parse_upstreams
from .entrypoints.control import WatchdogControl
from .entrypoints.http import ROUTE_HANDLERS, STATE_KEY, watchdog_control
from .runners import NAMES_VARIABLE, WatchdogRuntime, names_from_env

__all__ = ["NAME", "service_spec", "start_watchdogs", "watchdog_control_consumer", "watchdog_runtime"]

log = logging.getLogger(__name__)

NAME: Final = "watchdogs"


def _funds(context: ServiceContext) -> FundsRegistry:
    path = context.settings.funds_file
    if path is None:
        log.info(
            "MTS_FUNDS_FILE is not set: portfolio_vol_dd uses its vol_target and drawdown_limit parameters"
        )
        return FundsRegistry.empty()
    try:
        return load_funds(path)
    except ValueError as exc:
        raise SettingsError("MTS_FUNDS_FILE", str(exc)) from None


async def start_watchdogs(context: ServiceContext) -> None:
    try:
        names = names_from_env()
    except ValueError as exc:
        raise SettingsError(NAMES_VARIABLE, str(exc).removeprefix(f"{NAMES_VARIABLE}: ")) from None
    try:
        parse_upstreams(os.environ.get(UPSTREAMS_VARIABLE))
    except ValueError as exc:
        raise SettingsError(UPSTREAMS_VARIABLE, str(exc).removeprefix(f"{UPSTREAMS_VARIABLE}: ")) from None
    runtime = WatchdogRuntime(
        context.pool, context.bus, source=context.name, funds=_funds(context), names=names
    )
    context.state[STATE_KEY] = WatchdogControl(
        runtime, context.bus, instance_id=context.instance_id, service=context.name
    )


def watchdog_runtime(context: ServiceContext) -> Consumer:
    """The runners: configuration and state from Postgres, their inputs, the periodic bookkeeping."""
    return watchdog_control(context).runtime


def watchdog_control_consumer(context: ServiceContext) -> Consumer:
    """Other replicas' changes, heard on mts.v1.operations.cmd.watchdog."""
    return watchdog_control(context)


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        import_name="mts1b_operations.watchdogs",
        default_port=8103,
        migrations=("core", "watchdogs"),
        description=(
            "Ten risk and infrastructure watchdogs over the NATS data of the firm (VPIN, news spikes, "
            "position anomalies, NAV prediction intervals, signal drift, strategy P&L, theta, volatility "
            "and drawdown, dependencies, the database), with live configuration, time-boxed pauses and "
            "Alertmanager-style alerting on mts.v1.operations.watchdog.<kind>."
        ),
        route_handlers=list(ROUTE_HANDLERS),
        consumers=(watchdog_runtime, watchdog_control_consumer),
        on_startup=(start_watchdogs,),
    )
