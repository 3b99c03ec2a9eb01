"""The adapters a deployment reports through, and the hook ``report_event`` hands reports to.

A firm hooks its own regime by registering an adapter; the service asks the registry which
adapters a fund turned on. :func:`configure` is the one piece of module state: the service
sets the funds registry and the sink at start-up so the library-level ``report_event`` calls
(``cat.report_event(...)``) reach the store without the caller knowing about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mts1b_operations.core.funds import Fund, FundsRegistry

from ._instruments import InstrumentReference
from ._model import Regime, Report, ReportingAdapter
from .mifid2 import Mifid2Adapter
from .oats import OatsAdapter

__all__ = [
    "AdapterRegistry",
    "ReportSink",
    "UnknownRegimeError",
    "configure",
    "configured_funds",
    "configured_sink",
    "default_registry",
]


@runtime_checkable
class ReportSink(Protocol):
    """Where ``report_event`` delivers the reports it builds (the service stores them)."""

    async def accept(self, reports: Sequence[Report]) -> None: ...


class UnknownRegimeError(KeyError):
    """No adapter is registered for this regime."""

    def __init__(self, regime: str) -> None:
        self.regime = regime
        super().__init__(regime)

    def __str__(self) -> str:
        return f"no reporting adapter is registered for regime {self.regime!r}"


class AdapterRegistry:
    """The reporting adapters by regime; registering a regime twice replaces the first."""

    __slots__ = ("_adapters",)

    def __init__(self, adapters: Iterable[ReportingAdapter] = ()) -> None:
        self._adapters: dict[Regime, ReportingAdapter] = {}
        for adapter in adapters:
            self.register(adapter)

    def register(self, adapter: ReportingAdapter) -> None:
        if not isinstance(adapter, ReportingAdapter):
            raise TypeError(f"adapter: {adapter!r} does not implement ReportingAdapter")
        regime = adapter.regime
        if not isinstance(regime, str) or not regime:
            raise ValueError(f"adapter.regime: expected a non-empty string, got {regime!r}")
        self._adapters[regime] = adapter

    def get(self, regime: Regime) -> ReportingAdapter:
        try:
            return self._adapters[regime]
        except KeyError:
            raise UnknownRegimeError(regime) from None

    def enabled_for(self, fund: Fund) -> list[ReportingAdapter]:
        """The adapters ``fund`` turned on, in registration order."""
        return [adapter for adapter in self._adapters.values() if adapter.enabled_for(fund)]

    @property
    def regimes(self) -> tuple[Regime, ...]:
        return tuple(self._adapters)

    def __contains__(self, regime: object) -> bool:
        return regime in self._adapters

    def __iter__(self) -> Iterator[ReportingAdapter]:
        return iter(self._adapters.values())

    def __len__(self) -> int:
        return len(self._adapters)

    def __repr__(self) -> str:
        return f"AdapterRegistry({list(self._adapters)!r})"


def default_registry(*, instruments: InstrumentReference | None = None) -> AdapterRegistry:
    """CAT, OATS and MiFID II; ``instruments`` is the reference MiFID II needs for ISINs."""
    from .cat import CatAdapter  # here, not at the top: cat imports this module for its hook

    return AdapterRegistry((CatAdapter(), OatsAdapter(), Mifid2Adapter(instruments)))


@dataclass(slots=True)
class _Hook:
    funds: FundsRegistry | None = None
    sink: ReportSink | None = None


_HOOK = _Hook()


def configure(*, funds: FundsRegistry | None, sink: ReportSink | None) -> None:
    """Set (or, with ``None``, clear) the funds and the sink ``report_event`` uses."""
    if funds is not None and not isinstance(funds, FundsRegistry):
        raise TypeError(f"funds: expected a FundsRegistry, got {type(funds).__name__}")
    if sink is not None and not isinstance(sink, ReportSink):
        raise TypeError(f"sink: {sink!r} has no async accept(reports) method")
    _HOOK.funds = funds
    _HOOK.sink = sink


def configured_funds() -> FundsRegistry | None:
    return _HOOK.funds


def configured_sink() -> ReportSink | None:
    return _HOOK.sink
