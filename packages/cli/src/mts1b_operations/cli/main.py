"""The `mts` command: built-in groups plus sub-command groups contributed by installed packages.

Other packages add a group by declaring an entry point in ``mts1b_operations.cli``
(the devstack registers ``dev`` there). Plugins are imported only when used or listed.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points, version

import click

from ._exit_codes import ExitCode
from .cmd import cmd
from .db import db
from .operators import operators
from .ops_group import ops_group
from .serve import serve

__all__ = ["PLUGIN_GROUP", "cli", "main"]

PLUGIN_GROUP = "mts1b_operations.cli"
_BUILTIN: dict[str, click.Command] = {
    "cmd": cmd,
    "db": db,
    "mts1b-operations": ops_group,
    "operators": operators,
    "serve": serve,
}


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in _BUILTIN}


def _broken(name: str, ep: EntryPoint, exc: BaseException) -> click.Command:
    why = f"{type(exc).__name__}: {exc}"

    @click.command(name=name, help=f"(unavailable: {ep.value} failed to load — {why})")
    def unavailable() -> None:
        click.echo(f"error: the '{name}' commands failed to load from {ep.value}: {why}", err=True)
        raise SystemExit(int(ExitCode.USAGE))

    return unavailable


class _MtsGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if (command := super().get_command(ctx, cmd_name)) is not None:
            return command
        ep = _plugins().get(cmd_name)
        if ep is None:
            return None
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            return _broken(cmd_name, ep, exc)
        if not isinstance(loaded, click.Command):
            return _broken(cmd_name, ep, TypeError(f"{ep.value} is not a click command"))
        return loaded


@click.group(cls=_MtsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("mts1b-operations-cli"), "--version", prog_name="mts")
def cli() -> None:
    """Operate mts1b-operations: run services, migrate databases, run the local dev stack.

    \b
    Examples:
      mts dev up                 start Postgres, NATS and every service locally
      mts db upgrade             apply every migration set (core first)
      mts serve halt             run one service in the foreground
    """


for _command in _BUILTIN.values():
    cli.add_command(_command)


def main() -> None:
    """Console-script entry: runs the command and exits with its status."""
    cli.main(prog_name="mts")
