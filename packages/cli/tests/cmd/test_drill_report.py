"""The drill's arithmetic and files without a stack: stage ordering, summary, report.json/md/png."""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mts1b_operations.cli.cmd._drill_report import (
    plotting_available,
    summarise,
    write_json,
    write_markdown,
    write_plot,
)
from mts1b_operations.cli.cmd._drill_run import FundDrill, _stages


def _fund(**changes: Any) -> FundDrill:
    fields: dict[str, Any] = {
        "fund_id": "paper-a",
        "strategies": ["s1"],
        "triggered_at": datetime(2026, 1, 2, tzinfo=UTC),
    }
    return FundDrill(**(fields | changes))


def test_stages_include_the_ones_before_and_keep_what_was_observed() -> None:
    late_cancel = _fund(orders_cancelled_acked=2)
    _stages(late_cancel, trigger=10.0, closed=10.020, cancelled=10.090, answered=10.050)
    nothing_open = _fund(orders_cancelled_acked=0)
    _stages(nothing_open, trigger=10.0, closed=10.030, cancelled=None, answered=10.040)

    # The last cancellation arrived after the answer: acks waits for it; the raw answer is kept.
    assert late_cancel.stages_ms == {"gate": 20.0, "cancel": 90.0, "acks": 90.0}
    assert late_cancel.observed_ms["halt_service_answer"] == 50.0
    assert nothing_open.stages_ms == {"gate": 30.0, "cancel": 30.0, "acks": 40.0}


def test_a_gate_that_never_closed_leaves_every_stage_unmeasured() -> None:
    never = _fund(orders_cancelled_acked=1)
    _stages(never, trigger=0.0, closed=None, cancelled=0.5, answered=0.2)
    missing_cancels = _fund(orders_cancelled_acked=3)
    _stages(missing_cancels, trigger=0.0, closed=0.01, cancelled=None, answered=0.2)

    assert never.stages_ms == {"gate": None, "cancel": None, "acks": None}
    assert missing_cancels.stages_ms == {"gate": 10.0, "cancel": None, "acks": None}


def _report(funds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "drill_id": "drill-x",
        "started_at": "2026-01-02T00:00:00+00:00",
        "finished_at": "2026-01-02T00:00:01+00:00",
        "requested_by": "operator:alice",
        "cosigned_by": "operator:bob",
        "reason": "drill",
        "stack": {"halt_url": "http://h", "audit_url": "http://a", "nats_url": "nats://n"},
        "funds": funds,
        "skipped": [{"fund_id": "live", "why": "live fund: a drill never halts a live fund"}],
        "summary": summarise(funds),
        "problems": [],
    }


def test_the_report_files_and_the_hash_of_the_json(tmp_path: Path) -> None:
    a, b = _fund(), _fund(fund_id="paper-b")
    _stages(a, trigger=0.0, closed=0.010, cancelled=0.030, answered=0.020)
    _stages(b, trigger=0.0, closed=0.020, cancelled=None, answered=0.060)
    b.problems.append("no ack from paper-oms within the timeout")
    report = _report([a.as_json(), b.as_json()])

    path, sha256 = write_json(tmp_path, report)
    write_plot(tmp_path, report)
    markdown = write_markdown(
        tmp_path, report, sha256, {"sequence": 7, "recorded_by": "operator:alice", "entry_hash": "e" * 64}
    )

    assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert json.loads(path.read_text()) == report
    assert report["summary"]["gate"] == {"min": 10.0, "median": 15.0, "max": 20.0}
    assert report["summary"]["acks"] == {"min": 30.0, "median": 45.0, "max": 60.0}
    text = markdown.read_text()
    assert sha256 in text
    assert "entry 7" in text
    assert "| paper-a | 0 | 0 / 0 | 10.0 | 30.0 | 30.0 |" in text
    assert "- paper-b: no ack from paper-oms within the timeout" in text
    assert "- live: live fund: a drill never halts a live fund" in text
    png = (tmp_path / "latency.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def test_a_report_that_did_not_reach_the_chain_says_so(tmp_path: Path) -> None:
    report = _report([])
    _, sha256 = write_json(tmp_path, report)

    text = write_markdown(tmp_path, report, sha256, None).read_text()

    assert "**not recorded**" in text
    assert report["summary"]["cancel"] == {"min": None, "median": None, "max": None}


def test_without_the_plotting_extra_execute_refuses_before_halting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from mts1b_operations.cli.main import cli

    assert plotting_available(), "make test installs the drill extra"
    # Stands in for an install without the extra (a service image): the check runs before any halt.
    drill_module = importlib.import_module("mts1b_operations.cli.cmd.drill")
    monkeypatch.setattr(drill_module, "plotting_available", lambda: False)
    monkeypatch.setenv("MTS_HALT_URL", "http://127.0.0.1:9")  # nothing listens: reaching it would fail
    result = CliRunner().invoke(
        cli, ["cmd", "drill", "--execute", "--confirm", "DRILL", "--cosigner-token", "t"]
    )
    assert result.exit_code == 2, result.output
    assert "drill extra" in result.output
    assert "nothing was halted" in result.output
