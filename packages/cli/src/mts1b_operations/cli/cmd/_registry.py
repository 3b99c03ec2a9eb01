"""The funds registry as the operator's commands see it: MTS_FUNDS_FILE, and what a TARGET names.

The halt service decides with its own copy of the registry; the CLI reads the same file to
show the impact of a command before it is confirmed (which funds, paper or live) and to turn
a resume TARGET into an unambiguous ``fund:<id>`` or ``strategy:<id>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .._exit_codes import ExitCode
from .._output import fail

if TYPE_CHECKING:
    from mts1b_operations.core.funds import FundsRegistry

__all__ = ["FUNDS_VARIABLE", "LoadedRegistry", "Target", "load_registry", "resolve_target"]

FUNDS_VARIABLE = "MTS_FUNDS_FILE"


@dataclass(frozen=True)
class LoadedRegistry:
    registry: FundsRegistry
    path: str


@dataclass(frozen=True)
class Target:
    """What a resume is about: a fund, or a strategy and the fund it belongs to."""

    kind: Literal["fund", "strategy"]
    id: str
    fund_id: str | None
    """The fund: the target itself, or the strategy's fund (None when no registry says)."""

    @property
    def scope(self) -> str:
        """The halt service's scope argument, explicit so it can never be read the other way."""
        return f"{self.kind}:{self.id}"

    def describe(self) -> str:
        if self.kind == "fund":
            return f"fund {self.id}"
        return f"strategy {self.id}" + (f" (fund {self.fund_id})" if self.fund_id else "")


def load_registry(*, required: bool, why: str = "") -> LoadedRegistry | None:
    """The registry named by MTS_FUNDS_FILE; None when unset and not ``required``.

    Unset but required, unreadable or invalid: exit 2 naming the variable (and the field).
    """
    from mts1b_operations.core.funds import FundsError, load_funds

    path = os.environ.get(FUNDS_VARIABLE, "").strip()
    if not path:
        if required:
            fail(f"{FUNDS_VARIABLE} is not set: {why or 'the funds registry is needed'}", ExitCode.USAGE)
        return None
    try:
        return LoadedRegistry(load_funds(path), path)
    except FundsError as exc:
        fail(f"{FUNDS_VARIABLE}: {exc}", ExitCode.USAGE)


def resolve_target(target: str, loaded: LoadedRegistry | None) -> Target:
    """A fund id, a strategy id, or ``fund:<id>`` / ``strategy:<id>``; exit 2 when unknown or ambiguous.

    A bare id needs the registry (MTS_FUNDS_FILE). An id that is both a fund and a strategy
    is refused naming both, so a resume never lifts a halt other than the one meant.
    """
    text = target.strip()
    kind, sep, rest = text.partition(":")
    if sep and kind in ("fund", "strategy"):
        if not rest:
            fail(f"TARGET {target!r} names no {kind} id", ExitCode.USAGE)
        return _explicit(kind, rest, loaded)  # type: ignore[arg-type]  # checked just above
    if loaded is None:
        fail(
            f"TARGET {target!r}: set {FUNDS_VARIABLE} to resolve it through the funds registry, "
            f"or say fund:{text} or strategy:{text}",
            ExitCode.USAGE,
        )
    registry = loaded.registry
    is_fund = text in registry
    is_strategy = text in registry.all_strategies()
    if is_fund and is_strategy:
        owner = registry.fund_of_strategy(text).fund_id
        fail(
            f"TARGET {text!r} is ambiguous: it is fund {text} and strategy {text} (of fund {owner}) "
            f"in {loaded.path}; say fund:{text} or strategy:{text}",
            ExitCode.USAGE,
        )
    if is_fund:
        return Target("fund", text, text)
    if is_strategy:
        return Target("strategy", text, registry.fund_of_strategy(text).fund_id)
    fail(
        f"TARGET {text!r} is neither a fund nor a strategy of the funds registry {loaded.path}",
        ExitCode.USAGE,
    )


def _explicit(kind: Literal["fund", "strategy"], ident: str, loaded: LoadedRegistry | None) -> Target:
    if loaded is None:
        return Target(kind, ident, ident if kind == "fund" else None)
    registry = loaded.registry
    if kind == "fund":
        if ident not in registry:
            fail(f"TARGET fund:{ident}: no such fund in the funds registry {loaded.path}", ExitCode.USAGE)
        return Target("fund", ident, ident)
    if ident not in registry.all_strategies():
        fail(f"TARGET strategy:{ident}: no fund of {loaded.path} runs this strategy", ExitCode.USAGE)
    return Target("strategy", ident, registry.fund_of_strategy(ident).fund_id)
