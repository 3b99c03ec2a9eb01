"""Live changes of a watchdog: parameters, pause and resume, by an operator over HTTP.

A change is validated, written to Postgres and announced in one transaction: the new
``watchdog_config`` / ``watchdog_state`` row and an ``OperationsCommand`` (command ``watchdog``,
``args``: watchdog, action, origin instance) enqueued in the outbox, published on
``mts.v1.operations.cmd.watchdog`` (the audit service records it as the operator's action).
The instance that took the request applies the change to its runner at once; every other
replica of the service hears the command (a core NATS subscription: a restarted replica need not
replay old ones) and reloads that watchdog from Postgres, the source of truth. In case a replica
missed a command (NATS down at the time), each one also reloads every watchdog from Postgres
every ``reconcile_interval`` seconds. A restart reads the same rows, so changes survive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import msgspec

from mts1b_operations.core import subjects
from mts1b_operations.core.outbox import enqueue
from mts1b_operations.core.schemas import OperationsCommand, decode

from ..config import KIND_OF, check_name, effective_params, merge_overrides
from ..runners import WatchdogRuntime
from ..store import StoredConfig, StoredState
from ._schemas import FiringSubject, WatchdogView

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from mts1b_operations.core.bus import Bus

__all__ = [
    "DEFAULT_PAUSE",
    "MAX_PAUSE",
    "ControlError",
    "WatchdogControl",
    "parse_duration",
]

log = logging.getLogger(__name__)

DEFAULT_PAUSE: Final = timedelta(hours=1)
MAX_PAUSE: Final = timedelta(days=7)
_DURATION: Final = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")


class ControlError(ValueError):
    """A pause or resume request is invalid; ``field`` names the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def parse_duration(raw: str | float, field: str = "for") -> timedelta:
    """Seconds, or ``1d2h30m10s`` (any of the parts, in that order), as a timedelta > 0."""
    if isinstance(raw, bool):
        raise ControlError(field, f"expected seconds or a duration such as 30m, got {raw!r}")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        text = raw.strip().lower()
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            raise ControlError(field, f"{raw!r} is not a duration (seconds, or e.g. 90s, 30m, 2h, 1h30m, 1d)")
        seconds = (
            int(match["d"] or 0) * 86_400
            + int(match["h"] or 0) * 3_600
            + int(match["m"] or 0) * 60
            + float(match["s"] or 0)
        )
    if not seconds > 0:
        raise ControlError(field, f"must be a positive duration, got {raw!r}")
    return timedelta(seconds=seconds)


