"""A service started as a real process (``python -m mts1b_operations.<pkg>``), for tests and the devstack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from mts1b_operations.core.embedded import free_port, wait_until

__all__ = ["HttpAnswer", "ServiceProcess", "ServiceProcessError", "start_service"]


class ServiceProcessError(RuntimeError):
    """The service process exited or never became ready; the message carries its stderr tail."""


class HttpAnswer:
    """Status and body of one HTTP answer; ``json()`` decodes the body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HttpAnswer({self.status}, {self.body[:200]!r})"


class ServiceProcess:
    """One service process on a port of its own, with its stdout/stderr kept in ``log_dir``.

    ``env`` is laid over the current environment (MTS_DATABASE_URL, MTS_NATS_URL, ...; a ``None``
    value removes the variable); MTS_HTTP_HOST/PORT are set to ``127.0.0.1`` and ``port`` (a free
    one by default).
    """

    def __init__(
        self,
        module: str,
        *,
        env: Mapping[str, str | None],
        log_dir: Path,
        port: int | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.module = module
        self.port = port or free_port()
        self.argv = argv or [sys.executable, "-m", module]
        merged: dict[str, str | None] = {**os.environ, **env}
        self.env = {key: value for key, value in merged.items() if value is not None}
        self.env.update(MTS_HTTP_HOST="127.0.0.1", MTS_HTTP_PORT=str(self.port))
        self.log_dir = log_dir
        name = module.rsplit(".", 1)[-1]
        self.stdout_path = log_dir / f"{name}-{self.port}.out"
        self.stderr_path = log_dir / f"{name}-{self.port}.err"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ServiceProcess:
        if self.running:
            raise ServiceProcessError(f"{self.module} is already running (pid {self.pid})")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=self.env
            )
        return self

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def _exited(self) -> ServiceProcessError:
        return ServiceProcessError(
            f"{self.module} exited with status {self.returncode}; stderr:\n{self.stderr()[-3000:]}"
        )

    def get(self, path: str, *, timeout: float = 5.0) -> HttpAnswer:
        """GET ``path``; any HTTP status is an answer (no exception for 4xx/5xx)."""
        request = urllib.request.Request(self.base_url + path, method="GET")  # noqa: S310 - our own http URL
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return HttpAnswer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, dict(exc.headers), exc.read())

    def try_get(self, path: str, *, timeout: float = 2.0) -> HttpAnswer | None:
        """Like :meth:`get`, but ``None`` while nothing answers on the port."""
        try:
            return self.get(path, timeout=timeout)
        except (urllib.error.URLError, OSError):
            return None

    def wait_for(self, path: str, status: int, *, timeout: float = 30.0) -> HttpAnswer:
        """Poll ``path`` until it answers ``status``; fail at once if the process exits."""
        last: list[HttpAnswer | None] = [None]

        def answered() -> bool:
            if not self.running:
                raise self._exited()
            last[0] = self.try_get(path)
            return last[0] is not None and last[0].status == status

        try:
            wait_until(answered, timeout=timeout, what=f"{self.module} {path} -> {status}", poll=0.1)
        except TimeoutError as exc:
            raise ServiceProcessError(
                f"{exc}; last answer {last[0]!r}; stderr:\n{self.stderr()[-3000:]}"
            ) from None
        answer = last[0]
        assert answer is not None
        return answer

    def wait_ready(self, *, timeout: float = 30.0) -> HttpAnswer:
        return self.wait_for("/v1/readyz", 200, timeout=timeout)

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit; raise ServiceProcessError (after killing it) on timeout."""
        if self._proc is None:
            raise ServiceProcessError(f"{self.module} was never started")
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise ServiceProcessError(
                f"{self.module} did not exit within {timeout:g}s; stderr:\n{self.stderr()[-3000:]}"
            ) from None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit status, or None if never started."""
        if self._proc is None:
            return None
        self.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_service(
    module: str,
    *,
    database_url: str,
    nats_url: str,
    log_dir: Path,
    env: Mapping[str, str | None] | None = None,
    port: int | None = None,
    ready_timeout: float = 30.0,
) -> ServiceProcess:
    """Start ``python -m <module>`` against the given Postgres and NATS and wait until /v1/readyz is 200."""
    process = ServiceProcess(
        module,
        env={"MTS_DATABASE_URL": database_url, "MTS_NATS_URL": nats_url, **(env or {})},
        log_dir=log_dir,
        port=port,
    )
    process.start()
    try:
        process.wait_ready(timeout=ready_timeout)
    except BaseException:
        process.stop(timeout=5)
        raise
    return process
