"""Shared core of mts1b-operations: settings, schemas, subjects, bus, db, outbox, runtime."""

__all__: list[str] = []
