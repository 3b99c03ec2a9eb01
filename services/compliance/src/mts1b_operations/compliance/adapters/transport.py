"""How a report file reaches the regulator: the :class:`Transport` hook and its local default.

A firm hooks its own transport (SFTP to the CAT plan processor, an ARM's API) by passing it to
``service_spec(transport=...)``. The default, :class:`LocalDirectoryTransport`, writes each file
under ``<MTS_COMPLIANCE_OUTPUT_DIR>/<regime>/<name>`` atomically: the bytes go to a temporary
file in the same directory, are fsynced, then renamed over the name, and the directory is
fsynced, so a reader (or a crash) never sees half a file. Submitting the same file again
rewrites the same bytes: submission is idempotent by name, and a transport of the firm's must be
too, since a file whose try failed is handed over again.

A file with a metadata file (CAT's ``<name>.meta.json``) is handed over as two ``submit`` calls,
the data file first, then the metadata file (a ``ReportFile`` of its own, same regime), and only
when the first returned; the metadata file lands beside its data file. Once the data file
returned, later tries hand over only the metadata file (CAT refuses a data file name twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..reg_reporting._model import ReportFile

__all__ = ["LocalDirectoryTransport", "SubmissionReceipt", "Transport", "TransportError"]


class TransportError(Exception):
    """A submission did not go through; the message says why (it is stored as the file's last_error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionReceipt:
    """Where the file went and when; ``reference`` is the receiver's id for it, when it gives one."""

    destination: str
    submitted_at: datetime
    reference: str | None = None


@runtime_checkable
class Transport(Protocol):
    """Delivers one file; raises on failure (the service retries, then records the file as failed)."""

    async def submit(self, file: ReportFile) -> SubmissionReceipt: ...


class LocalDirectoryTransport:
    """Writes files atomically under ``root/<regime>/`` (see the module doc)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalDirectoryTransport({str(self.root)!r})"

    def path_of(self, file: ReportFile) -> Path:
        for part, value in (("regime", file.regime), ("name", file.name)):
            if not value or "/" in value or "\\" in value or value in (".", ".."):
                raise TransportError(f"{part}: {value!r} cannot be a file or directory name")
        return self.root / file.regime / file.name

    async def submit(self, file: ReportFile) -> SubmissionReceipt:
        target = self.path_of(file)
        try:
            await asyncio.to_thread(_write_atomically, target, file.content)
        except OSError as exc:
            raise TransportError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return SubmissionReceipt(destination=str(target), submitted_at=datetime.now(UTC))

    async def check_writable(self) -> None:
        """Raise unless a file can be created in the root (the readiness probe)."""
        await asyncio.to_thread(_probe_writable, self.root)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("xb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_directory(target.parent)


def _probe_writable(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".readyz.{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"")
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
