"""What the HTTP handlers, the consumer and the filer share: :class:`ComplianceService`, built at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mts1b_operations.core.funds import FundsRegistry
    from mts1b_operations.core.runtime import ServiceContext

    from .._config import ComplianceConfig
    from ..adapters import ComplianceStore, Transport
    from ..adapters.registry import AdapterSource
    from ..filing import Filing
    from ..reporting import Reporter

__all__ = ["STATE_KEY", "ComplianceService", "compliance_service"]

STATE_KEY: Final = "compliance_service"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceService:
    config: ComplianceConfig
    funds: FundsRegistry
    registry: AdapterSource
    store: ComplianceStore
    transport: Transport
    reporter: Reporter
    filing: Filing


def compliance_service(context: ServiceContext) -> ComplianceService:
    """The running service's :class:`ComplianceService` (set by the start-up hook)."""
    service = context.state.get(STATE_KEY)
    if not isinstance(service, ComplianceService):
        raise RuntimeError(
            "the compliance service is not started (no ComplianceService in the context's state)"
        )
    return service
