"""How the runtime starts mts1b-compliance: `service_spec()` (entry point `mts1b_operations.services`).

Start-up (hook ``start_compliance``): read the service's settings (``_config``), the funds
registry (MTS_FUNDS_FILE; without it no fund reports anything) and build the adapter registry
(``reg_reporting.default_registry``: cat, oats, mifid2, with the instrument reference of
MTS_COMPLIANCE_INSTRUMENTS_FILE) and the transport (a local directory, MTS_COMPLIANCE_OUTPUT_DIR).
Then the order-events consumer and the filer start, and HTTP serves. ``/v1/readyz`` also
checks that the output directory is writable.

A firm hooks its own adapters or transport with ``service_spec(registry=..., transport=...)``
in its own entry point; tests pass a :class:`ComplianceConfig` too.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Final

from mts1b_operations.core.bus import DurableConsumer
from mts1b_operations.core.funds import FundsRegistry, load_funds
from mts1b_operations.core.runtime import Consumer, ServiceContext, ServiceSpec
from mts1b_operations.core.settings import SettingsError

from ._config import INSTRUMENTS_FILE_VARIABLE, OUTPUT_DIR_VARIABLE, ComplianceConfig, load_config
from .adapters import ComplianceStore, LocalDirectoryTransport, Transport
from .adapters.registry import AdapterSource
from .entrypoints._service import STATE_KEY, ComplianceService, compliance_service
from .entrypoints.consumer import OrderEventsHandler, order_events_consumer
from .entrypoints.http import ROUTE_HANDLERS
from .filing import Filer, Filing
from .reg_reporting import default_registry
from .reg_reporting._instruments import load_instruments
from .reporting import Reporter

__all__ = ["filer", "order_events", "output_dir_writable", "service_spec", "start_compliance"]

log = logging.getLogger(__name__)

NAME: Final = "compliance"


def _funds(context: ServiceContext) -> FundsRegistry:
    path = context.settings.funds_file
    if path is None:
        log.warning(
            "MTS_FUNDS_FILE is not set: the funds registry is empty, so no fund reports anything; "
            "set it to the funds YAML with each fund's compliance section"
        )
        return FundsRegistry.empty()
    try:
        return load_funds(path)
    except ValueError as exc:
        raise SettingsError("MTS_FUNDS_FILE", str(exc)) from None


def _default_registry(config: ComplianceConfig) -> AdapterSource:
    """cat, oats and mifid2, MiFID II with the instrument reference of MTS_COMPLIANCE_INSTRUMENTS_FILE."""
    if config.instruments_file is None:
        return default_registry()
    try:
        instruments = load_instruments(config.instruments_file)
    except ValueError as exc:
        raise SettingsError(INSTRUMENTS_FILE_VARIABLE, str(exc)) from None
    return default_registry(instruments=instruments)


async def start_compliance(
    context: ServiceContext,
    *,
    config: ComplianceConfig | None = None,
    registry: AdapterSource | None = None,
    transport: Transport | None = None,
) -> None:
    config = config or load_config()
    funds = _funds(context)
    registry = registry if registry is not None else _default_registry(config)
    if transport is None:
        transport = LocalDirectoryTransport(config.output_dir)
        try:
            await transport.check_writable()
        except OSError as exc:
            raise SettingsError(
                OUTPUT_DIR_VARIABLE, f"{config.output_dir} is not writable: {exc.strerror or exc}"
            ) from None
    store = ComplianceStore(context.pool, source=context.name)
    context.state[STATE_KEY] = ComplianceService(
        config=config,
        funds=funds,
        registry=registry,
        store=store,
        transport=transport,
        reporter=Reporter(store=store, registry=registry, funds=funds),
        filing=Filing(store=store, registry=registry, funds=funds, transport=transport, config=config),
    )
    enabled = {fund.fund_id: [adapter.regime for adapter in registry.enabled_for(fund)] for fund in funds}
    log.info(
        "compliance: %s; files cut daily at %s ET, submitted by %r",
        ", ".join(f"{fund} -> {', '.join(regimes) or 'nothing'}" for fund, regimes in enabled.items())
        or "no funds",
        config.cut_time.strftime("%H:%M"),
        transport,
    )


def order_events(context: ServiceContext) -> DurableConsumer:
    """The consumer of mts.v1.oms.order.* that stores each event's reports."""
    return order_events_consumer(context.bus, OrderEventsHandler(compliance_service(context).reporter))


def filer(context: ServiceContext, *, auto_cut: bool = True) -> Consumer:
    """The background filer: the daily cut, retries of unsubmitted files, the overdue gauge."""
    return Filer(filing=compliance_service(context).filing, auto_cut=auto_cut)


async def output_dir_writable(context: ServiceContext) -> None:
    """Readiness: the default transport's directory takes a new file (other transports: nothing to check)."""
    transport = compliance_service(context).transport
    if isinstance(transport, LocalDirectoryTransport):
        await transport.check_writable()


def service_spec(
    *,
    config: ComplianceConfig | None = None,
    registry: AdapterSource | None = None,
    transport: Transport | None = None,
) -> ServiceSpec:
    startup = partial(start_compliance, config=config, registry=registry, transport=transport)
    startup.__name__ = "start_compliance"  # type: ignore[attr-defined]
    return ServiceSpec(
        name=NAME,
        import_name="mts1b_operations.compliance",
        default_port=8104,
        migrations=("core", "compliance"),
        description=(
            "Regulatory reports (CAT, OATS, MiFID II) built from every order event of the funds that "
            "enable a regime: stored (a report missing a field is held as rejected, naming it, and can be "
            "repaired), filed daily or on demand, submitted through a transport, each step in the audit "
            "chain."
        ),
        route_handlers=list(ROUTE_HANDLERS),
        consumers=(order_events, filer),
        on_startup=(startup,),
        readiness_checks=(("output_dir", output_dir_writable),),
    )
