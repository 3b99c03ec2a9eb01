"""The ten watchdog runners and :class:`WatchdogRuntime`, which runs them in a process.

One module per watchdog: its inputs, the window it keeps, the maths it calls and what it
evaluates (see each module's docstring; docs/operations/watchdogs.md summarises them).
"""

from ._base import Runner, RunnerEnv, Subscription, utc_now
from ._runtime import NAMES_VARIABLE, RUNNER_TYPES, WatchdogRuntime, names_from_env

__all__ = [
    "NAMES_VARIABLE",
    "RUNNER_TYPES",
    "Runner",
    "RunnerEnv",
    "Subscription",
    "WatchdogRuntime",
    "names_from_env",
    "utc_now",
]
