"""The local stack: embedded Postgres and NATS, migrations, and every service under a supervisor."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from rich.console import Console

from mts1b_operations.cli import ExitCode
from mts1b_operations.core.embedded import EmbeddedNats, EmbeddedPostgres

from ._control import live_processes, stop_leftovers, supervisor_alive
from ._funds import ensure_funds_file, ensure_halt_policy
from ._health import wait_healthy
from ._ports import port_in_use
from ._services import DEFAULT_BASE_PORT, PlannedService, UnknownServiceError, plan_services
from ._signing_key import ensure_signing_key
from ._sim import sim_children
from ._state import DevstackState, RuntimeState, ServiceState, StateError, read_state, write_state
from ._supervisor import Backoff, ChildSpec, Supervisor, SupervisorEvent
from ._watchdog_params import seed_watchdog_params
from .replay.scenarios import DEFAULT_SCENARIO

__all__ = [
    "DATABASE_NAME",
    "DEFAULT_NATS_PORT",
    "DEFAULT_PG_PORT",
    "DevStack",
    "StackError",
    "StackOptions",
    "mts_executable",
]

DEFAULT_PG_PORT = 15432
DEFAULT_NATS_PORT = 14222
DATABASE_NAME = "mts"


class StackError(RuntimeError):
    """The stack cannot start; ``exit_code`` says whether it is the operator's input or a failure."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class StackOptions:
    state_dir: Path
    pg_port: int = DEFAULT_PG_PORT
    nats_port: int = DEFAULT_NATS_PORT
    base_port: int = DEFAULT_BASE_PORT
    scenario: str | None = None
    """Market-replay scenario; None plays the default (calm)."""
    seed: int = 0
    replay_speed: float = 1.0
    """Market seconds the scenario replay plays per wall-clock second."""
    replay_file: Path | None = None
    """Replay the trades of this CSV / parquet file instead of a scenario."""
    sim: bool = True
    """Run the market replay and the paper OMS."""
    only: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    health_timeout: float = 30.0
    server_timeout: float = 60.0
    stop_grace: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)


def mts_executable() -> str:
    """The `mts` script of this environment: the one next to the running interpreter."""
    beside = Path(sys.executable).parent / "mts"
    if not beside.is_file():
        raise StackError(f"the mts command is not installed next to {sys.executable} (looked for {beside})")
    return str(beside)


