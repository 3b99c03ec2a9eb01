"""Is a local TCP port free for us to listen on?"""

from __future__ import annotations

import socket

__all__ = ["port_in_use"]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on ``host:port`` (a bind there fails).

    SO_REUSEADDR lets the probe ignore connections lingering in TIME_WAIT from a previous
    run, while a live listener still makes the bind fail.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
