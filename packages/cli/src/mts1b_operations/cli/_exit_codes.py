"""Exit statuses of every `mts` command, defined once."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the operation failed or was refused
    USAGE = 2  # bad arguments or configuration (click uses 2 for usage errors too)
    UNREACHABLE = 3  # a dependency (Postgres, NATS, a service) could not be reached
