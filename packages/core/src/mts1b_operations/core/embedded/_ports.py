from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, TypeVar

__all__ = ["free_port", "free_port_block", "wait_until"]

T = TypeVar("T")

_LOWEST: Final = 10_000
_EPHEMERAL_RANGE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _search_range() -> range:
    """Ports below the kernel's ephemeral range, split between pytest-xdist workers.

    Below the ephemeral range, no outgoing connection and no other process's bind to port 0
    takes a port between the moment it is found free and the moment a server binds it; split per
    worker, two test workers never pick the same one.
    """
    low, high = _LOWEST, max(_ephemeral_start(), _LOWEST + 2_000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    index = int(worker) % workers if worker.isdigit() else 0
    span = (high - low) // workers
    return range(low + index * span, low + (index + 1) * span)


def _bindable(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port_block(offsets: Iterable[int] = (0,), host: str = "127.0.0.1") -> int:
    """A base port such that ``base + offset`` is free for every offset (see ``_search_range``)."""
    wanted = sorted(set(offsets))
    candidates = _search_range()
    first, last = candidates.start - wanted[0], candidates.stop - wanted[-1]
    for _ in range(500):
        base = random.randrange(first, last)  # noqa: S311 - not cryptography
        if all(_bindable(base + offset, host) for offset in wanted):
            return base
    raise RuntimeError(
        f"no free block of ports {wanted} found between {candidates.start} and {candidates.stop}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago, outside the kernel's ephemeral range."""
    return free_port_block((0,), host)


def wait_until(check: Callable[[], T], *, timeout: float, what: str, poll: float = 0.05) -> T:
    """Poll ``check`` until it returns something true, and return that; raise TimeoutError naming
    ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(poll)
