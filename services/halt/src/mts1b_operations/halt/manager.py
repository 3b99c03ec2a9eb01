"""HaltManager: request, resume and inspect halts; Postgres is the truth, NATS carries it out.

A request or resume commits the halt, its KV put/delete and its event in one Postgres
transaction (the outbox), then publishes them at once (the fast path), in commit order. When
NATS is down the call still succeeds and returns: the rows wait in the outbox for the relay (the
service's, or this manager's own with ``run_relay=True``), and Nats-Msg-Id drops any duplicate.
After every (re)connect the manager makes the KV bucket equal to the halts in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import uuid
from types import TracebackType
from typing import Any, Final

import asyncpg
from nats.js.api import PubAck
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import DEFAULT_STREAMS, Bus, BusUnavailableError, connect_bus
from mts1b_operations.core.db import create_pool
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.outbox import OutboxRelay

from ._config import resolve_config
from .adapters.kv import ReconcileReport, open_bucket, reconcile
from .adapters.postgres import HaltStore, check_operator
from .domain import (
    AlertView,
    Halt,
    HaltError,
    HaltRequest,
    HaltStatus,
    HaltValidationError,
    NoAlerts,
    NotHaltedError,
    Preflight,
    Refusal,
    RefusalAction,
    RequestRecord,
    ResumeRefusedError,
    ResumeResult,
    check_actor,
    check_cosigners,
    check_force,
    describe_halts,
    preflight_report,
    resolve_scope,
    validate_request,
)

__all__ = ["HaltManager"]

log = logging.getLogger(__name__)

_OPERATIONS_STREAM: Final = next(spec for spec in DEFAULT_STREAMS if spec.name == "OPERATIONS")
_KEEPER_INTERVAL: Final = 0.5
_RESYNC_SPACING: Final = 2.0
_MAX_LIST: Final = 10_000


class _FastPublisher:
    """Publishes for the fast path: gives up at once when disconnected, and after ``timeout`` otherwise."""

    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> PubAck:
        if not self._bus.is_connected:
            raise BusUnavailableError(
                f"nats[{self._bus.name}]: not connected; the relay will publish {msg_id}"
            )
        return await self._bus.publish(
            subject, payload, msg_id=msg_id, headers=headers, timeout=self._timeout, deadline=self._timeout
        )


def _limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= _MAX_LIST:
        raise HaltValidationError("limit", f"must be an integer from 1 to {_MAX_LIST}, got {limit!r}")
    return limit


class HaltManager:
    """Firm, fund and strategy halts that persist, propagate at once and resume only with a cosign.

    ``HaltManager()`` reads MTS_DATABASE_URL, MTS_NATS_URL and MTS_FUNDS_FILE; a service passes
    its own ``pool`` and ``bus`` (which the manager then does not close) and ``run_relay=False``
    when its runtime already relays the ``source`` outbox. ``alerts`` tells the pre-flight
    check which watchdogs are alerting (default: none). The manager connects on first use, or
    on :meth:`start`; NATS being down at that point delays only the publishing.
    """

    def __init__(
        self,
        dsn: str | None = None,
        nats_url: str | None = None,
        *,
        funds: FundsRegistry | str | os.PathLike[str] | None = None,
        pool: asyncpg.Pool | None = None,
        bus: Bus | None = None,
        alerts: AlertView | None = None,
        source: str = "halt",
        run_relay: bool = True,
        publish_timeout: float = 1.0,
        connect_wait: float = 5.0,
        db_retry: float = 10.0,
    ) -> None:
        subjects.token_of("source", source)
        if publish_timeout <= 0:
            raise ValueError(f"publish_timeout: must be > 0 seconds (got {publish_timeout!r})")
        if connect_wait < 0:
            raise ValueError(f"connect_wait: must be >= 0 seconds (got {connect_wait!r})")
        if db_retry <= 0:
            raise ValueError(f"db_retry: must be > 0 seconds (got {db_retry!r})")
        self._dsn = dsn
        self._nats_url = nats_url
        self._funds_arg = funds
        self._pool = pool
        self._owns_pool = pool is None
        self._bus = bus
        self._owns_bus = bus is None
        self._alerts: AlertView = alerts if alerts is not None else NoAlerts()
        self.source = source
        self._run_relay = run_relay
        self._publish_timeout = publish_timeout
        self._connect_wait = connect_wait
        self._db_retry = db_retry
        self._funds: FundsRegistry | None = None
        self._store: HaltStore | None = None
        self._flusher: OutboxRelay | None = None
        self._relay: OutboxRelay | None = None
        self._kv: KeyValue | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._nats_synced = asyncio.Event()
        self._resync = asyncio.Event()
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect Postgres, start connecting NATS; returns once NATS is synced or ``connect_wait`` passed."""
        async with self._start_lock:
            if self._closed:
                raise RuntimeError("HaltManager is closed")
            if self._started:
                return
            config = resolve_config(
                dsn=self._dsn,
                nats_url=self._nats_url,
                funds=self._funds_arg,
                need_dsn=self._pool is None,
                need_nats=self._bus is None,
            )
            self._funds = config.funds
            if self._pool is None:
                assert config.dsn is not None
                self._pool = await create_pool(config.dsn, min_size=1, max_size=10)
            self._store = HaltStore(self._pool, source=self.source, retry_for=self._db_retry)
            self._tasks.append(
                asyncio.create_task(self._nats_keeper(config.nats_url), name="halt-nats-keeper")
            )
            self._started = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nats_synced.wait(), self._connect_wait)

    async def close(self) -> None:
        """Stop the background work and close what the manager opened itself; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._relay is not None:
            await self._relay.stop()
        if self._owns_bus and self._bus is not None:
            await self._bus.close()
        if self._owns_pool and self._pool is not None:
            await self._pool.close()

    async def __aenter__(self) -> HaltManager:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def funds(self) -> FundsRegistry:
        if self._funds is None:
            raise RuntimeError("HaltManager not started: await start() first (or make any call)")
        return self._funds

    @property
    def nats_synced(self) -> bool:
        """True once the KV bucket has been reconciled since the latest (re)connect."""
        return self._nats_synced.is_set()

    async def _ready(self) -> HaltStore:
        if not self._started:
            await self.start()
        if self._closed:
            raise RuntimeError("HaltManager is closed")
        assert self._store is not None
        return self._store

    # ------------------------------------------------------------------ requests

    async def request(self, req: HaltRequest) -> Halt:
        """Halt the request's scope, or return the halt already in force there (recording this request).

        Raises :class:`HaltValidationError` naming the field for a malformed request, an unknown
        fund or strategy, or a flatten of a live fund the registry does not allow it for.
        """
        store = await self._ready()
        try:
            valid = validate_request(req, self.funds)
        except HaltValidationError as exc:
            await self._record_refusal("request", exc, requested_by=getattr(req, "requested_by", None))
            raise
        recorded = await store.record_request(valid, str(uuid.uuid4()))
        halt = recorded.halt
        if recorded.created:
            log.warning(
                "HALT %s %s on %s (%s) by %s: %s",
                halt.severity, halt.halt_id, halt.scope, halt.mode, halt.requested_by, halt.reason,
            )  # fmt: skip
        else:
            log.info(
                "halt %s on %s already in force; request %d by %s recorded",
                halt.halt_id, halt.scope, recorded.request_no, valid.requested_by,
            )  # fmt: skip
        await self._flush()
        return halt

    async def resume(
        self,
        *,
        fund_id: str | None = None,
        strategy_id: str | None = None,
        firm: bool = False,
        cosigned_by: str | None,
        requested_by: str | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> ResumeResult:
        """Lift the scope's own halt; needs a registered operator's cosign (two distinct ones for the firm).

        If the watchdog that triggered the halt is still alerting, ``force=True`` and a ``reason``
        are required. Resuming a scope under a broader halt lifts its own halt and reports that
        the scope is still halted. Raises :class:`HaltValidationError`, :class:`ResumeRefusedError`
        (recorded as a refusal) or :class:`NotHaltedError`.
        """
        store = await self._ready()
        scope_key: str | None = None
        own: Halt | None = None
        try:
            scope = resolve_scope(self.funds, fund_id=fund_id, strategy_id=strategy_id, firm=firm)
            scope_key = scope.key
            cosigner_actor = check_actor("cosigned_by", cosigned_by)
            requester_actor = None if requested_by is None else check_actor("requested_by", requested_by)
            keys = scope.covering_keys()
            in_force = await store.active_in(keys)
            own = in_force.get(scope.key)
            inherited = [in_force[k] for k in keys[:-1] if k in in_force]
            if own is None:
                tail = (
                    f"it is still halted by {describe_halts(inherited)}" if inherited else "it is not halted"
                )
                raise NotHaltedError(scope.key, f"{scope.label} has no halt of its own to resume; {tail}")
            assert self._pool is not None
            cosigner = await check_operator(self._pool, cosigner_actor)
            requester = None if requester_actor is None else await check_operator(self._pool, requester_actor)
            check_cosigners(scope, cosigner=cosigner, requester=requester)
            report = preflight_report(scope, own, inherited, firing=await self._firing(own))
            resume_reason = check_force(report, force=force, reason=reason)
        except (HaltValidationError, ResumeRefusedError) as exc:
            await self._record_refusal(
                "resume",
                exc,
                halt_id=own.halt_id if own is not None else None,
                scope=scope_key,
                requested_by=requested_by,
                cosigned_by=cosigned_by,
            )
            raise
        assert own is not None
        resumed_by = requester_actor or cosigner_actor
        halt = await store.record_resume(
            own.halt_id,
            resumed_by=resumed_by,
            cosigned_by=cosigner_actor,
            reason=resume_reason,
            forced=report.needs_force,
        )
        if halt is None:
            raise NotHaltedError(
                scope.key, f"halt {own.halt_id} on {scope.label} was resumed by someone else meanwhile"
            )
        log.warning(
            "RESUME %s %s on %s by %s, cosigned by %s%s",
            halt.severity, halt.halt_id, halt.scope, resumed_by, cosigner_actor,
            " (forced past a firing watchdog)" if halt.forced else "",
        )  # fmt: skip
        await self._flush()
        still = await store.active_in(keys[:-1])
        halted_by = [still[k] for k in keys[:-1] if k in still]
        message = f"resumed {halt.severity} {halt.halt_id} on {scope.label}"
        if halted_by:
            message += f"; {scope.label} is still halted by {describe_halts(halted_by)}"
        return ResumeResult(resumed=halt, still_halted=bool(halted_by), halted_by=halted_by, message=message)

    async def preflight(
        self, *, fund_id: str | None = None, strategy_id: str | None = None, firm: bool = False
    ) -> Preflight:
        """What a resume of the scope would lift and need (a forced resume while its watchdog alerts)."""
        store = await self._ready()
        scope = resolve_scope(self.funds, fund_id=fund_id, strategy_id=strategy_id, firm=firm)
        keys = scope.covering_keys()
        in_force = await store.active_in(keys)
        own = in_force.get(scope.key)
        inherited = [in_force[k] for k in keys[:-1] if k in in_force]
        firing = own is not None and await self._firing(own)
        return preflight_report(scope, own, inherited, firing=firing)

    # ------------------------------------------------------------------ reads

    async def status(self, fund_id: str | None = None, strategy_id: str | None = None) -> HaltStatus:
        """Whether the fund / strategy (or, naming neither, the firm) is halted, by what, and since when."""
        store = await self._ready()
        scope = resolve_scope(self.funds, fund_id=fund_id, strategy_id=strategy_id, default_firm=True)
        keys = scope.covering_keys()
        in_force = await store.active_in(keys)
        halts = [in_force[k] for k in keys if k in in_force]
        return HaltStatus(
            scope=scope.key,
            halted=bool(halts),
            halts=halts,
            since=min(h.requested_at for h in halts) if halts else None,
        )

    async def list_active(self) -> list[Halt]:
        """Every halt in force, oldest first."""
        return await (await self._ready()).list_active()

    async def history(self, limit: int = 100) -> list[Halt]:
        """The latest halts, in force or resumed, newest first."""
        return await (await self._ready()).history(limit=_limit(limit))

    async def get(self, halt_id: str) -> Halt | None:
        return await (await self._ready()).get(halt_id)

    async def requests(self, halt_id: str) -> list[RequestRecord]:
        """Every request for the halt, in order; the first created it."""
        return await (await self._ready()).requests(halt_id)

    async def refusals(self, halt_id: str | None = None, limit: int = 100) -> list[Refusal]:
        """Refused requests and resumes, newest first (of one halt when ``halt_id`` is given)."""
        return await (await self._ready()).refusals(halt_id=halt_id, limit=_limit(limit))

    # ------------------------------------------------------------------ NATS

    async def reconcile_kv(self) -> ReconcileReport:
        """Make the KV bucket ``mts_halts`` hold exactly the halts in force; creates it if missing."""
        store = await self._ready()
        bus = self._bus
        if bus is None or not bus.is_connected:
            raise BusUnavailableError("reconcile_kv: NATS is not connected")
        self._kv = self._kv or await open_bucket(bus)
        return await reconcile(bus, self._kv, store.list_active)

    async def flush(self) -> None:
        """Publish what waits in the outbox now, if NATS is reachable (the fast path, on demand)."""
        await self._ready()
        await self._flush()

    async def _flush(self) -> None:
        flusher, bus = self._flusher, self._bus
        if flusher is None or bus is None or not bus.is_connected:
            return
        async with self._flush_lock:
            try:
                await flusher.relay_once()
            except Exception as exc:
                log.warning("halt events stay in the outbox for the relay: %r", exc)
                if bus.is_connected:
                    self._resync.set()  # connected but failing: the bucket or stream may be gone

    async def _sync_nats(self, bus: Bus) -> None:
        """After a (re)connect: the OPERATIONS stream and the bucket exist, and the bucket is right."""
        try:
            await bus.js.stream_info(_OPERATIONS_STREAM.name)
        except NotFoundError:
            # Only created when missing: a deployment's stream (replicas...) is not ours to change.
            await bus.ensure_streams([_OPERATIONS_STREAM], deadline=5.0)
        self._kv = await open_bucket(bus)
        assert self._store is not None
        report = await reconcile(bus, self._kv, self._store.list_active)
        if report.put or report.deleted:
            log.warning("halt KV reconciled: put %s, deleted %s", report.put, report.deleted)
        await self._flush()

    async def _nats_keeper(self, nats_url: str | None) -> None:
        if self._bus is None:
            assert nats_url is not None
            self._bus = await connect_bus(nats_url, name=f"mts1b-{self.source}-halts", connect_deadline=None)
        bus = self._bus
        assert self._pool is not None
        self._flusher = OutboxRelay(
            self._pool, _FastPublisher(bus, self._publish_timeout), source=self.source, batch_size=100
        )
        synced_at: int | None = None
        last_sync = 0.0
        while not self._stopping.is_set():
            if self._run_relay and self._relay is None and (synced_at is not None or not bus.is_connected):
                # Started after the first sync, so the bucket exists when it publishes KV puts.
                self._relay = OutboxRelay(self._pool, bus, source=self.source)
                await self._relay.start()
            now = asyncio.get_running_loop().time()
            resync = self._resync.is_set() and now - last_sync >= _RESYNC_SPACING
            if bus.is_connected and (synced_at != bus.reconnects or resync):
                marker = bus.reconnects
                last_sync = now
                self._resync.clear()
                try:
                    await self._sync_nats(bus)
                except Exception as exc:
                    log.warning("halt manager: syncing NATS after (re)connect failed, will retry: %r", exc)
                    self._resync.set()
                else:
                    synced_at = marker
                    self._nats_synced.set()
            if not bus.is_connected:
                self._nats_synced.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), _KEEPER_INTERVAL)

    # ------------------------------------------------------------------ helpers

    async def _firing(self, halt: Halt) -> bool:
        if halt.triggered_by_watchdog is None or halt.watchdog_subject_id is None:
            return False
        try:
            answer: Any = self._alerts.is_firing(halt.triggered_by_watchdog, halt.watchdog_subject_id)
            if inspect.isawaitable(answer):
                answer = await answer
            return bool(answer)
        except Exception as exc:
            # Unknown counts as alerting: an override then needs force and a reason, on record.
            log.warning("alert view failed for %s/%s, assuming it alerts: %r",
                        halt.triggered_by_watchdog, halt.watchdog_subject_id, exc)  # fmt: skip
            return True

    async def _record_refusal(
        self,
        action: RefusalAction,
        exc: HaltError,
        *,
        halt_id: str | None = None,
        scope: str | None = None,
        requested_by: object = None,
        cosigned_by: object = None,
    ) -> None:
        assert self._store is not None
        code = str(getattr(exc, "code", "invalid"))
        field = getattr(exc, "field", None)
        try:
            await self._store.record_refusal(
                action,
                code=code,
                problem=str(exc),
                field=field if isinstance(field, str) else None,
                halt_id=halt_id,
                scope=scope,
                requested_by=requested_by if isinstance(requested_by, str) else None,
                cosigned_by=cosigned_by if isinstance(cosigned_by, str) else None,
            )
        except Exception as record_exc:
            log.error("could not record the refused %s (%s): %r", action, exc, record_exc)
        else:
            await self._flush()  # the refusal's event takes the fast path like any other
        log.warning("refused %s: %s", action, exc)
