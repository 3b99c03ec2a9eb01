"""Core's migration set (the ``outbox`` table); entry point ``core`` of ``mts1b_operations.migrations``."""

from mts1b_operations.core.db import MigrationSet, locate_migrations

__all__ = ["MIGRATIONS"]

MIGRATIONS = MigrationSet("core", locate_migrations(__file__))
