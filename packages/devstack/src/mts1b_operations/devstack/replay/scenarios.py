"""Market scenarios: a cycle of phases, each with its own volatility, drift, order flow and news rate.

A scenario is data only (no numpy), so the CLI can list and validate names cheaply. Time is
scenario time: seconds of market time since the replay started; the phases repeat once the
cycle is over, so a long-running dev stack sees the event again and again.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

__all__ = [
    "CALM",
    "DEFAULT_SCENARIO",
    "FLASH_CRASH",
    "SCENARIOS",
    "SCENARIO_NAMES",
    "VOL_REGIME",
    "Phase",
    "Scenario",
    "UnknownScenarioError",
    "get_scenario",
]


@dataclass(frozen=True, kw_only=True)
class Phase:
    """A stretch of market behaviour, the same for every symbol of the universe."""

    name: str
    duration: float
    """Seconds of market time."""
    vol: float
    """Annualised volatility of the diffusion (0.2 is 20%)."""
    move: float = 0.0
    """Total log-price drift over the phase (-0.08 is a fall of about 8%)."""
    buy_share: float = 0.5
    """Probability that a trade's aggressor is a buyer; far from 0.5 is one-sided flow."""
    trade_rate: float = 4.0
    """Trades per second per symbol."""
    size_scale: float = 1.0
    impact_bps: float = 0.1
    """Log-price impact of each trade in the aggressor's direction, in basis points."""
    spread_bps: float = 2.0
    news_rate: float = 1 / 1200
    """News items per second per symbol."""
    sentiment: float = 0.0
    """Mean sentiment of the news in [-1, 1]."""

    def __post_init__(self) -> None:
        checks = {
            "duration": self.duration > 0,
            "vol": self.vol > 0,
            "buy_share": 0.0 <= self.buy_share <= 1.0,
            "trade_rate": self.trade_rate > 0,
            "size_scale": self.size_scale > 0,
            "impact_bps": self.impact_bps >= 0,
            "spread_bps": self.spread_bps > 0,
            "news_rate": self.news_rate >= 0,
            "sentiment": -1.0 <= self.sentiment <= 1.0,
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f"{field}: {getattr(self, field)!r} is out of range (phase {self.name!r})")

    @property
    def drift(self) -> float:
        """Log-price drift per second."""
        return self.move / self.duration


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError(f"phases: scenario {self.name!r} needs at least one phase")

    @property
    def cycle(self) -> float:
        """Seconds until the phases start over."""
        return sum(phase.duration for phase in self.phases)

    @property
    def boundaries(self) -> tuple[float, ...]:
        """End of each phase within the cycle."""
        return tuple(accumulate(phase.duration for phase in self.phases))

    def phase_index(self, t: float) -> int:
        """Index of the phase in force at scenario time ``t`` (seconds)."""
        if t < 0:
            raise ValueError(f"t: scenario time {t!r} is negative")
        return bisect.bisect_right(self.boundaries, t % self.cycle)

    def phase_at(self, t: float) -> Phase:
        return self.phases[self.phase_index(t)]

    def window(self, name: str, cycle: int = 0) -> tuple[float, float]:
        """[start, end) in scenario time of the phase called ``name`` in the given cycle."""
        start = cycle * self.cycle
        for phase in self.phases:
            if phase.name == name:
                return start, start + phase.duration
            start += phase.duration
        raise KeyError(f"scenario {self.name!r} has no phase {name!r}")


_CALM_PHASE: Final = Phase(name="calm", duration=600.0, vol=0.2)

CALM: Final = Scenario(
    name="calm",
    description="a quiet session: 20% vol, balanced order flow, a news item every 20 minutes per symbol",
    phases=(_CALM_PHASE,),
)

FLASH_CRASH: Final = Scenario(
    name="flash-crash",
    description="every 2 minutes: a minute of calm, then 15 s of one-sided selling with prices "
    "collapsing by 10% or more and a burst of negative news, then a partial recovery",
    phases=(
        Phase(name="calm", duration=60.0, vol=0.2),
        Phase(
            name="crash",
            duration=15.0,
            vol=1.5,
            move=-0.07,
            buy_share=0.06,
            trade_rate=30.0,
            size_scale=3.0,
            impact_bps=1.0,
            spread_bps=25.0,
            news_rate=0.8,
            sentiment=-0.8,
        ),
        Phase(
            name="recovery",
            duration=45.0,
            vol=0.6,
            move=0.06,
            buy_share=0.6,
            trade_rate=10.0,
            size_scale=1.5,
            spread_bps=8.0,
            news_rate=0.02,
            sentiment=0.2,
        ),
    ),
)

VOL_REGIME: Final = Scenario(
    name="vol-regime",
    description="volatility switches between a quiet 12% and a turbulent 70% regime every 90 s",
    phases=(
        Phase(name="low-vol", duration=90.0, vol=0.12, trade_rate=4.0, spread_bps=1.5),
        Phase(name="high-vol", duration=90.0, vol=0.7, trade_rate=8.0, spread_bps=6.0, news_rate=1 / 300),
    ),
)

SCENARIOS: Final = {scenario.name: scenario for scenario in (CALM, FLASH_CRASH, VOL_REGIME)}
SCENARIO_NAMES: Final = tuple(SCENARIOS)
DEFAULT_SCENARIO: Final = CALM.name


class UnknownScenarioError(KeyError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"scenario: unknown scenario {self.name!r}; choose one of {', '.join(SCENARIO_NAMES)}"


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenarioError(name) from None