async def _create_database(admin_dsn: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


def _upgrade_all(dsn: str) -> object:
    from mts1b_operations.core.db import upgrade_all  # alembic and SQLAlchemy: imported only when used

    return upgrade_all(dsn)


class DevStack:
    """Start with :meth:`start`, stop with :meth:`shutdown` (always, even after a failed start)."""

    def __init__(self, options: StackOptions, *, console: Console) -> None:
        self.options = options
        self.state_dir = options.state_dir.resolve()
        self._console = console
        self._postgres: EmbeddedPostgres | None = None
        self._nats: EmbeddedNats | None = None
        self._supervisor: Supervisor | None = None
        self._state: DevstackState | None = None
        self.health: dict[str, bool] = {}

    @property
    def state(self) -> DevstackState | None:
        return self._state

    @property
    def runtime(self) -> RuntimeState | None:
        return None if self._state is None else self._state.runtime

    async def start(self, stop: asyncio.Event) -> bool:
        """Bring everything up and wait for health; False when ``stop`` was set on the way.

        Raises :class:`StackError` when the stack cannot start.
        """
        opts = self.options
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._take_over_state_dir()
        try:
            services = plan_services(opts.base_port, opts.only, host=opts.host)
        except UnknownServiceError as exc:
            raise StackError(str(exc), ExitCode.USAGE) from exc
        if not services:
            raise StackError("no service is installed (entry-point group mts1b_operations.services)")
        self._check_ports(services)
        funds_file, key_file = self._ensure_files()
        self._state = DevstackState(
            state_dir=str(self.state_dir),
            pg_port=opts.pg_port,
            nats_port=opts.nats_port,
            base_port=opts.base_port,
            funds_file=str(funds_file),
            signing_key_file=str(key_file),
            scenario=self._scenario() if opts.sim and opts.replay_file is None else None,
            only=list(opts.only),
            runtime=RuntimeState(
                supervisor_pid=os.getpid(),
                started_at=datetime.now(UTC),
                phase="starting",
                database_url=f"postgresql://postgres@{opts.host}:{opts.pg_port}/{DATABASE_NAME}",
                nats_url=f"nats://{opts.host}:{opts.nats_port}",
                postgres_port=opts.pg_port,
                nats_port=opts.nats_port,
                services=[
                    ServiceState(name=s.name, port=s.port, url=s.url, log_file=str(self._log_file(s.name)))
                    for s in services
                ],
            ),
        )
        self._save()
        steps = (self._start_postgres, self._start_nats, self._migrate, self._start_services)
        for step in steps:
            if stop.is_set():
                return False
            await step()
        names = {s.name: s.url for s in services}
        self._say(f"waiting up to {opts.health_timeout:.0f}s for /v1/healthz of {', '.join(names)}")
        self.health = await wait_healthy(names, within=opts.health_timeout, stop=stop)
        if stop.is_set():
            return False
        self._runtime().phase = "running"
        self._save()
        return True

    async def shutdown(self) -> None:
        """Stop the services, then NATS, then Postgres; drop the runtime part of the state file."""
        if self.runtime is not None:
            self.runtime.phase = "stopping"
            self._save()
        if self._supervisor is not None:
            self._say("stopping services")
            await self._supervisor.stop(self.options.stop_grace)
        if self._nats is not None:
            self._say("stopping NATS")
            await asyncio.to_thread(self._nats.stop)
        if self._postgres is not None:
            self._say("stopping Postgres")
            await asyncio.to_thread(self._postgres.stop)
        if self._state is not None:
            self._state.runtime = None
            self._save()

    # -- start-up steps -------------------------------------------------------------------

    def _take_over_state_dir(self) -> None:
        try:
            previous = read_state(self.state_dir)
        except StateError as exc:
            raise StackError(f"{exc}; remove it to start afresh", ExitCode.USAGE) from exc
        if previous is None or previous.runtime is None:
            return
        runtime = previous.runtime
        if supervisor_alive(runtime):
            raise StackError(
                f"a dev stack is already running from {self.state_dir} (pid {runtime.supervisor_pid}); "
                f"see `mts dev status --state-dir {self.state_dir}` or stop it with "
                f"`mts dev down --state-dir {self.state_dir}`",
                ExitCode.USAGE,
            )
        leftovers = live_processes(runtime)
        if leftovers:
            listed = ", ".join(f"{p.label} (pid {p.pid})" for p in leftovers)
            self._say(f"a previous dev stack ended without cleaning up; stopping {listed}")
            survivors = stop_leftovers(runtime)
            if survivors:
                raise StackError(
                    f"could not stop {', '.join(str(p.pid) for p in survivors)} of a previous stack"
                )

    def _check_ports(self, services: Sequence[PlannedService]) -> None:
        opts = self.options
        wanted = [
            (opts.pg_port, "Postgres", "--pg-port"),
            (opts.nats_port, "NATS", "--nats-port"),
            *((s.port, s.name, f"--base-port {opts.base_port}") for s in services),
        ]
        ports = [port for port, _, _ in wanted]
        if len(set(ports)) != len(ports):
            raise StackError(
                f"ports overlap: {ports} (check --pg-port, --nats-port and --base-port)", ExitCode.USAGE
            )
        for port, what, option in wanted:
            if port_in_use(port, opts.host):
                raise StackError(
                    f"port {port} for {what} is already in use by another process on {opts.host}; "
                    f"stop it or choose another port with {option.split()[0]}",
                    ExitCode.USAGE,
                )

    def _ensure_files(self) -> tuple[Path, Path]:
        funds_file = self.state_dir / "funds.yaml"
        key_file = self.state_dir / "audit-signing-key.seed"
        try:
            if ensure_funds_file(funds_file):
                self._say(f"wrote {funds_file} (from core's funds.example.yaml)")
            if ensure_signing_key(key_file):
                self._say(f"wrote a new audit signing-key seed to {key_file}")
        except (OSError, ValueError) as exc:
            raise StackError(str(exc)) from exc
        return funds_file, key_file

    async def _start_postgres(self) -> None:
        opts = self.options
        self._postgres = EmbeddedPostgres(
            self.state_dir / "postgres", port=opts.pg_port, host=opts.host, durable=True
        )
        self._say(f"starting Postgres on {opts.host}:{opts.pg_port}")
        await self._start_server(self._postgres.start, "Postgres")
        self._runtime().postgres_pid = self._postgres.pid
        self._save()

    async def _start_nats(self) -> None:
        opts = self.options
        self._nats = EmbeddedNats(self.state_dir / "nats", port=opts.nats_port, host=opts.host)
        self._say(f"starting NATS (JetStream) on {opts.host}:{opts.nats_port}")
        await self._start_server(self._nats.start, "NATS")
        self._runtime().nats_pid = self._nats.pid
        self._save()

    async def _start_server(self, start: Callable[[float], None], what: str) -> None:
        try:
            await asyncio.to_thread(start, self.options.server_timeout)
        except (RuntimeError, TimeoutError, OSError) as exc:
            raise StackError(f"{what} did not start: {exc}", ExitCode.UNREACHABLE) from exc

    async def _migrate(self) -> None:
        assert self._postgres is not None
        try:
            if await _create_database(self._postgres.dsn("postgres"), DATABASE_NAME):
                self._say(f"created database {DATABASE_NAME!r}")
        except (OSError, asyncpg.PostgresError) as exc:
            raise StackError(
                f"cannot create database {DATABASE_NAME!r}: {exc}", ExitCode.UNREACHABLE
            ) from exc
        dsn = self._runtime().database_url
        self._say("applying migrations")
        try:
            applied = await asyncio.to_thread(_upgrade_all, dsn)
        except Exception as exc:  # alembic raises many kinds; all of them stop the start-up
            raise StackError(f"migrations failed: {type(exc).__name__}: {exc}") from exc
        self._say(f"migrations applied: {applied}")
        if self.options.sim and self.options.replay_file is None:
            await self._seed_watchdog_params(dsn)

    async def _seed_watchdog_params(self, dsn: str) -> None:
        try:
            written = await seed_watchdog_params(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StackError(
                f"cannot write the dev watchdog parameters: {exc}", ExitCode.UNREACHABLE
            ) from exc
        if written:
            self._say(f"watchdog parameters for the replay's scale set on: {', '.join(written)}")

    async def _start_services(self) -> None:
        runtime = self._runtime()
        assert self._state is not None
        mts = mts_executable()
        specs = [
            ChildSpec(
                name=svc.name,
                argv=[mts, "serve", svc.name],
                log_file=Path(svc.log_file),
                env=self._child_env(svc),
            )
            for svc in runtime.services
        ]
        if self.options.sim:
            for child in sim_children(
                scenario=self._scenario(),
                seed=self.options.seed,
                replay_file=self.options.replay_file,
                speed=self.options.replay_speed,
            ):
                specs.append(ChildSpec(child.name, child.argv, self._log_file(child.name), self._sim_env()))
                self._say(f"{child.name}: {child.description}")
        self._supervisor = Supervisor(specs, backoff=self.options.backoff, on_event=self._on_event)
        self._say(f"starting {', '.join(s.name for s in specs)} (logs in {self.state_dir / 'logs'})")
        await self._supervisor.start()

    def _child_env(self, svc: ServiceState) -> dict[str, str]:
        assert self._state is not None
        runtime = self._runtime()
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MTS_DATABASE_URL": runtime.database_url,
            "MTS_NATS_URL": runtime.nats_url,
            "MTS_HTTP_HOST": self.options.host,
            "MTS_HTTP_PORT": str(svc.port),
            "MTS_SERVICE_NAME": svc.name,
            "MTS_FUNDS_FILE": self._state.funds_file,
            "MTS_AUDIT_SIGNING_KEY": self._state.signing_key_file,
            # Filed compliance reports stay with the stack's state, not in the working directory.
            "MTS_COMPLIANCE_OUTPUT_DIR": os.environ.get(
                "MTS_COMPLIANCE_OUTPUT_DIR", str(self.state_dir / "compliance")
            ),
            **self._halt_policy_env(),
        }

    def _halt_policy_env(self) -> dict[str, str]:
        """With the paper OMS running, the halt service expects its acks (an operator's file wins)."""
        if not self.options.sim or "MTS_HALT_POLICY_FILE" in os.environ:
            return {}
        path = self.state_dir / "halt-policy.yaml"
        if ensure_halt_policy(path):
            self._say(f"wrote {path} (the paper OMS must ack OMS commands)")
        return {"MTS_HALT_POLICY_FILE": str(path)}

    def _scenario(self) -> str:
        return self.options.scenario or DEFAULT_SCENARIO

    def _sim_env(self) -> dict[str, str]:
        assert self._state is not None
        runtime = self._runtime()
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MTS_DATABASE_URL": runtime.database_url,
            "MTS_NATS_URL": runtime.nats_url,
            "MTS_FUNDS_FILE": self._state.funds_file,
        }

    # -- bookkeeping ----------------------------------------------------------------------

    def _on_event(self, event: SupervisorEvent) -> None:
        runtime = self.runtime
        if runtime is None or self._supervisor is None:
            return
        child = self._supervisor.child(event.child)
        for svc in runtime.services:
            if svc.name == event.child:
                svc.pid, svc.restarts = child.pid, child.restarts
        if event.kind == "exited":
            self._say(
                f"{event.child} (pid {event.pid}) exited with status {event.exit_code}; "
                f"restarting in {event.restart_in or 0:.1f}s — log: {self._log_file(event.child)}",
                style="yellow",
            )
        self._save()

    def _say(self, message: str, *, style: str | None = None) -> None:
        self._console.print(message, markup=False, highlight=False, style=style)

    def _log_file(self, service: str) -> Path:
        return self.state_dir / "logs" / f"{service}.log"

    def _runtime(self) -> RuntimeState:
        assert self._state is not None
        assert self._state.runtime is not None
        return self._state.runtime

    def _save(self) -> None:
        if self._state is not None:
            write_state(self.state_dir, self._state)
