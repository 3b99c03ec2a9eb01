"""`mts db upgrade | status`: apply and inspect the migration sets (core first, then each service's)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import click

from ._exit_codes import ExitCode
from ._output import emit_json, fail, json_option, print_table

if TYPE_CHECKING:
    from mts1b_operations.core.db import MigrationSet

__all__ = ["SetStatus", "db"]

# Failures to reach Postgres at all (exit 3), as opposed to being refused by it (exit 2).
_UNREACHABLE: tuple[type[BaseException], ...] = (OSError, TimeoutError)


@dataclass(frozen=True)
class SetStatus:
    name: str
    version_table: str
    current: str | None
    head: str
    state: str  # current | behind | not migrated | ahead

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


_database_url_option = click.option(
    "--database-url",
    envvar="MTS_DATABASE_URL",
    show_envvar=True,
    metavar="DSN",
    help="Postgres URL, e.g. postgresql://postgres@127.0.0.1:15432/mts.",
)


def _require_dsn(database_url: str | None) -> str:
    if not database_url or not database_url.strip():
        fail("no database: pass --database-url or set MTS_DATABASE_URL", ExitCode.USAGE)
    dsn = database_url.strip()
    if urlsplit(dsn).scheme not in ("postgresql", "postgres"):
        from mts1b_operations.core.db import redact_dsn

        fail(f"--database-url must start with postgresql:// (got {redact_dsn(dsn)!r})", ExitCode.USAGE)
    return dsn


def _discover() -> dict[str, MigrationSet]:
    from mts1b_operations.core.db import MigrationError, discover_migrations

    try:
        return discover_migrations()
    except MigrationError as exc:
        fail(str(exc), ExitCode.FAILURE)


def _database_failure(exc: BaseException, dsn: str) -> NoReturn:
    import asyncpg

    from mts1b_operations.core.db import DatabaseUnavailableError, redact_dsn

    where = redact_dsn(dsn)
    if isinstance(exc, (DatabaseUnavailableError, asyncpg.PostgresConnectionError, *_UNREACHABLE)):
        fail(f"Postgres at {where} is unreachable: {exc}", ExitCode.UNREACHABLE)
    if isinstance(exc, (asyncpg.InvalidCatalogNameError, asyncpg.InvalidAuthorizationSpecificationError)):
        fail(f"Postgres at {where} refused the connection: {exc}", ExitCode.USAGE)
    fail(f"{type(exc).__name__}: {exc}", ExitCode.FAILURE)


def _state(current: str | None, head: str, mset: MigrationSet) -> str:
    if current == head:
        return "current"
    if current is None:
        return "not migrated"
    known = {rev.revision for rev in mset.script().walk_revisions()}
    return "behind" if current in known else "ahead"


async def _statuses(dsn: str, sets: Sequence[MigrationSet], connect_timeout: float) -> list[SetStatus]:
    from mts1b_operations.core.db import create_pool, schema_status

    pool = await create_pool(dsn, min_size=1, max_size=1, connect_deadline=connect_timeout)
    try:
        found = []
        for mset in sets:
            current, head = await schema_status(pool, mset)
            found.append(SetStatus(mset.name, mset.version_table, current, head, _state(current, head, mset)))
        return found
    finally:
        await pool.close()


def _read_statuses(dsn: str, sets: Sequence[MigrationSet], connect_timeout: float) -> list[SetStatus]:
    try:
        return asyncio.run(_statuses(dsn, sets, connect_timeout))
    except Exception as exc:
        _database_failure(exc, dsn)


_connect_timeout_option = click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to keep trying to reach Postgres before exiting with status 3.",
)


@click.group()
def db() -> None:
    """Database schemas: every service owns an alembic migration set; core's comes first.

    \b
    Examples:
      mts db upgrade                   apply core and every service's migrations
      mts db upgrade halt              apply core's, then halt's
      mts db status --json
    """


@db.command()
@click.argument("service", required=False, metavar="[SERVICE]")
@_database_url_option
@_connect_timeout_option
@json_option
def upgrade(service: str | None, database_url: str | None, connect_timeout: float, as_json: bool) -> None:
    """Apply core's migrations, then SERVICE's (default: every installed set), up to head.

    Prints each set's revision before and after. Exits 2 for an unknown SERVICE or a
    missing/malformed database URL, 3 when Postgres cannot be reached.

    \b
    Example:
      MTS_DATABASE_URL=postgresql://postgres@127.0.0.1:15432/mts mts db upgrade
    """
    dsn = _require_dsn(database_url)
    sets = _discover()
    if service is not None and service not in sets:
        raise click.BadParameter(
            f"unknown migration set {service!r}; installed: {', '.join(sets)}", param_hint="SERVICE"
        )
    names = None if service is None else [service]
    chosen = [mset for name, mset in sets.items() if names is None or name in ("core", service)]
    before = {s.name: s for s in _read_statuses(dsn, chosen, connect_timeout)}

    from mts1b_operations.core.db import upgrade_all

    try:
        applied = upgrade_all(dsn, names)
    except Exception as exc:  # alembic, SQLAlchemy and asyncpg each raise their own kinds
        _database_failure(exc, dsn)
    after = _read_statuses(dsn, [sets[name] for name in applied], connect_timeout)
    rows = [
        {
            "name": s.name,
            "version_table": s.version_table,
            "before": before[s.name].current,
            "after": s.current,
            "changed": before[s.name].current != s.current,
        }
        for s in after
    ]
    if as_json:
        emit_json({"applied": rows})
        return
    print_table(
        "migrations",
        ["set", "version table", "before", "after", "result"],
        [
            [
                row["name"],
                row["version_table"],
                row["before"] or "-",
                row["after"],
                "upgraded" if row["changed"] else "already at head",
            ]
            for row in rows
        ],
    )


@db.command()
@_database_url_option
@_connect_timeout_option
@click.option("--check", is_flag=True, help="Exit 1 unless every set is at its head revision.")
@json_option
def status(database_url: str | None, connect_timeout: float, check: bool, as_json: bool) -> None:
    """Show each migration set's current and head revision.

    \b
    Example:
      mts db status --database-url postgresql://postgres@127.0.0.1:15432/mts --json
    """
    dsn = _require_dsn(database_url)
    statuses = _read_statuses(dsn, list(_discover().values()), connect_timeout)
    if as_json:
        emit_json({"sets": [s.as_dict() for s in statuses]})
    else:
        print_table(
            "schema",
            ["set", "version table", "current", "head", "state"],
            [[s.name, s.version_table, s.current or "-", s.head, s.state] for s in statuses],
        )
    if check and any(s.state != "current" for s in statuses):
        raise SystemExit(int(ExitCode.FAILURE))
