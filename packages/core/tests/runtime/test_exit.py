"""exit_process: the exit code and everything buffered in logging and stdio survive the hard exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_exit_process_keeps_the_code_and_flushes_logs_and_stdio(tmp_path: Path) -> None:
    log_file = tmp_path / "service.log"
    script = textwrap.dedent(
        f"""
        import atexit, logging, sys
        from mts1b_operations.core.runtime import exit_process

        handler = logging.FileHandler({str(log_file)!r})
        # A buffering handler that only writes when flushed or closed.
        from logging.handlers import MemoryHandler
        logging.basicConfig(level=logging.INFO, handlers=[MemoryHandler(1000, target=handler)])
        logging.getLogger("svc").info("stopped cleanly")
        sys.stdout.write("last words")  # block-buffered: stdout is a pipe
        atexit.register(lambda: print("finalization ran"))
        exit_process(3)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "last words"  # flushed, and atexit handlers did not run
    assert "stopped cleanly" in log_file.read_text()


def test_an_error_escaping_the_service_exits_1_through_the_same_door(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import atexit
        from mts1b_operations.core.runtime import _exit

        def broken(spec):
            raise KeyboardInterrupt  # e.g. Ctrl-C before the signal handlers are in place

        class Spec:
            name = "mts1b-test"

        _exit.run_service = broken
        atexit.register(lambda: print("finalization ran"))
        _exit.serve_and_exit(Spec())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "mts1b-test: stopped by an unexpected error" in done.stderr
    assert "KeyboardInterrupt" in done.stderr
    assert "finalization ran" not in done.stdout
