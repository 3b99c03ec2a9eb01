"""Typed confirmations and the other questions a command may ask on a terminal.

Every `mts cmd` command that changes something names a word (HALT, CANCEL, FLATTEN, RESUME,
RESTART). On a terminal the operator types it; a script passes ``--confirm WORD``. Anything
else — a wrong word, an empty answer, end of input, Ctrl-C — aborts with exit 1 before
anything is sent. Without a terminal and without ``--confirm`` the command cannot ask, so it
stops at once with exit 2 naming ``--confirm``.

Questions go to stderr, so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .._exit_codes import ExitCode
from .._output import fail

__all__ = [
    "ask_reason",
    "ask_secret",
    "check_confirmation",
    "confirm_option",
    "interactive",
    "require_reason",
    "type_to_confirm",
]

F = TypeVar("F", bound=Callable[..., Any])

ABORTED = "aborted; nothing was sent"


def interactive() -> bool:
    """Whether the operator can be asked: stdin is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stdin
        return False


def confirm_option(word: str) -> Callable[[F], F]:
    """``--confirm WORD``: confirm without a terminal (scripts, CI); must be exactly ``word``."""
    return click.option(
        "--confirm",
        "confirm_word",
        metavar="WORD",
        default=None,
        help=f"Confirm without typing: must be exactly {word}. Required without a terminal.",
    )


def check_confirmation(word: str, given: str | None) -> None:
    """Before anything is fetched or sent: a wrong ``--confirm`` aborts (1); none and no terminal is 2."""
    if given is not None:
        if given.strip() != word:
            fail(f"--confirm {given!r} is not {word}: {ABORTED}", ExitCode.FAILURE)
        return
    if not interactive():
        fail(f"no terminal to type {word} on: pass --confirm {word} to confirm", ExitCode.USAGE)


def type_to_confirm(word: str, given: str | None) -> None:
    """Ask for ``word`` on the terminal unless ``--confirm`` already gave it (checked before)."""
    if given is not None:
        return
    try:
        typed = click.prompt(
            f"Type {word} to confirm (anything else aborts)", default="", show_default=False, err=True
        )
    except click.Abort:
        click.echo("", err=True)
        fail(ABORTED, ExitCode.FAILURE)
    if str(typed).strip() != word:
        shown = "nothing" if not str(typed).strip() else repr(str(typed).strip())
        fail(f"typed {shown}, not {word}: {ABORTED}", ExitCode.FAILURE)


def require_reason(reason: str | None, option: str = "--reason") -> str | None:
    """The reason given, or None when it will be asked on the terminal; exit 2 when neither can be."""
    if reason is not None and reason.strip():
        return reason.strip()
    if reason is not None or not interactive():
        fail(f"{option} is required: why (it is recorded in the audit trail)", ExitCode.USAGE)
    return None


def ask_reason(reason: str | None) -> str:
    """``reason`` if given, else asked on the terminal (an empty answer asks again)."""
    if reason is not None:
        return reason
    try:
        answer = click.prompt("Reason (recorded in the audit trail)", err=True)
    except click.Abort:
        click.echo("", err=True)
        fail(ABORTED, ExitCode.FAILURE)
    text = str(answer).strip()
    if not text:
        fail(f"an empty reason: {ABORTED}", ExitCode.FAILURE)
    return text


def ask_secret(prompt: str) -> str:
    """A secret typed on the terminal without echo; empty or Ctrl-C aborts (1)."""
    try:
        answer = click.prompt(prompt, hide_input=True, default="", show_default=False, err=True)
    except click.Abort:
        click.echo("", err=True)
        fail(ABORTED, ExitCode.FAILURE)
    text = str(answer).strip()
    if not text:
        fail(f"nothing typed: {ABORTED}", ExitCode.FAILURE)
    return text
