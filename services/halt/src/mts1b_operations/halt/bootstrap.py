"""How the runtime starts mts1b-halt: `service_spec()` (entry point `mts1b_operations.services`)."""

from __future__ import annotations

from mts1b_operations.core.runtime import ServiceSpec

__all__ = ["service_spec"]


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="halt",
        import_name="mts1b_operations.halt",
        default_port=8101,
        migrations=("core", "halt"),
        description="Halts of trading (firm, fund, strategy); sticky until operators cosign a resume.",
    )
