"""`python -m tests.chaos.soak --duration 30m --report reliability.json`: the long chaos run.

Prints every fault as it happens, then the figures and the invariant table; writes the JSON
report. Exits 0 when every invariant held and every fault recovered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shlex
import sys
import tempfile
from pathlib import Path

from ._harness import ChaosOptions, run_chaos

__all__ = ["main", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``1.5h`` → seconds."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"--duration: {text!r} is not a positive duration such as 90s, 30m or 1h"
        )
    return float(match.group(1)) * _UNIT[match.group(2)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.soak", description=__doc__)
    parser.add_argument(
        "--duration",
        type=parse_duration,
        default=parse_duration("30m"),
        help="how long faults keep coming (90s, 30m, 1h); default 30m",
    )
    parser.add_argument("--seed", type=int, default=1, help="the fault schedule's seed (default 1)")
    parser.add_argument("--report", type=Path, default=Path("reliability.json"), help="JSON report path")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the stack keeps its state and logs (default: a new temp dir)",
    )
    parser.add_argument(
        "--replay-speed", type=float, default=20.0, help="market seconds per second (default 20)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="mts-chaos-"))
    command = "python -m tests.chaos.soak " + shlex.join(sys.argv[1:] if argv is None else argv)
    options = ChaosOptions(
        work_dir=work_dir,
        duration=args.duration,
        seed=args.seed,
        replay_speed=args.replay_speed,
        command=command,
        log=lambda line: print(line, flush=True),
    )
    report = asyncio.run(run_chaos(options))
    print(report.render(), flush=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
    print(f"report written to {args.report}; stack state and logs in {work_dir}", flush=True)
    return 0 if report.held else 1


if __name__ == "__main__":
    sys.exit(main())
