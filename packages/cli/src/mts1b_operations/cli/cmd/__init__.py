"""`mts cmd ...`: the operator's emergency commands — halt, cancel-all, flatten-paper, resume, restart-all,
and the halt drill.

Each shows what it will do, asks for a typed word (HALT, CANCEL, FLATTEN, RESUME, RESTART; or
``--confirm WORD`` without a terminal), does it, and reports what happened per service, per
fund, with counts. A wrong or empty word sends nothing. See docs/operations/operator-commands.md.
"""

from __future__ import annotations

import click

from .drill import drill
from .halt import halt
from .oms import cancel_all, flatten_paper
from .restart import restart_all
from .resume import resume

__all__ = ["CONFIRMATION_WORDS", "cmd"]

CONFIRMATION_WORDS = {
    "halt": "HALT",
    "cancel-all": "CANCEL",
    "flatten-paper": "FLATTEN",
    "resume": "RESUME",
    "restart-all": "RESTART",
    "drill": "DRILL",
}


@click.group(name="cmd")
def cmd() -> None:
    """Emergency commands: halt the firm, cancel or flatten, resume, restart the services, drill.

    Each shows its impact first, then asks you to type a word (HALT, CANCEL, FLATTEN, RESUME,
    RESTART); scripts pass --confirm WORD. A wrong or empty word aborts and sends nothing.
    Every command takes --json. They call the halt service (MTS_HALT_URL) with your token
    (MTS_TOKEN or ~/.config/mts/credentials); restart-all talks to NATS (MTS_NATS_URL).

    \b
    Exit codes: 0 done; 1 refused or failed (wrong confirmation, an expected OMS did not ack,
    a service did not come back); 2 bad arguments or configuration (no terminal and no
    --confirm); 3 a service or NATS could not be reached.

    \b
    Examples:
      mts cmd halt --confirm HALT --reason "drill"
      mts cmd resume --confirm RESUME --cosigner-token "$BOB_TOKEN"
      mts cmd restart-all --confirm RESTART
      mts cmd drill                       # dry run: halts nothing
    """


for _command in (halt, cancel_all, flatten_paper, resume, restart_all, drill):
    cmd.add_command(_command)
