"""nats-server processes started from the deploy/nats configuration, for the deployment tests.

The configuration files are used as shipped; only what a test machine must change is rewritten
in a copy: the JetStream store directory and, for the cluster, the loopback ports of the routes.
Client and monitoring ports are given on the command line (they override ``listen``/``http``).
The passwords are random per test run and reach the server the way production passes them: as
environment variables of the server process.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from mts1b_operations.core.embedded import free_port, nats_server_binary, wait_until
from mts1b_operations.core.embedded._process import ManagedProcess

__all__ = [
    "NATS_DIR",
    "PASSWORD_VARIABLES",
    "ConfiguredNats",
    "NatsCluster",
    "random_passwords",
    "render_cluster",
    "render_single",
    "stream_replicas",
    "user_url",
]

REPO: Final = Path(__file__).resolve().parents[2]
NATS_DIR: Final = REPO / "deploy" / "nats"
STORE_DIR_IN_CONFIG: Final = "/data/jetstream"
ROUTE_PORT_IN_CONFIG: Final = 6222

# user -> the environment variable holding its password (deploy/nats/accounts.conf).
PASSWORD_VARIABLES: Final[Mapping[str, str]] = {
    "halt": "NATS_HALT_PASSWORD",
    "audit": "NATS_AUDIT_PASSWORD",
    "watchdogs": "NATS_WATCHDOGS_PASSWORD",
    "compliance": "NATS_COMPLIANCE_PASSWORD",
    "marketdata-api": "NATS_MARKETDATA_PASSWORD",
    "cli": "NATS_CLI_PASSWORD",
    "operator": "NATS_OPERATOR_PASSWORD",
    "oms": "NATS_OMS_PASSWORD",
    "marketdata-feed": "NATS_MARKETDATA_FEED_PASSWORD",
    "strategy": "NATS_STRATEGY_PASSWORD",
    "devstack": "NATS_DEVSTACK_PASSWORD",
}


def nats_password() -> str:
    """A password nats-server reads back as the same string.

    The server parses an environment variable's value as a configuration value: ``true``, a
    leading ``-``, spaces or ``;`` break it. A letter then hex digits never does (and sits in a
    nats:// URL unescaped). docs/operations/nats-accounts.md gives the same recipe.
    """
    return "p" + secrets.token_hex(20)


def random_passwords() -> dict[str, str]:
    return {user: nats_password() for user in PASSWORD_VARIABLES}


def server_environment(passwords: Mapping[str, str]) -> dict[str, str]:
    return {PASSWORD_VARIABLES[user]: password for user, password in passwords.items()}


def user_url(user: str, password: str, ports: int | list[int]) -> str:
    """``nats://user:pw@127.0.0.1:port`` — several ports give the comma-separated list of a cluster."""
    port_list = [ports] if isinstance(ports, int) else ports
    return ",".join(f"nats://{user}:{password}@127.0.0.1:{port}" for port in port_list)


def render_single(into: Path) -> Path:
    """deploy/nats/nats.conf and accounts.conf copied into ``into``, the store under ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy(NATS_DIR / "accounts.conf", into / "accounts.conf")
    text = (NATS_DIR / "nats.conf").read_text()
    assert STORE_DIR_IN_CONFIG in text, "nats.conf no longer names the store directory the test rewrites"
    config = into / "nats.conf"
    config.write_text(text.replace(STORE_DIR_IN_CONFIG, str(into / "jetstream")))
    return config


def render_cluster(into: Path, route_ports: list[int]) -> list[Path]:
    """deploy/nats/cluster/nats-{1,2,3}.conf with the routes on loopback ``route_ports``."""
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy(NATS_DIR / "accounts.conf", into / "accounts.conf")
    (into / "cluster").mkdir(exist_ok=True)
    configs = []
    for index, own_port in enumerate(route_ports, start=1):
        text = (NATS_DIR / "cluster" / f"nats-{index}.conf").read_text()
        text = text.replace(STORE_DIR_IN_CONFIG, str(into / f"jetstream-{index}"))
        text = text.replace(f"0.0.0.0:{ROUTE_PORT_IN_CONFIG}", f"127.0.0.1:{own_port}")
        for peer, peer_port in enumerate(route_ports, start=1):
            text = text.replace(f"nats-{peer}:{ROUTE_PORT_IN_CONFIG}", f"127.0.0.1:{peer_port}")
        assert f":{ROUTE_PORT_IN_CONFIG}" not in text, f"nats-{index}.conf: a route was not rewritten"
        config = into / "cluster" / f"nats-{index}.conf"
        config.write_text(text)
        configs.append(config)
    return configs


class ConfiguredNats:
    """One nats-server run with a configuration file, on 127.0.0.1 ports of its own."""

    def __init__(self, config: Path, env: Mapping[str, str], *, name: str = "nats-server") -> None:
        self.config = config
        self.env = dict(env)
        self.port = free_port()
        self.monitor_port = free_port()
        self._process = ManagedProcess(name, config.parent / f"{name}.log")

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    def log(self) -> str:
        path = self._process.log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def spawn(self) -> None:
        argv = [
            nats_server_binary(),
            "-c",
            str(self.config),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
        ]
        self._process.spawn(argv, env={"PATH": "/usr/bin:/bin", **self.env})

    def healthy(self) -> bool:
        if (why := self._process.exited_early()) is not None:
            raise RuntimeError(why)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=0.5) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 30.0) -> ConfiguredNats:
        self.spawn()
        try:
            wait_until(self.healthy, timeout=timeout, what=f"nats-server -c {self.config.name}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._process.terminate(signal.SIGTERM)

    def kill(self) -> None:
        """kill -9, the way a crashed node or a lost machine ends."""
        self._process.kill()


class NatsCluster:
    """Three nodes of deploy/nats/cluster, routed on loopback."""

    def __init__(self, into: Path, passwords: Mapping[str, str]) -> None:
        self.env = server_environment(passwords)
        configs = render_cluster(into, [free_port() for _ in range(3)])
        self.nodes = [ConfiguredNats(config, self.env, name=config.stem) for config in configs]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def start(self, timeout: float = 60.0) -> NatsCluster:
        # All at once: a node reports healthy only once the JetStream meta group has a leader.
        try:
            for node in self.nodes:
                node.spawn()
            wait_until(
                lambda: all(node.healthy() for node in self.nodes),
                timeout=timeout,
                what="the 3-node NATS cluster",
            )
        except BaseException:
            self.stop()  # no server outlives a failed start
            raise
        return self

    def node_named(self, server_name: str) -> ConfiguredNats:
        for node in self.nodes:
            if node.config.stem == server_name:
                return node
        raise LookupError(f"no cluster node named {server_name!r}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


async def stream_replicas(js: JetStreamContext, stream: str) -> int | None:
    """The stream's replica count; None while it is missing or its group elects a leader."""
    try:
        info = await js.stream_info(stream)
    except (NotFoundError, nats.errors.TimeoutError):
        return None
    return info.config.num_replicas
