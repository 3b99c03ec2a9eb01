"""The short chaos run in `make test`: one fault of each kind on a running dev stack, then every invariant.

Bounded: the faults come one after another with short gaps (seeded, printed), each waited
for by its own recovery condition; the whole run takes about two minutes on two cores.
The invariant table and fault count are printed at the end of the run (core.testing's
SUMMARY_PROPERTY, so CI's log has them even from an xdist worker) and written to
``chaos-report.txt`` / ``.json`` in the test's tmp dir.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mts1b_operations.core.testing import SUMMARY_PROPERTY

from ._faults import FAULT_KINDS
from ._harness import ChaosOptions, run_chaos

pytestmark = pytest.mark.slow

SEED = 20261125


@pytest.mark.timeout(420)
async def test_every_invariant_holds_through_one_fault_of_each_kind(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    options = ChaosOptions(
        work_dir=tmp_path / "chaos",
        duration=0.0,
        seed=SEED,
        min_faults=len(FAULT_KINDS),
        max_faults=len(FAULT_KINDS),
        gap=(2.0, 4.0),
        replay_speed=20.0,
        probe_interval=0.1,
        halt_pace=0.5,
        command="pytest tests/chaos/test_chaos_short.py",
        log=log,
    )
    report = await run_chaos(options)
    table = report.render()
    print(table, flush=True)
    record_property(SUMMARY_PROPERTY, table)  # printed at the end of the run, pass or fail, xdist or not
    (tmp_path / "chaos-report.txt").write_text("\n".join([*lines, table]) + "\n")
    (tmp_path / "chaos-report.json").write_text(json.dumps(report.as_json(), indent=2, default=str))

    assert sorted(report.by_kind()) == sorted(FAULT_KINDS), report.by_kind()
    unrecovered = [(f.number, f.kind, f.target, f.error) for f in report.faults if f.recovered_at is None]
    assert not unrecovered, f"faults without recovery: {unrecovered}\n{table}"
    broken = [(i.name, i.detail) for i in report.invariants if not i.held]
    assert report.invariants, table
    assert not broken, f"invariants broken: {broken}\n{table}"
    assert report.operations["audit appends acknowledged"] > 0, table
    assert report.operations["halts acknowledged"] > 0, table
    assert report.operations["resumes acknowledged (cosigned)"] > 0, table
    assert report.held, table
