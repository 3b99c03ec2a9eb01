"""The simulated market under `mts dev up`: the market replay and the paper OMS as supervised children."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["OMS_CHILD", "REPLAY_CHILD", "SimChild", "sim_children"]

REPLAY_CHILD: Final = "market-replay"
OMS_CHILD: Final = "paper-oms"


@dataclass(frozen=True)
class SimChild:
    name: str
    """Also the name of its log file (logs/NAME.log) and of its row in the supervisor."""
    argv: list[str]
    description: str


def sim_children(
    *,
    scenario: str,
    seed: int,
    replay_file: Path | None = None,
    speed: float = 1.0,
    python: str | None = None,
) -> list[SimChild]:
    """The replay (the scenario at ``speed``, or the trades of ``replay_file``) and the paper OMS.

    Both stop by themselves when their parent (the supervisor) goes away, and a file replay
    stays up once the file is played so the supervisor does not play it again.
    """
    python = python or sys.executable
    if replay_file is None:
        replay_args = ["--scenario", scenario, "--seed", str(seed)]
        what = f"scenario {scenario}, seed {seed}"
        if speed != 1.0:
            replay_args += ["--speed", repr(speed)]
            what += f", {speed:g}x speed"
    else:
        replay_args = ["--file", str(replay_file), "--keep-running"]
        what = f"the trades of {replay_file}"
    return [
        SimChild(
            REPLAY_CHILD,
            [python, "-m", "mts1b_operations.devstack.replay", *replay_args, "--exit-with-parent"],
            f"market replay ({what})",
        ),
        SimChild(
            OMS_CHILD,
            [python, "-m", "mts1b_operations.devstack.oms", "--seed", str(seed), "--exit-with-parent"],
            "paper OMS (the paper funds of funds.yaml, responder paper-oms)",
        ),
    ]
