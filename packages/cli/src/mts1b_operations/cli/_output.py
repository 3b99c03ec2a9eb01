"""Shared output helpers: rich tables for people, ``--json`` for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table

from ._exit_codes import ExitCode

__all__ = [
    "emit_json",
    "fail",
    "json_option",
    "make_table",
    "print_table",
    "stderr_console",
    "stdout_console",
]

F = TypeVar("F", bound=Callable[..., Any])


def stdout_console() -> Console:
    # Built per call, so a redirected sys.stdout (CliRunner, pipes) is the one written to.
    # Not a terminal (a pipe, a log file): wide enough that URLs in tables are not cut.
    return Console(file=sys.stdout, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def stderr_console() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def json_option(func: F) -> F:
    """The ``--json`` flag, the same on every command that prints data."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


def make_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    return table


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    stdout_console().print(make_table(title, columns, rows))


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def fail(message: str, code: ExitCode = ExitCode.FAILURE) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(int(code))
