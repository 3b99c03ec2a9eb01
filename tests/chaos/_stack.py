"""The dev stack under test: started in-process on free ports, with the handles the faults need.

Running :class:`DevStack` in this process (rather than `mts dev up` as a child) gives the
fault schedule the embedded NATS and Postgres objects to restart with the same store, port
and arguments, and the supervisor's current pid of every service to kill or pause.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console

from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres, free_port, free_port_block
from mts1b_operations.core.operators import Role, add_operator
from mts1b_operations.devstack import PORT_OFFSETS, DevStack, RuntimeState, StackOptions

__all__ = ["ChaosStack", "Operators", "free_base_port"]

READY_PATH = "/v1/readyz"


def free_base_port() -> int:
    """A base port whose service block (base + each of PORT_OFFSETS) is free."""
    return free_port_block(PORT_OFFSETS.values())


@dataclass(frozen=True)
class Operators:
    """Bearer tokens: two operators (a halt's requester and a resume's cosigner) and a viewer."""

    alice: str
    bob: str
    viewer: str


@dataclass
class ChaosStack:
    """One dev stack in ``root``; :meth:`start` it, always :meth:`stop` it."""

    root: Path
    seed: int = 0
    replay_speed: float = 20.0
    scenario: str | None = None
    _stack: DevStack | None = field(default=None, init=False, repr=False)
    _log: object | None = field(default=None, init=False, repr=False)
    operators: Operators | None = field(default=None, init=False)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "dev-up.log").open("w")
        self._log = log
        options = StackOptions(
            state_dir=self.root / "stack",
            pg_port=free_port(),
            nats_port=free_port(),
            base_port=free_base_port(),
            scenario=self.scenario,
            seed=self.seed,
            replay_speed=self.replay_speed,
            health_timeout=120.0,
            server_timeout=90.0,
        )
        self._stack = DevStack(options, console=Console(file=log, width=200, color_system=None))
        if not await self._stack.start(asyncio.Event()):
            raise RuntimeError("the dev stack did not start")
        unhealthy = [name for name, ok in self._stack.health.items() if not ok]
        if unhealthy:
            raise RuntimeError(f"not healthy after start: {unhealthy}; see {self.root / 'stack' / 'logs'}")
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            tokens: dict[str, str] = {}
            roles: tuple[tuple[str, Role], ...] = (
                ("chaos-alice", "operator"),
                ("chaos-bob", "operator"),
                ("chaos-vic", "viewer"),
            )
            for name, role in roles:
                _, tokens[name] = await add_operator(conn, name, role, created_by="chaos-harness")
        finally:
            await conn.close()
        self.operators = Operators(tokens["chaos-alice"], tokens["chaos-bob"], tokens["chaos-vic"])

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.shutdown()
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]

    # -- what the workload and the checks need --------------------------------------------

    @property
    def runtime(self) -> RuntimeState:
        assert self._stack is not None, "the stack is not started"
        assert self._stack.runtime is not None, "the stack is stopped"
        return self._stack.runtime

    @property
    def database_url(self) -> str:
        return self.runtime.database_url

    @property
    def nats_url(self) -> str:
        return self.runtime.nats_url

    @property
    def tokens(self) -> Operators:
        assert self.operators is not None, "the stack is not started"
        return self.operators

    def service_urls(self) -> dict[str, str]:
        return {svc.name: svc.url for svc in self.runtime.services}

    def service_pid(self, name: str) -> int | None:
        """The pid the supervisor last spawned for ``name`` (updated on every restart)."""
        for svc in self.runtime.services:
            if svc.name == name:
                return svc.pid
        raise KeyError(f"service: no service named {name!r}")

    @property
    def nats(self) -> EmbeddedNats:
        assert self._stack is not None
        server = self._stack._nats
        assert server is not None
        return server

    @property
    def postgres(self) -> EmbeddedPostgres:
        assert self._stack is not None
        server = self._stack._postgres
        assert server is not None
        return server

    async def not_ready(self, client: httpx.AsyncClient) -> list[str]:
        """The services whose /v1/readyz does not answer 200 right now."""

        async def ready(url: str) -> bool:
            try:
                return (await client.get(url + READY_PATH, timeout=2.0)).status_code == 200
            except httpx.HTTPError:
                return False

        urls = self.service_urls()
        answers = await asyncio.gather(*(ready(url) for url in urls.values()))
        return [name for name, ok in zip(urls, answers, strict=True) if not ok]
