"""How the runtime starts mts1b-marketdata-api: `service_spec()` (entry point `mts1b_operations.services`)."""

from __future__ import annotations

from mts1b_operations.core.runtime import ServiceSpec

__all__ = ["service_spec"]


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="marketdata-api",
        import_name="mts1b_operations.marketdata",
        default_port=8105,
        migrations=("core", "marketdata-api"),
        description="Read-only market data: bars, trades and quotes.",
    )
