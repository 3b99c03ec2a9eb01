"""Entry points of mts1b-compliance: the HTTP API (http.py) and the order-events consumer (consumer.py)."""

from ._service import STATE_KEY, ComplianceService, compliance_service

__all__ = ["STATE_KEY", "ComplianceService", "compliance_service"]
