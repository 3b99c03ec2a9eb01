from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres

__all__ = ["SharedNats", "SharedPostgres"]


class SharedPostgres:
    """The suite's Postgres: MTS_TEST_DATABASE_URL when set, else an embedded server."""

    def __init__(self, url: str, server: EmbeddedPostgres | None) -> None:
        self.url = url
        self.server = server


class SharedNats:
    """The suite's NATS: MTS_TEST_NATS_URL when set, else an embedded nats-server -js."""

    def __init__(self, url: str, server: EmbeddedNats | None) -> None:
        self.url = url
        self.server = server


def _shared_postgres(base: Path) -> Iterator[SharedPostgres]:
    url = os.environ.get("MTS_TEST_DATABASE_URL", "").strip()
    if url:
        yield SharedPostgres(url, None)
        return
    server = EmbeddedPostgres(base / "pgdata", durable=False)
    server.start()
    try:
        yield SharedPostgres(server.dsn(), server)
    finally:
        server.stop()


def _shared_nats(base: Path) -> Iterator[SharedNats]:
    url = os.environ.get("MTS_TEST_NATS_URL", "").strip()
    if url:
        yield SharedNats(url, None)
        return
    server = EmbeddedNats(base / "nats-store")
    server.start()
    try:
        yield SharedNats(server.url, server)
    finally:
        server.stop()


def _private_dir(prefix: str) -> Iterator[Path]:
    # Not under pytest's basetemp: another pytest session on the machine prunes old numbered
    # basetemps, and would delete a live server's data directory in the middle of this run.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[SharedPostgres]:
    for base in _private_dir("mts-test-postgres-"):
        yield from _shared_postgres(base)


@pytest.fixture(scope="session")
def shared_nats() -> Iterator[SharedNats]:
    for base in _private_dir("mts-test-nats-"):
        yield from _shared_nats(base)


@pytest.fixture
def restartable_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A Postgres of this test's own, to stop, kill -9 and restart inside the test."""
    server = EmbeddedPostgres(tmp_path / "pgdata")
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.kill()


@pytest.fixture
def restartable_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own, to stop and restart inside the test."""
    server = EmbeddedNats(tmp_path / "nats-store")
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.kill()
