from __future__ import annotations

__all__ = ["DatabaseUnavailableError", "MigrationError", "SchemaBehindError"]


class DatabaseUnavailableError(ConnectionError):
    """Postgres could not be reached before the connect deadline."""


class MigrationError(RuntimeError):
    """A migration set is missing, misnamed or inconsistent (a packaging or authoring error)."""


class SchemaBehindError(RuntimeError):
    """The database schema is not at the revision this code needs: never migrated, behind or ahead.

    ``str(error)`` is one line saying what to do; ``name``, ``current`` and ``head`` say why.
    """

    def __init__(self, name: str, current: str | None, head: str, message: str) -> None:
        self.name = name
        self.current = current
        self.head = head
        super().__init__(message)
