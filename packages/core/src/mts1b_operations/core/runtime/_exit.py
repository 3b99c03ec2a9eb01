"""Leave a service process without interpreter finalization, once everything is shut down.

granian serves from Rust threads that can outlive ``Server.serve()``; when one of them touches a
Python object while the interpreter finalizes, PyO3 panics in a function that cannot unwind and
the process aborts (SIGABRT, exit -6) after an otherwise clean stop — measured at about 1 stop in
15 on this machine. A supervisor then sees a crash where there was none. By the time a service
exits, the lifecycle has drained and closed everything it opened (HTTP, consumers, relay, NATS,
Postgres) and tracing is shut down, so what finalization would still do is flush logging and the
standard streams: done here, explicitly, before ``os._exit``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

from ._lifecycle import EXIT_FAILURE, run_service
from ._spec import ServiceSpec

__all__ = ["exit_process", "serve_and_exit"]


def exit_process(code: int) -> NoReturn:
    """Flush logging and stdio, then end the process with ``code`` at once (no finalization)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed stream or a broken pipe: nothing left to save.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def serve_and_exit(spec: ServiceSpec) -> NoReturn:
    """A service's ``main``: :func:`run_service`, then :func:`exit_process` with its exit code.

    Whatever escapes ``run_service`` (a Ctrl-C before the signal handlers are in place, a bug) is
    logged and exits 1, through the same door.
    """
    try:
        code = run_service(spec)
    except BaseException:
        logging.getLogger(__name__).exception("%s: stopped by an unexpected error", spec.name)
        code = EXIT_FAILURE
    exit_process(code)
