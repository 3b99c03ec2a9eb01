"""How the runtime starts mts1b-watchdogs: `service_spec()` (entry point `mts1b_operations.services`)."""

from __future__ import annotations

from mts1b_operations.core.runtime import ServiceSpec

__all__ = ["service_spec"]


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="watchdogs",
        import_name="mts1b_operations.watchdogs",
        default_port=8103,
        migrations=("core", "watchdogs"),
        description="Risk and infrastructure watchdogs, their configuration and state.",
    )
