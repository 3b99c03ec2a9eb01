"""The halt service's client for the `mts cmd` commands (MTS_HALT_URL, MTS_TOKEN)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from mts1b_operations.client import HaltClient

__all__ = ["DEFAULT_TIMEOUT", "halt_client", "timeout_option"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT = 30.0


def timeout_option(func: F) -> F:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        help="Seconds to wait for the halt service's answer, acks included (the service stops "
        "gathering acks after its own ack timeout, 5 s by default).",
    )(func)


def halt_client(read_timeout: float | None = None) -> HaltClient:
    """A client of MTS_HALT_URL; call inside :func:`call_service` (a bad setting is an SDK error)."""
    import msgspec

    from mts1b_operations.client import ClientConfig, HaltClient

    config = ClientConfig.from_env()
    if read_timeout is not None:
        config = msgspec.structs.replace(config, read_timeout=read_timeout)
    return HaltClient.from_env(config)
