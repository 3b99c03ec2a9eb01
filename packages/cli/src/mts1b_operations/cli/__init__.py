"""The `mts` operator command (entry point ``mts1b_operations.cli.main:main``).

Sub-command packages (the devstack's ``mts dev``) reuse its output helpers and exit codes.
"""

from ._exit_codes import ExitCode
from ._output import emit_json, fail, json_option, make_table, print_table, stderr_console, stdout_console
from .serve import SERVICE_GROUP, service_entry_points

__all__ = [
    "SERVICE_GROUP",
    "ExitCode",
    "emit_json",
    "fail",
    "json_option",
    "make_table",
    "print_table",
    "service_entry_points",
    "stderr_console",
    "stdout_console",
]
