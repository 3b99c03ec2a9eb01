"""Scopes of a halt and their hierarchy: the firm covers every fund, a fund covers its strategies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from mts1b_operations.core.schemas import HaltSeverity

__all__ = ["FIRM", "Scope", "ScopeKind", "severity_kind"]

ScopeKind = Literal["firm", "fund", "strategy"]

_SEVERITY: Final[dict[ScopeKind, HaltSeverity]] = {
    "firm": "FIRM_HALT",
    "fund": "FUND_HALT",
    "strategy": "STRATEGY_HALT",
}
_KIND: Final[dict[str, ScopeKind]] = {severity: kind for kind, severity in _SEVERITY.items()}


def severity_kind(severity: str) -> ScopeKind:
    """``FUND_HALT`` -> ``fund``; KeyError for anything else."""
    return _KIND[severity]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a halt stops: the firm, one fund, or one strategy (with the fund that runs it).

    ``key`` is the scope's name in Postgres (``firm``, ``fund.<fund_id>``,
    ``strategy.<strategy_id>``); at most one halt per key is in force at a time.
    """

    kind: ScopeKind
    fund_id: str | None = None
    strategy_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "firm" and (self.fund_id is not None or self.strategy_id is not None):
            raise ValueError("a firm scope names no fund or strategy")
        if self.kind == "fund" and (self.fund_id is None or self.strategy_id is not None):
            raise ValueError("a fund scope names its fund and no strategy")
        if self.kind == "strategy" and (self.fund_id is None or self.strategy_id is None):
            raise ValueError("a strategy scope names its strategy and the fund that runs it")

    @classmethod
    def fund(cls, fund_id: str) -> Scope:
        return cls("fund", fund_id)

    @classmethod
    def strategy(cls, strategy_id: str, fund_id: str) -> Scope:
        return cls("strategy", fund_id, strategy_id)

    @property
    def key(self) -> str:
        if self.kind == "firm":
            return "firm"
        if self.kind == "fund":
            return f"fund.{self.fund_id}"
        return f"strategy.{self.strategy_id}"

    @property
    def severity(self) -> HaltSeverity:
        return _SEVERITY[self.kind]

    @property
    def label(self) -> str:
        """For messages: ``the firm``, ``fund 'a'``, ``strategy 's' of fund 'a'``."""
        if self.kind == "firm":
            return "the firm"
        if self.kind == "fund":
            return f"fund {self.fund_id!r}"
        return f"strategy {self.strategy_id!r} of fund {self.fund_id!r}"

    def covering(self) -> tuple[Scope, ...]:
        """This scope and every scope above it, broadest first: a halt on any of them stops this one."""
        if self.kind == "firm":
            return (FIRM,)
        assert self.fund_id is not None
        if self.kind == "fund":
            return (FIRM, self)
        return (FIRM, Scope.fund(self.fund_id), self)

    def covering_keys(self) -> list[str]:
        return [scope.key for scope in self.covering()]


FIRM: Final = Scope("firm")
