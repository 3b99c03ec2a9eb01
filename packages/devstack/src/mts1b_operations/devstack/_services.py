"""Which services the stack runs, on which port, and the client variable that points at each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mts1b_operations.cli.serve import service_entry_points

__all__ = [
    "DEFAULT_BASE_PORT",
    "PORT_OFFSETS",
    "PlannedService",
    "UnknownServiceError",
    "plan_services",
    "url_variable",
]

DEFAULT_BASE_PORT = 8100
# The dev-stack and client defaults of decision 0001: halt 8101 ... marketdata-api 8105.
PORT_OFFSETS = {"halt": 1, "audit": 2, "watchdogs": 3, "compliance": 4, "marketdata-api": 5}
_URL_VARIABLES = {"marketdata-api": "MTS_MARKETDATA_URL"}


class UnknownServiceError(ValueError):
    def __init__(self, unknown: Sequence[str], valid: Iterable[str]) -> None:
        self.unknown = list(unknown)
        super().__init__(
            f"--only: unknown service(s) {', '.join(self.unknown)}; valid services: {', '.join(valid)}"
        )


@dataclass(frozen=True)
class PlannedService:
    name: str
    port: int
    url: str

    @property
    def url_variable(self) -> str:
        return url_variable(self.name)


def url_variable(service: str) -> str:
    """The client setting naming this service's URL (MTS_HALT_URL, ..., MTS_MARKETDATA_URL)."""
    return _URL_VARIABLES.get(service, f"MTS_{service.upper().replace('-', '_')}_URL")


def plan_services(
    base_port: int,
    only: Sequence[str] = (),
    *,
    host: str = "127.0.0.1",
    installed: Iterable[str] | None = None,
) -> list[PlannedService]:
    """The installed services (or the ``only`` subset), each on base_port + its fixed offset.

    A service unknown to the offset table takes the next ports after the known ones, in name order.
    """
    names = sorted(service_entry_points() if installed is None else installed)
    unknown = [name for name in only if name not in names]
    if unknown:
        raise UnknownServiceError(unknown, names)
    extra = iter(range(max(PORT_OFFSETS.values()) + 1, 1 << 16))
    offsets = {name: PORT_OFFSETS[name] if name in PORT_OFFSETS else next(extra) for name in names}
    chosen = [name for name in names if not only or name in only]
    return [
        PlannedService(name, base_port + offsets[name], f"http://{host}:{base_port + offsets[name]}")
        for name in sorted(chosen, key=lambda name: offsets[name])
    ]
