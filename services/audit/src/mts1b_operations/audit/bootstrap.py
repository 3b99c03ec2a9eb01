"""How the runtime starts mts1b-audit: `service_spec()` (entry point `mts1b_operations.services`)."""

from __future__ import annotations

from mts1b_operations.core.runtime import ServiceSpec

__all__ = ["service_spec"]


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="audit",
        import_name="mts1b_operations.audit",
        default_port=8102,
        migrations=("core", "audit"),
        description="The hash-chained, append-only audit trail and its signed checkpoints.",
    )
