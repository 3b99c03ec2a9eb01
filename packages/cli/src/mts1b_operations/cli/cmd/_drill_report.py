"""The drill's report: ``report.json`` (the figures, hashed into the audit chain), ``report.md``
for people, and ``latency.png``, a bar chart of each fund's stages.

The JSON is written first and its SHA-256 taken from the bytes on disk; the markdown names
that hash and, once recorded, the audit entry that holds it (the JSON cannot name its own
entry). matplotlib runs on the Agg backend: no display is needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import statistics
from pathlib import Path
from typing import Any, Final

__all__ = ["REPORT_FILES", "plotting_available", "summarise", "write_json", "write_markdown", "write_plot"]

REPORT_FILES: Final = ("report.json", "report.md", "latency.png")
STAGES: Final = ("gate", "cancel", "acks")
_STAGE_LABELS: Final = {
    "gate": "trigger → gate closed",
    "cancel": "→ every open order cancelled",
    "acks": "→ every OMS ack in hand",
}
_RESUME_LABELS: Final = {
    "halt_service_answer": "resume answered",
    "gate_open": "gate open again",
    "first_accepted_order": "first order accepted",
}


def summarise(funds: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per stage: min, median, max over the funds (ms); None where no fund has a figure."""
    out: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        values = [f["stages_ms"][stage] for f in funds if f["stages_ms"].get(stage) is not None]
        out[stage] = {
            "min": min(values) if values else None,
            "median": round(statistics.median(values), 3) if values else None,
            "max": max(values) if values else None,
        }
    return out


def write_json(out_dir: Path, report: dict[str, Any]) -> tuple[Path, str]:
    """``report.json`` and the SHA-256 of its bytes."""
    path = out_dir / "report.json"
    data = (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def write_markdown(out_dir: Path, report: dict[str, Any], sha256: str, audit: dict[str, Any] | None) -> Path:
    lines = [
        f"# Halt drill {report['drill_id']}",
        "",
        f"- started {report['started_at']}, finished {report['finished_at']}",
        f"- requested by {report['requested_by']}, resumes cosigned by {report['cosigned_by']}",
        f"- reason: {report['reason']}",
        f"- halt service {report['stack']['halt_url']}, NATS {report['stack']['nats_url']}",
        f"- `report.json` SHA-256: `{sha256}`",
    ]
    if audit is not None:
        lines.append(
            f"- in the audit chain: entry {audit['sequence']} (`drill.report` by {audit['recorded_by']}, "
            f"entry hash `{audit['entry_hash']}`)"
        )
    else:
        lines.append("- in the audit chain: **not recorded** (see problems)")
    lines += [
        "",
        "## Stages, ms from the trigger (each includes the ones before it)",
        "",
        "| fund | open orders | cancelled (acked / seen) | gate closed | orders cancelled | acks "
        "| resume → gate open | resume → order accepted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in report["funds"]:
        stages, resume = f["stages_ms"], f["resume_ms"]
        lines.append(
            f"| {f['fund_id']} | {f['open_orders_at_trigger']} "
            f"| {f['orders_cancelled_acked']} / {f['cancels_seen']} "
            f"| {_cell(stages.get('gate'))} | {_cell(stages.get('cancel'))} | {_cell(stages.get('acks'))} "
            f"| {_cell(resume.get('gate_open'))} | {_cell(resume.get('first_accepted_order'))} |"
        )
    lines += ["", "## Summary over the funds (ms)", "", "| stage | min | median | max |", "|---|---|---|---|"]
    for stage, figures in report["summary"].items():
        lines.append(
            f"| {_STAGE_LABELS[stage]} | {_cell(figures['min'])} | {_cell(figures['median'])} "
            f"| {_cell(figures['max'])} |"
        )
    if report["skipped"]:
        lines += ["", "## Not drilled", ""]
        lines += [f"- {s['fund_id']}: {s['why']}" for s in report["skipped"]]
    problems = report["problems"] + [f"{f['fund_id']}: {p}" for f in report["funds"] for p in f["problems"]]
    notes = [f"{f['fund_id']}: {n}" for f in report["funds"] for n in f.get("notes", [])]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in notes]
    lines += ["", "## Problems", ""]
    lines += [f"- {p}" for p in problems] if problems else ["none"]
    lines += ["", "![latency per fund](latency.png)", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def plotting_available() -> bool:
    """Whether matplotlib (the CLI's ``drill`` extra, left out of the service images) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def write_plot(out_dir: Path, report: dict[str, Any]) -> Path:
    """Grouped bars: the three stages, then the resume figures, per fund."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    funds = report["funds"]
    names = [f["fund_id"] for f in funds] or ["(no fund)"]
    figure, (halt_ax, resume_ax) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    width = 0.8 / len(STAGES)
    for i, stage in enumerate(STAGES):
        values = [f["stages_ms"].get(stage) or 0.0 for f in funds] or [0.0]
        positions = [x + (i - 1) * width for x in range(len(names))]
        bars = halt_ax.bar(positions, values, width, label=_STAGE_LABELS[stage])
        halt_ax.bar_label(bars, fmt="%.0f", fontsize=7)
    halt_ax.set_xticks(range(len(names)), names)
    halt_ax.set_ylabel("ms from the trigger")
    halt_ax.set_title("halt: trigger → gate → cancels → acks")
    halt_ax.legend(fontsize=8)
    resume_width = 0.8 / len(_RESUME_LABELS)
    for i, (key, label) in enumerate(_RESUME_LABELS.items()):
        values = [f["resume_ms"].get(key) or 0.0 for f in funds] or [0.0]
        positions = [x + (i - 1) * resume_width for x in range(len(names))]
        bars = resume_ax.bar(positions, values, resume_width, label=label)
        resume_ax.bar_label(bars, fmt="%.0f", fontsize=7)
    resume_ax.set_xticks(range(len(names)), names)
    resume_ax.set_ylabel("ms from the resume request")
    resume_ax.set_title("resume")
    resume_ax.legend(fontsize=8)
    figure.suptitle(f"halt drill {report['drill_id']}")
    path = out_dir / "latency.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
