from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from ._errors import MigrationError

__all__ = [
    "ENTRY_POINT_GROUP",
    "MigrationSet",
    "discover_migrations",
    "downgrade",
    "locate_migrations",
    "upgrade",
    "upgrade_all",
]

ENTRY_POINT_GROUP = "mts1b_operations.migrations"
CORE = "core"

# Postgres identifiers stop at 63 bytes and "alembic_version_" takes 16 of them.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,46}$")

# alembic keeps the running environment in module globals (alembic.context, alembic.op), so two
# commands in one process must not overlap; across processes the advisory lock in the env serializes.
_COMMAND_LOCK = threading.Lock()


@dataclass(frozen=True)
class MigrationSet:
    """One alembic environment: a service's (or core's) tables, with a version table of its own."""

    name: str
    location: Path

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"name must be lowercase letters, digits and '-', starting with a letter, "
                f"at most 47 characters (got {self.name!r})"
            )
        object.__setattr__(self, "location", Path(self.location))

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name.replace('-', '_')}"

    def config(self, dsn: str | None = None) -> Config:
        """An alembic Config for this set; no alembic.ini is involved."""
        if not (self.location / "env.py").is_file():
            raise MigrationError(
                f"migrations for {self.name!r} not found: {self.location / 'env.py'} does not exist"
            )
        cfg = Config(attributes={"dsn": dsn, "version_table": self.version_table})
        cfg.set_main_option("script_location", str(self.location).replace("%", "%%"))
        cfg.set_main_option("path_separator", "os")
        return cfg

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())


def locate_migrations(module_file: str | os.PathLike[str]) -> Path:
    """Where the migrations of the package holding ``module_file`` are.

    An installed wheel carries them beside the module as ``_migrations`` (hatch force-include);
    in the source tree they are ``services/<name>/migrations``, three levels above the package.
    """
    package_dir = Path(module_file).resolve().parent
    candidates = [package_dir / "_migrations"]
    if len(package_dir.parents) > 2:
        candidates.append(package_dir.parents[2] / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise MigrationError(f"no alembic environment (env.py) for {package_dir.name!r}; looked in {tried}")


def discover_migrations() -> dict[str, MigrationSet]:
    """Every installed migration set (entry-point group ``mts1b_operations.migrations``), core first."""
    found: dict[str, MigrationSet] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            mset = ep.load()
        except Exception as exc:
            raise MigrationError(
                f"migration entry point {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        if not isinstance(mset, MigrationSet):
            raise MigrationError(
                f"migration entry point {ep.name!r} ({ep.value}) is a {type(mset).__name__}, "
                "not a MigrationSet"
            )
        if mset.name != ep.name:
            raise MigrationError(
                f"migration entry point {ep.name!r} ({ep.value}) names its set {mset.name!r}; they must match"
            )
        if ep.name in found and found[ep.name] != mset:
            raise MigrationError(f"two installed distributions declare the migration set {ep.name!r}")
        found[ep.name] = mset
    if CORE not in found:
        raise MigrationError(
            f"the core migration set is not installed (entry point {CORE!r} in {ENTRY_POINT_GROUP!r})"
        )
    return {CORE: found[CORE], **{name: found[name] for name in sorted(found) if name != CORE}}


def _run(action: str, mset: MigrationSet, revision: str, dsn: str) -> None:
    cfg = mset.config(dsn)
    with _COMMAND_LOCK:
        try:
            if action == "upgrade":
                command.upgrade(cfg, revision)
            else:
                command.downgrade(cfg, revision)
        except CommandError as exc:
            raise MigrationError(f"{action} of {mset.name!r} to {revision!r} failed: {exc}") from exc


def upgrade(dsn: str, mset: MigrationSet, revision: str = "head") -> None:
    """Apply ``mset``'s migrations up to ``revision``; a no-op when already there.

    Blocking: from async code call it through ``asyncio.to_thread``.
    """
    _run("upgrade", mset, revision, dsn)


def downgrade(dsn: str, mset: MigrationSet, revision: str) -> None:
    """Revert ``mset``'s migrations down to ``revision`` (``"base"`` removes them all)."""
    _run("downgrade", mset, revision, dsn)


def upgrade_all(dsn: str, names: Sequence[str] | None = None) -> list[str]:
    """Upgrade every installed set (or core plus ``names``) to head, core first; returns the names applied."""
    sets = discover_migrations()
    if names is not None:
        if isinstance(names, str):
            raise TypeError(f"names must be a sequence of set names, not the string {names!r}")
        unknown = sorted(set(names) - set(sets))
        if unknown:
            raise ValueError(f"names: unknown migration set(s) {unknown}; installed: {list(sets)}")
    chosen = [name for name in sets if names is None or name == CORE or name in names]
    for name in chosen:
        upgrade(dsn, sets[name])
    return chosen
