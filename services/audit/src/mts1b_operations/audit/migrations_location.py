"""The audit service's migration set; entry point ``audit`` of ``mts1b_operations.migrations``."""

from mts1b_operations.core.db import MigrationSet, locate_migrations

__all__ = ["MIGRATIONS"]

MIGRATIONS = MigrationSet("audit", locate_migrations(__file__))
