"""Up/down state of an upstream dependency from consecutive probe results.

Method: the threshold rule of Kubernetes probes ("Configure Liveness, Readiness and Startup
Probes": ``failureThreshold`` / ``successThreshold``). A dependency that is up goes down after
``failure_threshold`` consecutive failed probes (3); one that is down comes back up after
``success_threshold`` consecutive good probes (1). Any result of the other kind resets the
count, so flapping below the threshold never changes the state: with the defaults, the sequence
[ok, F, F, ok, F, F, F] goes down only at its last probe. A probe that times out is a failure
(the caller decides; this module only counts). The tracker starts ``up`` (a dependency is assumed
healthy until proven otherwise, so a restart does not announce every upstream as recovered).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from mts1b_operations.watchdogs.maths._inputs import check_positive_int

__all__ = ["HealthState", "HealthTracker", "transitions"]

HealthState = Literal["up", "down"]


class HealthTracker:
    """Counts consecutive probe results and reports each change of state."""

    __slots__ = ("_failure_threshold", "_failures", "_state", "_success_threshold", "_successes")

    def __init__(
        self, failure_threshold: int = 3, success_threshold: int = 1, *, initial: HealthState = "up"
    ) -> None:
        self._failure_threshold = check_positive_int(failure_threshold, "failure_threshold")
        self._success_threshold = check_positive_int(success_threshold, "success_threshold")
        if initial not in ("up", "down"):
            raise ValueError(f"initial must be 'up' or 'down', got {initial!r}")
        self._state: HealthState = initial
        self._failures = 0
        self._successes = 0

    @property
    def state(self) -> HealthState:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def consecutive_successes(self) -> int:
        return self._successes

    @property
    def failure_threshold(self) -> int:
        return self._failure_threshold

    @property
    def success_threshold(self) -> int:
        return self._success_threshold

    def observe(self, ok: bool) -> HealthState | None:
        """Record one probe result; return the new state if it changed, else None."""
        if not isinstance(ok, bool):
            raise ValueError(f"ok must be a bool, got {ok!r}")
        if ok:
            self._successes += 1
            self._failures = 0
            if self._state == "down" and self._successes >= self._success_threshold:
                self._state = "up"
                return "up"
        else:
            self._failures += 1
            self._successes = 0
            if self._state == "up" and self._failures >= self._failure_threshold:
                self._state = "down"
                return "down"
        return None

    def __repr__(self) -> str:
        return (
            f"HealthTracker(state={self._state!r}, failures={self._failures}/{self._failure_threshold}, "
            f"successes={self._successes}/{self._success_threshold})"
        )


def transitions(
    results: Iterable[bool],
    failure_threshold: int = 3,
    success_threshold: int = 1,
    *,
    initial: HealthState = "up",
) -> list[tuple[int, HealthState]]:
    """(index, new state) for every change over a sequence of probe results."""
    tracker = HealthTracker(failure_threshold, success_threshold, initial=initial)
    changes: list[tuple[int, HealthState]] = []
    for index, ok in enumerate(results):
        change = tracker.observe(ok)
        if change is not None:
            changes.append((index, change))
    return changes
