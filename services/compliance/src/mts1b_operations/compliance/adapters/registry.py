"""What the service needs of a registry of reporting adapters, and lookups that never raise.

``reg_reporting.AdapterRegistry`` (``default_registry()``) is one; a firm may hand the service
any object with ``get(regime)`` and ``enabled_for(fund)`` — e.g. a registry with its own
adapter registered next to (or instead of) cat, oats and mifid2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from mts1b_operations.core.funds import Fund

from ..reg_reporting._model import ReportingAdapter

__all__ = ["AdapterSource", "adapter_for", "regimes_of"]


class AdapterSource(Protocol):
    def get(self, regime: str) -> ReportingAdapter | None: ...

    def enabled_for(self, fund: Fund) -> Sequence[ReportingAdapter]: ...


def adapter_for(source: AdapterSource, regime: str) -> ReportingAdapter | None:
    """The adapter of ``regime``, or None when the registry has none (``get`` may raise or return None)."""
    try:
        return source.get(regime)
    except LookupError:
        return None


def regimes_of(source: AdapterSource) -> tuple[str, ...]:
    """The registered regimes, when the registry can list them (``regimes``, or by iteration)."""
    listed = getattr(source, "regimes", None)
    if callable(listed):
        listed = listed()
    if listed is None and isinstance(source, Iterable):
        listed = [getattr(item, "regime", item) for item in source]
    return tuple(sorted(str(regime) for regime in listed or ()))
