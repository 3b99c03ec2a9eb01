"""Postgres for every service: the asyncpg pool and per-service alembic migrations.

Each service (and core, for the outbox) owns an alembic environment with its own version table
``alembic_version_<name>``; :func:`discover_migrations` finds them through entry points and
:func:`upgrade_all` applies them, core first. A service checks at start-up with
:func:`check_schema_current`, which fails with one line telling the operator what to run.
"""

from ._alembic_env import async_url, run_migrations
from ._errors import DatabaseUnavailableError, MigrationError, SchemaBehindError
from ._migrations import (
    ENTRY_POINT_GROUP,
    MigrationSet,
    discover_migrations,
    downgrade,
    locate_migrations,
    upgrade,
    upgrade_all,
)
from ._pool import TRANSIENT_ERRORS, create_pool, redact_dsn
from ._status import check_schema_current, schema_status

__all__ = [
    "ENTRY_POINT_GROUP",
    "TRANSIENT_ERRORS",
    "DatabaseUnavailableError",
    "MigrationError",
    "MigrationSet",
    "SchemaBehindError",
    "async_url",
    "check_schema_current",
    "create_pool",
    "discover_migrations",
    "downgrade",
    "locate_migrations",
    "redact_dsn",
    "run_migrations",
    "schema_status",
    "upgrade",
    "upgrade_all",
]
