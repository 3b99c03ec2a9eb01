"""The watchdogs service's migration set; entry point ``watchdogs`` of ``mts1b_operations.migrations``."""

from mts1b_operations.core.db import MigrationSet, locate_migrations

__all__ = ["MIGRATIONS"]

MIGRATIONS = MigrationSet("watchdogs", locate_migrations(__file__))
