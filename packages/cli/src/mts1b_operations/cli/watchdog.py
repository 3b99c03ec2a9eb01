"""`mts mts1b-operations watchdog status | config | pause | resume`: see and steer the ten watchdogs.

Through the SDK's ``WatchdogsClient`` over HTTP (MTS_WATCHDOGS_URL; MTS_TOKEN of role viewer to
read, operator to change). The service validates every change: a watchdog that does not exist
or a parameter out of range is refused with a message naming it (exit status 2).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import msgspec

from ._exit_codes import ExitCode
from ._output import emit_json, fail, json_option, print_table
from .ops_group import service_failure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from mts1b_operations.client import WatchdogsClient, WatchdogView

__all__ = ["watchdog"]

# The parameter shown beside each watchdog in the status table.
_HEADLINE = ("threshold", "limit", "alpha", "vol_multiple", "failure_threshold", "interval", "h")


def _client() -> WatchdogsClient:
    from mts1b_operations.client import ClientConfig, WatchdogsClient

    return WatchdogsClient.from_env(ClientConfig.from_env())


def _run(work: Callable[[WatchdogsClient], Awaitable[Any]]) -> Any:
    """Run ``work`` with a client; an unknown watchdog or a refused value exits 2 naming it."""
    from mts1b_operations.client import MtsError, NotFoundError

    async def go() -> Any:
        async with _client() as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except NotFoundError as exc:
        fail(str(exc), ExitCode.USAGE)
    except MtsError as exc:
        service_failure(exc)


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _headline(view: WatchdogView) -> str:
    for key in _HEADLINE:
        if key in view.params:
            return f"{key}={view.params[key]}"
    return ""


def _status(view: WatchdogView) -> str:
    if view.status == "paused":
        return f"paused until {_stamp(view.paused_until)}"
    return "running" if view.active else "running (elsewhere)"


def _firing(view: WatchdogView) -> str:
    subjects = [f.subject_id + ("" if f.notified else " (held)") for f in view.firing]
    return ", ".join(subjects) if subjects else "-"


def _emit(data: object, as_json: bool) -> bool:
    if as_json:
        emit_json(msgspec.to_builtins(data))
    return as_json


def _show_one(view: WatchdogView) -> None:
    print_table(
        f"{view.name} ({view.kind}) — {_status(view)}",
        ("field", "value"),
        [
            ("alerts on", view.alert_subject),
            ("inputs", view.inputs),
            ("firing", _firing(view)),
            ("last value", f"{_number(view.last_value)} ({view.last_subject or '-'})"),
            ("last evaluated", _stamp(view.last_evaluated_at)),
            ("last alert", _stamp(view.last_alert_at)),
            ("paused by", f"{view.paused_by or ''} {view.pause_reason or ''}".strip()),
            ("changed by", f"{view.updated_by or '-'} {_stamp(view.updated_at)}".strip()),
        ],
    )
    print_table(
        "parameters (* = set by an operator)",
        ("parameter", "value"),
        [
            (("* " if key in view.overrides else "  ") + key, json.dumps(value))
            for key, value in sorted(view.params.items())
        ],
    )


@click.group()
def watchdog() -> None:
    """The ten watchdogs: their state, parameters and pauses.

    \b
    Examples:
      mts mts1b-operations watchdog status
      mts mts1b-operations watchdog status --watchdog vpin
      mts mts1b-operations watchdog config --watchdog vpin --threshold 0.4
      mts mts1b-operations watchdog config --watchdog vpin --param window=30 --param for=2
      mts mts1b-operations watchdog pause --watchdog news_spike --for 30m
      mts mts1b-operations watchdog resume --watchdog news_spike
    """


@watchdog.command()
@click.option("--watchdog", "name", metavar="NAME", help="Show one watchdog in full (parameters included).")
@json_option
def status(name: str | None, as_json: bool) -> None:
    """Every watchdog (or one): running or paused, what fires, the latest evaluation."""
    if name is not None:
        view: WatchdogView = _run(lambda client: client.show(name))
        if not _emit(view, as_json):
            _show_one(view)
        return
    views: list[WatchdogView] = _run(lambda client: client.list_watchdogs())
    if _emit(views, as_json):
        return
    print_table(
        "watchdogs",
        ("watchdog", "kind", "status", "firing", "last value", "last evaluated", "key parameter"),
        [
            (
                v.name,
                v.kind,
                _status(v),
                _firing(v),
                _number(v.last_value),
                _stamp(v.last_evaluated_at),
                _headline(v),
            )
            for v in views
        ],
    )


def _value(raw: str) -> Any:
    """A --param value: JSON when it parses (numbers, true/false/null, lists, objects), else the text."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _param(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--param")
        out[key.strip()] = _value(raw.strip())
    return out


