"""The watchdogs of one process: built from Postgres, fed by NATS or a clock, changed live.

:class:`WatchdogRuntime` is what the service runs (it is a runtime ``Consumer``: ``start`` /
``stop``) and what a test or a benchmark runs in-process against a pool and a bus::

    runtime = WatchdogRuntime(pool, bus, names=["vpin"], overrides={"vpin": {"window": 5}})
    await runtime.start()      # config and state from Postgres, durable consumers, probes
    ...
    await runtime.stop()

Alerts leave through the outbox of ``source``; the caller runs that source's ``OutboxRelay``
(the service runtime does). A background task writes each watchdog's latest evaluation to
``watchdog_state`` every ``flush_interval`` seconds, ends pauses whose time is up, and notifies
what those pauses muted.

One replica per deployment: the durable consumers are named per watchdog
(``watchdogs-<name>``), so two replicas would share the inputs between them and each see half a
window. Configuration and pauses, on the other hand, reach every replica (see ``control``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from mts1b_operations.core.bus import Bus, ConsumerSpec, DurableConsumer
from mts1b_operations.core.funds import FundsRegistry

from ..alerting import Notification
from ..config import (
    WATCHDOG_NAMES,
    AlertParams,
    ConfigError,
    UnknownWatchdogError,
    check_name,
    default_params,
    effective_params,
)
from ..store import EvaluationMark, StoredConfig, StoredState, WatchdogStore
from ._base import Clock, Runner, RunnerEnv, utc_now
from .db_watchdog import DbRunner
from .dependency_watchdog import DependencyRunner
from .drift_monitor import DriftRunner
from .news_spike import NewsRunner
from .portfolio_vol_dd import VolDdRunner
from .position_anomaly import PositionRunner
from .predictive_health import PredictiveHealthRunner
from .strategy_watchdog import StrategyRunner
from .theta_watchdog import ThetaRunner
from .vpin import VpinRunner

if TYPE_CHECKING:
    import asyncpg

__all__ = ["NAMES_VARIABLE", "RUNNER_TYPES", "WatchdogRuntime", "names_from_env"]

log = logging.getLogger(__name__)

NAMES_VARIABLE: Final = "MTS_WATCHDOGS"

RUNNER_TYPES: Final[Mapping[str, type[Runner[Any]]]] = {
    runner.name: runner
    for runner in (
        PredictiveHealthRunner,
        DriftRunner,
        VpinRunner,
        NewsRunner,
        PositionRunner,
        DbRunner,
        StrategyRunner,
        ThetaRunner,
        DependencyRunner,
        VolDdRunner,
    )
}
assert set(RUNNER_TYPES) == set(WATCHDOG_NAMES)

_DEPENDENCY: Final = "dependency_watchdog"


def names_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The watchdogs to run: MTS_WATCHDOGS (comma-separated names), all of them when unset."""
    raw = (os.environ if env is None else env).get(NAMES_VARIABLE, "").strip()
    if not raw:
        return WATCHDOG_NAMES
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for name in names:
        try:
            check_name(name)
        except UnknownWatchdogError as exc:
            raise ValueError(f"{NAMES_VARIABLE}: {exc}") from None
    return names


