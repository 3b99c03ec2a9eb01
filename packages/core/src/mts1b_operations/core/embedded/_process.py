from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

__all__ = ["ManagedProcess"]


class ManagedProcess:
    """A child server process we can stop gracefully, kill -9, pause and resume."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def spawn(self, argv: list[str], *, user: str | None = None, env: dict[str, str] | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A new session keeps the terminal's Ctrl-C away from the server: its owner stops it.
            self._proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=user,
                env=env,
            )

    def exited_early(self) -> str | None:
        """If the process has died, the tail of its log to explain why."""
        if self._proc is None or self._proc.poll() is None:
            return None
        tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        return f"{self.name} exited with status {self._proc.returncode}:\n{tail}"

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL, the way a crash or the OOM killer would end it."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def pause(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)
