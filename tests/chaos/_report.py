"""The run's figures: operations completed, faults and their recovery, invariants; text and JSON."""

from __future__ import annotations

import math
import os
import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._faults import FaultRecord
from ._invariants import Invariant, invariant_table

__all__ = ["ChaosReport", "percentile"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


@dataclass
class ChaosReport:
    seed: int
    command: str
    fault_window_s: float
    wall_s: float = 0.0
    operations: dict[str, Any] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    invariants: list[Invariant] = field(default_factory=list)
    settle_problems: dict[str, str] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        recovered = all(f.error is None and f.recovered_at is not None for f in self.faults)
        return bool(self.invariants) and all(i.held for i in self.invariants) and recovered

    def recoveries(self, kind: str | None = None) -> list[float]:
        return [
            f.recovery for f in self.faults if f.recovery is not None and (kind is None or f.kind == kind)
        ]

    def by_kind(self) -> dict[str, int]:
        return dict(Counter(f.kind for f in self.faults))

    def as_json(self) -> dict[str, Any]:
        all_times = self.recoveries()
        return {
            "seed": self.seed,
            "command": self.command,
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "fault_window_s": round(self.fault_window_s, 1),
            "wall_s": round(self.wall_s, 1),
            "operations": self.operations,
            "faults": {
                "count": len(self.faults),
                "by_kind": self.by_kind(),
                "unrecovered": [f.number for f in self.faults if f.recovered_at is None],
                "recovery_p50_s": percentile(all_times, 50),
                "recovery_p99_s": percentile(all_times, 99),
                "recovery_by_kind": {
                    kind: {
                        "count": len(times := self.recoveries(kind)),
                        "p50_s": percentile(times, 50),
                        "p99_s": percentile(times, 99),
                        "max_s": max(times, default=None),
                    }
                    for kind in self.by_kind()
                },
                "records": [f.as_json() for f in self.faults],
            },
            "invariants": [i.as_json() for i in self.invariants],
            "settle_problems": self.settle_problems,
            "held": self.held,
        }

    def render(self) -> str:
        ops = self.operations
        times = self.recoveries()
        lines = [
            f"chaos run: seed {self.seed}, faults for {self.fault_window_s:.0f}s, wall {self.wall_s:.0f}s",
            "operations: " + ", ".join(f"{k} {v}" for k, v in ops.items() if not isinstance(v, dict)),
            f"faults: {len(self.faults)} ("
            + ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind().items()))
            + f"); recovery p50 {_seconds(percentile(times, 50))}, p99 {_seconds(percentile(times, 99))}",
        ]
        for kind in sorted(self.by_kind()):
            kind_times = self.recoveries(kind)
            lines.append(
                f"  {kind:<17} n={len(kind_times)}  p50 {_seconds(percentile(kind_times, 50))}  "
                f"p99 {_seconds(percentile(kind_times, 99))}  max {_seconds(max(kind_times, default=None))}"
            )
        failed = [f for f in self.faults if f.error is not None]
        lines += [f"  fault {f.number} ({f.kind} {f.target}) failed: {f.error}" for f in failed]
        lines += [f"settle: {name}: {why}" for name, why in self.settle_problems.items()]
        lines += ["", invariant_table(self.invariants) if self.invariants else "(no invariants checked)"]
        lines.append(f"\nALL INVARIANTS HELD: {'yes' if self.held else 'NO'}")
        return "\n".join(lines)