class WatchdogRuntime:
    """Every runner of this process, their inputs, and the live changes to them."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Bus,
        *,
        source: str = "watchdogs",
        funds: FundsRegistry | None = None,
        names: Iterable[str] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
        flush_interval: float = 2.0,
    ) -> None:
        self.pool = pool
        self.bus = bus
        self.store = WatchdogStore(pool)
        self.source = source
        self.names: tuple[str, ...] = tuple(
            check_name(name) for name in (names if names is not None else WATCHDOG_NAMES)
        )
        self._initial_overrides: dict[str, dict[str, Any]] = {
            check_name(k): dict(v) for k, v in (overrides or {}).items()
        }
        self._env = env
        self.flush_interval = flush_interval
        self.runner_env = RunnerEnv(
            pool=pool,
            store=self.store,
            source=source,
            funds=funds or FundsRegistry.empty(),
            dependencies_down=self.dependencies_down,
            clock=clock,
        )
        self.runners: dict[str, Runner[Any]] = {}
        self.configs: dict[str, StoredConfig | None] = {}
        # What this process runs with before any operator change: the built-in defaults, with the
        # caller's ``overrides`` (test-sized windows, a bench's thresholds) laid over them. What an
        # operator stored in Postgres is laid over these in turn, and ``null`` resets to them.
        self._defaults = {
            name: effective_params(name, self._initial_overrides.get(name, {}), default_params(name, env))
            for name in WATCHDOG_NAMES
        }
        self._consumers: list[DurableConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("the watchdog runtime is already started")
        self._started = True
        self._stopping.clear()
        configs, states = await self.store.load_all()
        for name in self.names:
            config = configs.get(name)
            self.configs[name] = config
            params = self._params(name, config)
            runner = RUNNER_TYPES[name](self.runner_env, params, states.get(name))
            runner.on_notify(self._notified)
            self.runners[name] = runner
        for name, runner in self.runners.items():
            await runner.start()
            for sub in runner.subscriptions():
                spec = ConsumerSpec(
                    stream=sub.stream,
                    durable=f"watchdogs-{name}{sub.suffix}",
                    filter_subjects=sub.subjects,
                    max_deliver=20,
                    nak_delays=(0.2, 1.0, 5.0, 15.0),
                    description=f"mts1b-watchdogs: input of the {name} watchdog",
                )
                consumer = DurableConsumer(self.bus, spec, sub.handler)
                await consumer.start()
                self._consumers.append(consumer)
            if runner.interval() is not None:
                self._tasks.append(asyncio.create_task(self._periodic(runner), name=f"watchdog:{name}"))
        self._tasks.append(asyncio.create_task(self._bookkeeping(), name="watchdogs:bookkeeping"))
        log.info("watchdogs running: %s", ", ".join(self.runners))

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        for consumer in self._consumers:
            await consumer.stop()
        self._consumers.clear()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._side_tasks, return_exceptions=True)
        for runner in self.runners.values():
            with contextlib.suppress(Exception):
                await runner.publish_queued()
            await runner.stop()
        with contextlib.suppress(Exception):
            await self.flush()

    # ------------------------------------------------------------------ lookups

    def runner(self, name: str) -> Runner[Any]:
        """The running watchdog ``name``; UnknownWatchdogError for a name that is not a watchdog."""
        check_name(name)
        try:
            return self.runners[name]
        except KeyError:
            raise UnknownWatchdogError(name) from None

    def defaults(self, name: str) -> AlertParams:
        return self._defaults[check_name(name)]

    def dependencies_down(self) -> frozenset[str]:
        dependency = self.runners.get(_DEPENDENCY)
        return frozenset(dependency.book.firing) if dependency is not None else frozenset()

    # ------------------------------------------------------------------ live changes

    def _params(self, name: str, config: StoredConfig | None) -> AlertParams:
        try:
            return effective_params(name, config.overrides if config else {}, self._defaults[name])
        except ConfigError as exc:
            log.error(
                "%s: the stored configuration is no longer valid (%s); running with the defaults until it is "
                "changed",
                name,
                exc,
            )
            return self._defaults[name]

    def apply_config(self, name: str, config: StoredConfig | None) -> AlertParams:
        """Run ``name`` with ``config`` from now on; returns the effective parameters."""
        runner = self.runner(name)
        self.configs[name] = config
        params = self._params(name, config)
        runner.configure(params)
        return params

    async def apply_state(self, name: str, state: StoredState | None) -> None:
        """Take over a pause (or its end) as stored; a resume notifies what the pause muted."""
        runner = self.runner(name)
        paused = state is not None and state.status == "paused"
        until = state.paused_until if state is not None and paused else None
        if (runner.paused_until, runner.paused_by) == (until, state.paused_by if paused and state else None):
            return
        was_paused = runner.paused_until is not None
        if paused and state is not None:
            runner.pause(until, by=state.paused_by, reason=state.pause_reason)
        else:
            runner.pause(None)
        runner.wake.set()
        if was_paused and not paused:
            await self._renotify(runner)

    async def reload(self, name: str) -> None:
        """Read ``name``'s configuration and pause from Postgres and apply them (another replica's change)."""
        if name not in self.runners:
            return
        config, state = await self.store.load(name)
        self.apply_config(name, config)
        await self.apply_state(name, state)

    async def reload_all(self) -> None:
        configs, states = await self.store.load_all()
        for name in self.runners:
            self.apply_config(name, configs.get(name))
            await self.apply_state(name, states.get(name))

    # ------------------------------------------------------------------ background work

    def _notified(self, runner: Runner[Any], notifications: list[Notification]) -> None:
        if runner.name == _DEPENDENCY and any(n.status == "resolved" for n in notifications):
            # An upstream is back: alerts its outage inhibited may now be told.
            for other in self.runners.values():
                if other is not runner and other.inhibited_by:
                    task = asyncio.create_task(self._renotify(other))
                    self._side_tasks.add(task)
                    task.add_done_callback(self._side_tasks.discard)

    async def _renotify(self, runner: Runner[Any]) -> None:
        try:
            await runner.renotify()
        except Exception as exc:
            log.warning("%s: alerts held back while muted not sent yet: %r", runner.name, exc)

    async def _periodic(self, runner: Runner[Any]) -> None:
        while not self._stopping.is_set():
            runner.wake.clear()
            try:
                await runner.tick()
                await runner.publish_queued()
                runner.ticks += 1
            except Exception:
                log.exception("%s: evaluation failed; next one in %ss", runner.name, runner.interval())
            interval = runner.interval() or 1.0
            wake = asyncio.create_task(runner.wake.wait())
            stop = asyncio.create_task(self._stopping.wait())
            try:
                await asyncio.wait((wake, stop), timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                wake.cancel()
                stop.cancel()

    async def flush(self) -> None:
        """Write the latest evaluation of every runner that evaluated since the last flush."""
        marks: list[EvaluationMark] = []
        for runner in self.runners.values():
            at = runner.last_evaluated_at
            if at is not None and at != runner.marked:
                marks.append(EvaluationMark(runner.name, runner.last_value, runner.last_subject, at))
        await self.store.mark_evaluations(marks)
        for mark in marks:
            self.runners[mark.name].marked = mark.last_evaluated_at

    async def end_expired_pauses(self) -> None:
        now = self.runner_env.clock()
        await self.store.expire_pauses()
        for runner in self.runners.values():
            if runner.paused_until is not None and not runner.silenced(now):
                runner.pause(None)
                await self._renotify(runner)

    async def _bookkeeping(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.flush_interval)
            try:
                await self.flush()
                await self.end_expired_pauses()
            except Exception as exc:
                log.warning("watchdog bookkeeping failed (retried in %ss): %r", self.flush_interval, exc)
