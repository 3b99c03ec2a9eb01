"""`mts mts1b-operations ...`: the operator commands of the operations plane, one subgroup each.

Subgroups are imported only when used, so ``mts --help`` stays fast. To add one, add a line to
``SUBGROUPS`` (``name -> "module:attribute"`` of a click group). Commands call the services
through the SDK (``mts1b_operations.client``) with :func:`call_service`, which turns the SDK's
errors into one line on stderr and the documented exit code.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import click

from ._exit_codes import ExitCode
from ._output import fail

__all__ = ["SUBGROUPS", "call_service", "ops_group", "service_failure"]

T = TypeVar("T")

SUBGROUPS: dict[str, str] = {
    "audit": "mts1b_operations.cli.audit:audit",
    "compliance": "mts1b_operations.cli.compliance:compliance",
    "watchdog": "mts1b_operations.cli.watchdog:watchdog",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBGROUPS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if (command := super().get_command(ctx, cmd_name)) is not None:
            return command
        target = SUBGROUPS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        loaded = getattr(importlib.import_module(module), attribute)
        if not isinstance(loaded, click.Command):
            raise TypeError(f"{target} is not a click command")
        return loaded


@click.group(name="mts1b-operations", cls=_LazyGroup)
def ops_group() -> None:
    """Operate the operations plane: the audit trail, the watchdogs, regulatory reporting, ...

    Commands talk to the services over HTTP with the bearer token in MTS_TOKEN (or the
    credentials file ~/.config/mts/credentials); MTS_AUDIT_URL and friends say where the
    services are (defaults: the local dev stack).

    \b
    Exit codes: 0 done; 1 failed or refused (the audit chain is broken, a proof does not
    hold, the token was refused); 2 bad arguments or configuration; 3 a service or NATS
    could not be reached.

    \b
    Examples:
      mts mts1b-operations audit show --subject-id halt-42
      mts mts1b-operations audit verify
    """


def service_failure(exc: BaseException) -> NoReturn:
    """Exit with one line and the exit code for an SDK error (re-raises anything else).

    Configuration or a 400: 2. Refused (401, 403, 404, 409) or unreadable: 1. No answer, or
    502/503/504: 3.
    """
    from mts1b_operations.client import (
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        MtsError,
        ServiceUnavailableError,
        TransportError,
    )

    if isinstance(exc, ConfigurationError):
        fail(str(exc), ExitCode.USAGE)
    if isinstance(exc, AuthenticationError):
        fail(f"{exc} — set MTS_TOKEN, or put 'token = ...' in ~/.config/mts/credentials", ExitCode.FAILURE)
    if isinstance(exc, BadRequestError):
        fail(str(exc), ExitCode.USAGE)
    if isinstance(exc, (TransportError, ServiceUnavailableError)):
        fail(str(exc), ExitCode.UNREACHABLE)
    if isinstance(exc, MtsError):  # refused (403, 404, 409 ...) or an answer the SDK cannot read
        fail(str(exc), ExitCode.FAILURE)
    raise exc


def call_service(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` (SDK calls) to completion; an SDK error exits as :func:`service_failure` says."""
    from mts1b_operations.client import MtsError

    try:
        return asyncio.run(work)
    except MtsError as exc:
        service_failure(exc)
