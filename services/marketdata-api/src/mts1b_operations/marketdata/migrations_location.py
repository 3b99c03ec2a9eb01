"""The marketdata-api service's migration set (entry point ``marketdata-api``)."""

from mts1b_operations.core.db import MigrationSet, locate_migrations

__all__ = ["MIGRATIONS"]

MIGRATIONS = MigrationSet("marketdata-api", locate_migrations(__file__))