@watchdog.command()
@click.option("--watchdog", "name", required=True, metavar="NAME", help="The watchdog to change, e.g. vpin.")
@click.option("--threshold", type=float, help="The level at which it fires (same as --param threshold=X).")
@click.option("--clear", type=float, help="The level below which a firing alert resolves.")
@click.option(
    "--param",
    "params",
    multiple=True,
    callback=_param,
    metavar="KEY=VALUE",
    help="Any parameter (repeatable); the value is read as JSON when it parses: window=30, for=3, "
    'upstreams=\'{"oms": "http://oms:8080/healthz"}\'.',
)
@click.option(
    "--reset", multiple=True, metavar="KEY", help="Put a parameter back to its default (repeatable)."
)
@json_option
def config(
    name: str,
    threshold: float | None,
    clear: float | None,
    params: dict[str, Any],
    reset: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change some parameters of a watchdog, live; the others keep their values."""
    changes: dict[str, Any] = dict(params)
    if threshold is not None:
        changes["threshold"] = threshold
    if clear is not None:
        changes["clear"] = clear
    for key in reset:
        changes[key] = None
    if not changes:
        raise click.UsageError(
            "nothing to change: give --threshold, --clear, --param KEY=VALUE or --reset KEY"
        )
    view: WatchdogView = _run(lambda client: client.configure(name, changes))
    if _emit(view, as_json):
        return
    shown = ", ".join(f"{key}={json.dumps(view.params.get(key))}" for key in sorted(changes))
    click.echo(f"{view.name}: {shown} (changed by {view.updated_by}); applied now.")


@watchdog.command()
@click.option("--watchdog", "name", required=True, metavar="NAME", help="The watchdog to silence.")
@click.option(
    "--for", "duration", metavar="DURATION", help="How long: 90s, 30m, 2h, 1d (default 1h, at most 7d)."
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%z"]),
    help="When the pause ends, with a time zone (2025-01-06T18:00:00+00:00).",
)
@click.option("--reason", help="Why; shown in the status and kept in the audit trail.")
@json_option
def pause(name: str, duration: str | None, until: datetime | None, reason: str | None, as_json: bool) -> None:
    """Silence a watchdog for a while: it keeps evaluating but sends no new alert."""
    if duration is not None and until is not None:
        raise click.UsageError("give --for or --until, not both")
    view: WatchdogView = _run(
        lambda client: client.pause(name, until=until, duration=duration, reason=reason)
    )
    if not _emit(view, as_json):
        click.echo(f"{view.name}: paused until {_stamp(view.paused_until)} by {view.paused_by}.")


@watchdog.command()
@click.option("--watchdog", "name", required=True, metavar="NAME", help="The watchdog to resume.")
@json_option
def resume(name: str, as_json: bool) -> None:
    """End a watchdog's pause now; alerts it held back that still fire are sent."""
    view: WatchdogView = _run(lambda client: client.resume(name))
    if not _emit(view, as_json):
        held = [f.subject_id for f in view.firing if not f.notified]
        extra = f"; sending what the pause held back: {', '.join(held)}" if held else ""
        click.echo(f"{view.name}: running{extra}.")
