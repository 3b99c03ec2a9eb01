"""`mts cmd restart-all`: restart the five operations services and wait until each is back."""

from __future__ import annotations

import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click
import msgspec

from .._exit_codes import ExitCode
from .._output import emit_json, fail, json_option, make_table, stderr_console, stdout_console
from ._confirm import check_confirmation, confirm_option, type_to_confirm

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rich.console import Console

    from mts1b_operations.client import ClientConfig
    from mts1b_operations.core.bus import Bus
    from mts1b_operations.core.schemas import ServiceHeartbeat

    from ._restart import RestartReport

__all__ = ["restart_all"]

T = TypeVar("T")
WORD: Final = "RESTART"
DEFAULT_TIMEOUT: Final = 60.0


def _requested_by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _config() -> ClientConfig:
    from mts1b_operations.client import ClientConfig, ConfigurationError

    try:
        return ClientConfig.from_env()
    except ConfigurationError as exc:
        fail(str(exc), ExitCode.USAGE)


def _with_bus(config: ClientConfig, connect_timeout: float, work: Callable[[Bus], Awaitable[T]]) -> T:
    from mts1b_operations.core.bus import BusConnectError, connect_bus

    async def main() -> T:
        bus = await connect_bus(config.nats_url, name="mts-cli:restart-all", connect_deadline=connect_timeout)
        try:
            return await work(bus)
        finally:
            await bus.close()

    try:
        return asyncio.run(main())
    except BusConnectError as exc:
        fail(str(exc), ExitCode.UNREACHABLE)


def _age(beat: ServiceHeartbeat | None) -> str:
    if beat is None:
        return "no heartbeat in the last hour"
    seconds = (datetime.now(UTC) - beat.sent_at).total_seconds()
    return f"{beat.instance_id} (pid {beat.pid}, {seconds:.0f} s ago)"


def _print_before(console: Console, before: dict[str, ServiceHeartbeat | None]) -> None:
    console.print("[bold]Restart every operations service[/bold]; each drains, exits and is restarted")
    rows = [[name, _age(beat)] for name, beat in before.items()]
    console.print(make_table("instances now (last heartbeat)", ["service", "instance"], rows))


def _report_json(report: RestartReport) -> dict[str, Any]:
    return {
        "command_id": report.command.command_id,
        "requested_by": report.command.requested_by,
        "elapsed": report.elapsed,
        "ignored_replies": report.ignored_replies,
        "services": [
            {
                "service": s.service,
                "url": s.url,
                "before_instance": None if s.before is None else s.before.instance_id,
                "acks": [msgspec.to_builtins(ack) for ack in s.acks],
                "after_instance": None if s.after is None else s.after.instance_id,
                "healthz_instance": s.healthz_instance,
                "healthz_error": s.healthz_error,
                "back": s.back,
            }
            for s in report.services
        ],
        "not_back": report.not_back,
    }


def _print_report(report: RestartReport) -> None:
    rows = []
    for s in report.services:
        if s.back:
            result = "back"
        elif s.after is not None:
            result = f"NOT BACK: healthz {s.healthz_error or f'answers instance {s.healthz_instance}'}"
        else:
            result = "NOT BACK: no new instance heartbeat"
        rows.append(
            [
                s.service,
                "-" if s.before is None else s.before.instance_id,
                ", ".join("ok" if a.accepted else f"refused: {a.detail}" for a in s.acks) or "none",
                "-" if s.after is None else s.after.instance_id,
                result,
            ]
        )
    out = stdout_console()
    title = f"restart {report.command.command_id} ({report.elapsed:.1f} s)"
    out.print(make_table(title, ["service", "before", "ack", "after", "result"], rows))


@click.command(name="restart-all")
@confirm_option(WORD)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1.0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for every service to come back.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to keep trying to reach NATS (MTS_NATS_URL) before exiting with status 3.",
)
@json_option
def restart_all(confirm_word: str | None, timeout: float, connect_timeout: float, as_json: bool) -> None:
    """Restart the 5 services (halt, audit, watchdogs, compliance, marketdata-api); wait for each.

    Records each service's instance (its last heartbeat), asks you to type RESTART, sends the
    restart command over NATS (mts.v1.operations.cmd.restart; every instance acks, drains and
    exits; `mts dev up`, compose or Kubernetes starts it again) and waits until each service
    heartbeats with a new instance id and its /v1/healthz answers with it. Prints a before/after
    table. Needs MTS_NATS_URL, and MTS_*_URL for the health checks.

    Exits 0 when all are back; 1 when the confirmation was wrong (nothing sent) or a service
    did not come back in time (named); 2 for bad arguments or no terminal without --confirm;
    3 when NATS cannot be reached.

    \b
    Example:
      mts cmd restart-all --confirm RESTART --timeout 90
    """
    from mts1b_operations.client import SERVICES

    from ._restart import latest_heartbeats, restart_services

    check_confirmation(WORD, confirm_word)
    config = _config()
    urls: dict[str, str] = {name: config.url_for(name) for name in SERVICES}
    if confirm_word is None or not as_json:
        before = _with_bus(config, connect_timeout, lambda bus: latest_heartbeats(bus, list(urls)))
        _print_before(stderr_console() if as_json else stdout_console(), before)
    type_to_confirm(WORD, confirm_word)
    report = _with_bus(
        config,
        connect_timeout,
        lambda bus: restart_services(bus, urls, requested_by=_requested_by(), timeout=timeout),
    )
    if as_json:
        emit_json(_report_json(report))
    else:
        _print_report(report)
    if report.not_back:
        click.echo(f"error: not back within {timeout:g} s: {', '.join(report.not_back)}", err=True)
        sys.exit(int(ExitCode.FAILURE))
