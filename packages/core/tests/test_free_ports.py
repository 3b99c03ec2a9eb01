"""free_port / free_port_block: free now, below the ephemeral range, disjoint between xdist workers."""

from __future__ import annotations

import socket

import pytest

from mts1b_operations.core.embedded import free_port, free_port_block
from mts1b_operations.core.embedded._ports import _ephemeral_start, _search_range


def test_a_block_is_free_and_below_the_ephemeral_range() -> None:
    base = free_port_block([1, 2, 3, 4, 5])
    assert base + 5 < _ephemeral_start()
    for offset in range(1, 6):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", base + offset))  # raises if taken
    assert free_port() < _ephemeral_start()


def test_a_taken_port_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4000")  # a search range of a few ports
    span = _search_range()
    with socket.socket() as taken:
        # The real workers' servers may hold ports of this span: take the first one still free.
        port = next(p for p in span if _bind(taken, p))
        for _ in range(20):
            assert free_port() != port


def _bind(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def test_workers_search_disjoint_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    ranges = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        ranges.append(_search_range())
    assert ranges[0].stop <= ranges[1].start
    assert len(ranges[0]) > 1000