class WatchdogControl:
    """Applies operators' changes and hears other replicas' (a runtime ``Consumer``: start / stop)."""

    def __init__(
        self,
        runtime: WatchdogRuntime,
        bus: Bus,
        *,
        instance_id: str,
        service: str = "watchdogs",
        reconcile_interval: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.bus = bus
        self.store = runtime.store
        self.instance_id = instance_id
        self.service = service
        self.reconcile_interval = reconcile_interval
        self.subject = subjects.operations_command("watchdog")
        self._sub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._handled: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ operator actions

    async def configure(self, name: str, changes: Mapping[str, Any], *, actor: str) -> WatchdogView:
        """Apply a partial update of ``name``'s parameters (``None`` resets one to its default)."""
        name = check_name(name)
        defaults = self.runtime.defaults(name)
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            current = await self.store.lock_config(conn, name)
            overrides, _ = merge_overrides(name, current.overrides if current else {}, changes, defaults)
            stored = await self.store.save_config(conn, name, overrides, actor)
            await self._announce(conn, name, "config", actor, {"changed": ",".join(sorted(changes))})
        if name in self.runtime.runners:
            self.runtime.apply_config(name, stored)
        log.info("%s: parameters %s set by %s", name, dict(changes), actor)
        return await self.view(name)

    async def pause(
        self,
        name: str,
        *,
        actor: str,
        until: datetime | None = None,
        duration: str | float | None = None,
        reason: str | None = None,
    ) -> WatchdogView:
        """Silence ``name`` until ``until`` or for ``duration`` (default one hour, at most seven days)."""
        name = check_name(name)
        now = self.runtime.runner_env.clock()
        if until is not None and duration is not None:
            raise ControlError("for", "give either until or for, not both")
        if until is not None:
            if until.utcoffset() is None:
                raise ControlError("until", "must carry a time zone (e.g. 2025-01-01T12:00:00Z)")
            if until <= now:
                raise ControlError("until", f"{until.isoformat()} is not in the future")
            field = "until"
        else:
            until = now + (DEFAULT_PAUSE if duration is None else parse_duration(duration))
            field = "for"
        if until - now > MAX_PAUSE:
            raise ControlError(field, f"a pause may last at most {MAX_PAUSE.days} days")
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            state = await self.store.set_pause(conn, name, until=until, actor=actor, reason=reason)
            await self._announce(conn, name, "pause", actor, {"until": until.isoformat()})
        if name in self.runtime.runners:
            await self.runtime.apply_state(name, state)
        log.info("%s: paused until %s by %s", name, until.isoformat(), actor)
        return await self.view(name)

    async def resume(self, name: str, *, actor: str) -> WatchdogView:
        """End ``name``'s pause now; alerts the pause held back and still firing are sent."""
        name = check_name(name)
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            state = await self.store.set_pause(conn, name, until=None, actor=None)
            await self._announce(conn, name, "resume", actor, {})
        if name in self.runtime.runners:
            await self.runtime.apply_state(name, state)
        log.info("%s: resumed by %s", name, actor)
        return await self.view(name)

    async def _announce(
        self, conn: Any, name: str, action: str, actor: str, extra: Mapping[str, str]
    ) -> None:
        command = OperationsCommand(
            command_id=str(uuid.uuid4()),
            command="watchdog",
            targets=[self.service],
            requested_by=actor,
            issued_at=self.runtime.runner_env.clock(),
            args={"watchdog": name, "action": action, "origin": self.instance_id, **extra},
        )
        await enqueue(
            conn, source=self.service, subject=self.subject, payload=command, event_id=command.command_id
        )

    # ------------------------------------------------------------------ what the API shows

    async def view(self, name: str) -> WatchdogView:
        name = check_name(name)
        config, state = await self.store.load(name)
        return self._view(name, config, state)

    async def views(self) -> list[WatchdogView]:
        configs, states = await self.store.load_all()
        return [self._view(name, configs.get(name), states.get(name)) for name in KIND_OF]

    def _view(self, name: str, config: StoredConfig | None, state: StoredState | None) -> WatchdogView:
        runner = self.runtime.runners.get(name)
        overrides = config.overrides if config else {}
        if runner is not None:
            params = runner.params
        else:
            params = effective_params(name, overrides, self.runtime.defaults(name))
        stored = state or StoredState()
        now = self.runtime.runner_env.clock()
        paused = stored.status == "paused" and stored.paused_until is not None and stored.paused_until > now
        if runner is not None:
            firing = [
                FiringSubject(
                    subject_id=subject,
                    since=s.since,
                    notified=s.notified,
                    value=s.value,
                    threshold=s.threshold,
                    message=s.message,
                    episode=s.episode,
                )
                for subject, s in runner.book.firing.items()
            ]
        else:
            firing = [
                FiringSubject(
                    subject_id=subject,
                    since=_when(data.get("since")),
                    notified=bool(data.get("notified")),
                    value=data.get("value"),
                    threshold=data.get("threshold"),
                    message=data.get("message"),
                    episode=data.get("episode"),
                )
                for subject, data in stored.firing.items()
            ]
        last_evaluated = runner.last_evaluated_at if runner is not None else stored.last_evaluated_at
        return WatchdogView(
            name=name,
            kind=KIND_OF[name],
            alert_subject=subjects.watchdog_alert(KIND_OF[name]),
            inputs=runner.describe_inputs() if runner is not None else "not run by this instance",
            status="paused" if paused else "running",
            paused_until=stored.paused_until if paused else None,
            paused_by=stored.paused_by if paused else None,
            pause_reason=stored.pause_reason if paused else None,
            params=msgspec.to_builtins(params),
            overrides=dict(overrides),
            updated_at=config.updated_at if config else None,
            updated_by=config.updated_by if config else None,
            active=runner is not None,
            evaluations=runner.evaluation_count if runner is not None else 0,
            last_value=runner.last_value if runner is not None else stored.last_value,
            last_subject=runner.last_subject if runner is not None else stored.last_subject,
            last_evaluated_at=last_evaluated,
            last_alert_at=(runner.last_alert_at if runner is not None else None) or stored.last_alert_at,
            firing=sorted(firing, key=lambda f: f.subject_id),
        )

    # ------------------------------------------------------------------ other replicas

    async def start(self) -> None:
        self._sub = await self.bus.nc.subscribe(self.subject, cb=self._on_message)
        self._task = asyncio.create_task(self._reconcile(), name="watchdogs:reconcile")

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._handled:
            await asyncio.gather(*self._handled, return_exceptions=True)

    async def _on_message(self, msg: Msg) -> None:
        try:
            command = decode(msg.data, OperationsCommand)
        except ValueError as exc:
            log.warning("ignoring a malformed watchdog command: %s", exc)
            return
        if command.targets and self.service not in command.targets:
            return
        name = command.args.get("watchdog", "")
        if command.args.get("origin") == self.instance_id or name not in self.runtime.runners:
            return
        # No reply: the command reaches us through the stream publish, whose reply inbox awaits
        # the stream's PubAck, not ours.
        task = asyncio.create_task(self._reload(name, command))
        self._handled.add(task)
        task.add_done_callback(self._handled.discard)

    async def _reload(self, name: str, command: OperationsCommand) -> None:
        try:
            await self.runtime.reload(name)
        except Exception as exc:
            log.warning("%s: reload after a command from %s failed: %r", name, command.requested_by, exc)
            return
        log.info(
            "%s: reloaded from Postgres (%s by %s)", name, command.args.get("action"), command.requested_by
        )

    async def _reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_interval)
            try:
                await self.runtime.reload_all()
            except Exception as exc:
                log.warning("reloading the watchdogs from Postgres failed: %r", exc)


def _when(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None
