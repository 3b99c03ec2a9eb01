"""`mts serve SERVICE`: run one service in the foreground — the exact command its container runs."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import click

from ._exit_codes import ExitCode
from ._output import fail

__all__ = ["SERVICE_GROUP", "ServiceName", "serve", "service_entry_points"]

SERVICE_GROUP = "mts1b_operations.services"


def service_entry_points() -> dict[str, EntryPoint]:
    """Installed services by name (the services/ folder names), from their entry points."""
    return {ep.name: ep for ep in sorted(entry_points(group=SERVICE_GROUP), key=lambda ep: ep.name)}


class ServiceName(click.ParamType[str]):
    """A service name; an unknown one is a usage error (exit 2) listing the installed ones."""

    name = "service"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        known = service_entry_points()
        if value in known:
            return str(value)
        valid = ", ".join(known) or "(no service is installed)"
        self.fail(f"unknown service {value!r}; valid services: {valid}", param, ctx)


@click.command()
@click.argument("service", type=ServiceName())
def serve(service: str) -> None:
    """Run SERVICE in the foreground until SIGTERM or SIGINT.

    SERVICE is an installed service: audit, halt, watchdogs, compliance or
    marketdata-api. It reads its configuration from the environment
    (MTS_DATABASE_URL, MTS_NATS_URL, MTS_HTTP_HOST, MTS_HTTP_PORT, MTS_SERVICE_NAME,
    MTS_FUNDS_FILE, MTS_AUDIT_SIGNING_KEY) and exits 2 naming a missing or bad one.

    \b
    Example:
      MTS_DATABASE_URL=postgresql://postgres@127.0.0.1:15432/mts \\
      MTS_NATS_URL=nats://127.0.0.1:14222 MTS_HTTP_PORT=8101 mts serve halt
    """
    ep = service_entry_points()[service]
    try:
        spec = ep.load()()
    except Exception as exc:
        fail(
            f"service {service!r} failed to load from {ep.value}: {type(exc).__name__}: {exc}",
            ExitCode.FAILURE,
        )
    from mts1b_operations.core.runtime import serve_and_exit  # heavy: imported only to serve

    serve_and_exit(spec)
