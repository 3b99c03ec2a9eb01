"""`mts operators add | list | revoke`: who may call operator endpoints, and with which role.

These commands write to Postgres directly (--database-url / MTS_DATABASE_URL) rather than
through a service: that is how the first admin is registered, before anyone holds a token.
They therefore need database access, which is the real privilege boundary here.
"""

from __future__ import annotations

import asyncio
import getpass
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from ._exit_codes import ExitCode
from ._output import emit_json, fail, json_option, print_table, stderr_console, stdout_console
from .db import _connect_timeout_option, _database_failure, _database_url_option, _require_dsn

if TYPE_CHECKING:
    import asyncpg

    from mts1b_operations.core.operators import Operator

__all__ = ["Duration", "OperatorName", "operators"]

T = TypeVar("T")

ROLE_CHOICES = ("viewer", "operator", "admin")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
SHOWN_ONCE_WARNING = (
    "this token is shown once and is not stored (only its hash is); it cannot be shown again. "
    "If it is lost, revoke the operator and register a new name."
)


class Duration(click.ParamType[timedelta]):
    """A positive duration such as ``90d``, ``12h``, ``30m``, ``2w`` or ``45s``."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = _DURATION.fullmatch(str(value).strip().lower())
        if match is None or int(match.group(1)) == 0:
            self.fail(f"must be a positive duration like 90d, 12h, 30m or 2w (got {value!r})", param, ctx)
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class OperatorName(click.ParamType[str]):
    """An operator name: lowercase letters, digits, '-' and '_', starting with a letter (at most 64)."""

    name = "name"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from mts1b_operations.core.operators import OperatorValidationError, check_name

        try:
            return check_name(value)
        except OperatorValidationError as exc:
            self.fail(exc.problem, param, ctx)


def _stamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def _as_dict(operator: Operator, now: datetime) -> dict[str, object]:
    return {
        "name": operator.name,
        "actor": operator.actor,
        "role": operator.role,
        "status": operator.status(now),
        "created_at": _iso(operator.created_at),
        "created_by": operator.created_by,
        "expires_at": _iso(operator.expires_at),
        "revoked_at": _iso(operator.revoked_at),
        "token_prefix": operator.token_prefix,
    }


def _failure(exc: BaseException, dsn: str) -> NoReturn:
    import asyncpg

    if isinstance(exc, asyncpg.UndefinedTableError):
        fail("the operators table does not exist in this database: run `mts db upgrade` first")
    _database_failure(exc, dsn)


def _run(dsn: str, connect_timeout: float, action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run ``action`` with a one-connection pool; operator errors pass through, database ones exit."""
    from mts1b_operations.core.db import create_pool
    from mts1b_operations.core.operators import OperatorError

    async def main() -> T:
        pool = await create_pool(dsn, min_size=1, max_size=1, connect_deadline=connect_timeout)
        try:
            return await action(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except OperatorError:
        raise
    except Exception as exc:
        _failure(exc, dsn)


def _default_creator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@click.group()
def operators() -> None:
    """Operator identities: who may call operator endpoints, with which role.

    Roles, least to most: viewer (read), operator (halt, resume, cosign), admin.
    A token is printed once when the operator is added; only its SHA-256 is stored.
    These commands write to Postgres directly (--database-url or MTS_DATABASE_URL),
    which is how the first admin is registered: they need database access.

    \b
    Examples:
      mts operators add alice --role admin
      mts operators add bob --role viewer --expires-in 90d --json
      mts operators list
      mts operators revoke bob
    """


@operators.command()
@click.argument("name", type=OperatorName())
@click.option("--role", type=click.Choice(ROLE_CHOICES), required=True, help="What the operator may do.")
@click.option(
    "--expires-in",
    type=Duration(),
    default=None,
    metavar="DURATION",
    help="Token lifetime, e.g. 90d, 12h, 2w (default: until revoked).",
)
@click.option(
    "--created-by",
    default=None,
    metavar="WHO",
    help="Recorded as who registered the operator (default: cli:<your user name>).",
)
@_database_url_option
@_connect_timeout_option
@json_option
def add(
    name: str,
    role: str,
    expires_in: timedelta | None,
    created_by: str | None,
    database_url: str | None,
    connect_timeout: float,
    as_json: bool,
) -> None:
    """Register NAME with a role and print its bearer token, once.

    The token is not stored (only its hash), so it cannot be shown again: hand it to the
    operator, who puts `token = <token>` in ~/.config/mts/credentials (chmod 600) or
    exports MTS_TOKEN. Names are never reused, even after a revocation. Exits 1 when NAME
    is taken, 2 for a bad argument, 3 when Postgres cannot be reached.

    \b
    Example:
      MTS_DATABASE_URL=postgresql://postgres@127.0.0.1:15432/mts mts operators add alice --role admin
    """
    from mts1b_operations.core.operators import (
        OperatorExistsError,
        OperatorValidationError,
        add_operator,
        check_role,
    )

    dsn = _require_dsn(database_url)
    expires_at = None if expires_in is None else datetime.now(UTC) + expires_in
    creator = (created_by or "").strip() or _default_creator()
    try:
        operator, token = _run(
            dsn,
            connect_timeout,
            lambda pool: add_operator(
                pool, name, check_role(role), created_by=creator, expires_at=expires_at
            ),
        )
    except OperatorExistsError as exc:
        fail(str(exc).removeprefix("name: "))
    except OperatorValidationError as exc:
        fail(str(exc), ExitCode.USAGE)
    if as_json:
        emit_json({**_as_dict(operator, datetime.now(UTC)), "token": token, "warning": SHOWN_ONCE_WARNING})
        return
    expiry = "never expires" if operator.expires_at is None else f"expires {_stamp(operator.expires_at)}"
    out = stdout_console()
    out.print(f"Registered operator [bold]{operator.name}[/bold] (role {operator.role}, {expiry}).")
    out.print("Token:")
    click.echo(token)  # plain, so a terminal's copy and paste gets exactly the token
    stderr_console().print(f"[bold yellow]warning:[/bold yellow] {SHOWN_ONCE_WARNING}")


@operators.command(name="list")
@_database_url_option
@_connect_timeout_option
@json_option
def list_(database_url: str | None, connect_timeout: float, as_json: bool) -> None:
    """List every operator with its role and status (active, revoked, expired); never a token.

    \b
    Example:
      mts operators list --json
    """
    from mts1b_operations.core.operators import list_operators

    dsn = _require_dsn(database_url)
    found = _run(dsn, connect_timeout, list_operators)
    now = datetime.now(UTC)
    if as_json:
        emit_json({"operators": [_as_dict(op, now) for op in found]})
        return
    if not found:
        click.echo("No operators registered. Add the first admin with: mts operators add NAME --role admin")
        return
    print_table(
        "operators",
        ["name", "role", "status", "created", "expires", "revoked", "created by", "token prefix"],
        [
            [
                op.name,
                op.role,
                op.status(now),
                _stamp(op.created_at),
                _stamp(op.expires_at),
                _stamp(op.revoked_at),
                op.created_by,
                op.token_prefix + "…",
            ]
            for op in found
        ],
    )


@operators.command()
@click.argument("name")
@_database_url_option
@_connect_timeout_option
@json_option
def revoke(name: str, database_url: str | None, connect_timeout: float, as_json: bool) -> None:
    """Revoke NAME's token: every service refuses it from the next request on.

    Revoking an already revoked operator changes nothing and says so. Exits 1 when no
    operator is named NAME.

    \b
    Example:
      mts operators revoke bob
    """
    from mts1b_operations.core.operators import OperatorNotFoundError, get_operator, revoke_operator

    dsn = _require_dsn(database_url)

    async def action(pool: asyncpg.Pool) -> tuple[Operator | None, Operator]:
        return await get_operator(pool, name), await revoke_operator(pool, name)

    try:
        before, after = _run(dsn, connect_timeout, action)
    except OperatorNotFoundError:
        fail(f"no operator named {name!r}; see `mts operators list`")
    already = before is not None and before.revoked_at is not None
    if as_json:
        emit_json({**_as_dict(after, datetime.now(UTC)), "already_revoked": already})
        return
    if already:
        click.echo(f"Operator {name!r} was already revoked at {_stamp(after.revoked_at)}; nothing changed.")
    else:
        click.echo(
            f"Revoked operator {name!r} at {_stamp(after.revoked_at)}; its token is refused from now on."
        )
