"""How the runtime starts mts1b-compliance: `service_spec()` (entry point `mts1b_operations.services`)."""

from __future__ import annotations

from mts1b_operations.core.runtime import ServiceSpec

__all__ = ["service_spec"]


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="compliance",
        import_name="mts1b_operations.compliance",
        default_port=8104,
        migrations=("core", "compliance"),
        description="Regulatory reports (CAT, OATS, MiFID II).",
    )
