"""HaltGate: an order management system's local view of the halts in force, answered from memory.

The gate watches the KV bucket ``mts_halts`` (one key per halted scope: ``firm``,
``fund.<fund_id>``, ``strategy.<strategy_id>``, the value a ``HaltRequested`` JSON) through an
ephemeral JetStream consumer that delivers the latest entry of every key and then each change.
:meth:`HaltGate.allows` is a few dictionary lookups, well under a microsecond's work.

Freshness: every ``check_interval`` the gate asks the server about its consumer. An answer proves
the connection works and the watch exists; when the server has nothing left to deliver and the
gate has applied everything delivered, the view is confirmed current as of the moment the
question was sent. If no confirmation is younger than ``max_staleness`` (NATS unreachable, the
watch lost, the bucket gone), the gate fails closed: every :meth:`allows` is refused with
``halt state stale: no contact with NATS for X s``. A lost or gapped watch is rebuilt from the
bucket's latest entries and replaces the old view only once it is complete.

What passes under a halt in force (the modes of the contract):

============== ============ ============ ================== ==========
mode           new orders   cancels      risk-reducing      stale view
============== ============ ============ ================== ==========
block_new      refused      pass         pass               refused
cancel_open    refused      pass         pass               refused
flatten        refused      pass         refused            refused
============== ============ ============ ================== ==========

``cancel_open`` blocks new orders exactly as ``block_new`` does; cancelling the working orders is
the halt service's command to order management, not the gate's business. Under ``flatten`` the
flatten command closes the positions, so the gate refuses the strategies' own risk-reducing
orders rather than race it. Cancels always pass, stale view or not: a cancel never adds risk.
A stale view refuses risk-reducing orders too, since a flatten might be in force unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.schemas import HaltRequested, SchemaError, decode
from mts1b_operations.core.settings import load_client_settings

__all__ = ["HALT_BUCKET", "GateDecision", "GateListener", "HaltGate", "halt_key"]

log = logging.getLogger(__name__)

HALT_BUCKET: Final = "mts_halts"
_KV_OP: Final = "KV-Operation"
_MARKER_REASON: Final = "Nats-Marker-Reason"
_REMOVED: Final = frozenset({"DEL", "PURGE"})
_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _escape(value: str) -> str:
    if all(ch in _SAFE for ch in value):
        return value
    return "".join(ch if ch in _SAFE else "".join(f"={b:02X}" for b in ch.encode()) for ch in value)


def halt_key(kind: str, ident: str | None = None) -> str:
    """The bucket key of a scope: ``halt_key("fund", "a")`` is ``fund.a``; ``halt_key("firm")`` is ``firm``.

    Characters a KV key cannot carry are written ``=XX``, the same rule as the halt service's.
    """
    return kind if ident is None else f"{kind}.{_escape(ident)}"


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's answer; true when the order may go. ``halt`` is the halt in force that decided it."""

    allowed: bool
    reason: str
    halt: HaltRequested | None = None
    scope: str | None = None
    """The bucket key of that halt (``firm``, ``fund.<id>``, ``strategy.<id>``)."""
    stale: bool = False

    def __bool__(self) -> bool:
        return self.allowed


GateListener = Callable[[str, HaltRequested | None], None]
"""Called with the key and the halt put (None: lifted) on every change of the gate's view."""

_ALLOWED: Final = GateDecision(True, "no halt in force")
_CANCEL: Final = GateDecision(True, "cancels always pass")


@dataclass(frozen=True, slots=True)
class _Entry:
    revision: int
    halt: HaltRequested | None
    """None for a deleted key (kept so an older redelivery cannot resurrect it)."""
    block: GateDecision | None
    """The refusal of new orders this entry causes; None for a deleted key."""


def _block(key: str, halt: HaltRequested | None, data: bytes) -> GateDecision:
    if halt is None:
        return GateDecision(
            False, f"halted: the entry for {key} is not a readable halt ({len(data)} bytes)", None, key
        )
    return GateDecision(
        False,
        f"halted: {halt.severity} {halt.halt_id} on {key} ({halt.mode}) "
        f"by {halt.requested_by}: {halt.reason}",
        halt,
        key,
    )


class _Watch:
    """One consumer on the bucket and the view it has built."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.entries: dict[str, _Entry] = {}
        self.sub: Subscription | None = None
        self.consumer: str | None = None
        self.applied = 0
        """Consumer sequence of the last message applied."""
        self.broken: str | None = None
        self.target: tuple[int, float] | None = None
        """(consumer sequence, time asked): the view is current as of that time once it is applied."""


class HaltGate:
    """Answers "may this order go?" from an in-memory copy of the ``mts_halts`` bucket.

    ``HaltGate()`` connects to MTS_NATS_URL (client settings); pass ``nats_url`` or a connected
    ``bus`` instead. Use as ``async with HaltGate() as gate:`` or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        nats_url: str | None = None,
        *,
        bus: Bus | None = None,
        max_staleness: float = 2.0,
        check_interval: float | None = None,
        bucket: str = HALT_BUCKET,
        name: str = "halt-gate",
    ) -> None:
        if not max_staleness > 0:
            raise ValueError(f"max_staleness: must be > 0 seconds (got {max_staleness!r})")
        interval = max_staleness / 4 if check_interval is None else check_interval
        if not 0 < interval < max_staleness:
            raise ValueError(
                f"check_interval: must be > 0 and below max_staleness {max_staleness:g} s (got {interval!r})"
            )
        self._nats_url = nats_url
        self._bus = bus
        self._owns_bus = bus is None
        self._name = name
        self.max_staleness = float(max_staleness)
        self.check_interval = float(interval)
        self._rpc_timeout = max(0.2, min(1.0, self.max_staleness / 2))
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._current: _Watch | None = None
        self._building: _Watch | None = None
        self._generation = 0
        self._blocks: dict[str, GateDecision] = {}
        self._fresh_at = -1.0
        self._started_at = time.monotonic()
        self._problem: str | None = None
        self._fund_keys: dict[str, str] = {}
        self._strategy_keys: dict[str, str] = {}
        self._listeners: list[GateListener] = []
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, wait: float | None = 5.0) -> bool:
        """Start watching; wait up to ``wait`` seconds for a complete view. Returns whether it is fresh."""
        if self._task is None:
            self._stopping.clear()
            self._started_at = time.monotonic()
            self._task = asyncio.create_task(self._run(), name=f"{self._name}-watch")
        if wait:
            with contextlib.suppress(TimeoutError):
                await self.wait_for(lambda gate: gate.fresh, timeout=wait)
        return self.fresh

    async def stop(self) -> None:
        """Stop watching (the gate then fails closed) and close the connection it opened itself."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for watch in (self._building, self._current):
            if watch is not None:
                await self._drop(watch)
        self._building = None
        self._fresh_at = -1.0
        if self._owns_bus and self._bus is not None:
            await self._bus.close()
            self._bus = None

    async def __aenter__(self) -> HaltGate:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ answers

    @property
    def age(self) -> float:
        """Seconds since the view was last confirmed current (since start when it never was)."""
        since = self._fresh_at if self._fresh_at >= 0 else self._started_at
        return time.monotonic() - since

    @property
    def fresh(self) -> bool:
        return self._fresh_at >= 0 and time.monotonic() - self._fresh_at <= self.max_staleness

    def halts(self) -> dict[str, HaltRequested | None]:
        """The halts in force by bucket key (None for an entry that is not a readable halt)."""
        return {key: block.halt for key, block in self._blocks.items()}

    def _stale(self) -> GateDecision | None:
        now = time.monotonic()
        if self._fresh_at >= 0 and now - self._fresh_at <= self.max_staleness:
            return None
        since = self._fresh_at if self._fresh_at >= 0 else self._started_at
        reason = (
            f"halt state stale: no contact with NATS for {now - since:.1f} s (bound {self.max_staleness:g} s)"
        )
        if self._problem:
            reason += f"; {self._problem}"
        return GateDecision(False, reason, None, None, True)

    def _fund_key(self, fund_id: str) -> str:
        key = self._fund_keys.get(fund_id)
        if key is None:
            if not isinstance(fund_id, str) or not fund_id:
                raise ValueError(f"fund_id: must be a non-empty string, got {fund_id!r}")
            key = self._fund_keys[fund_id] = halt_key("fund", fund_id)
        return key

    def _strategy_key(self, strategy_id: str) -> str:
        key = self._strategy_keys.get(strategy_id)
        if key is None:
            if not isinstance(strategy_id, str) or not strategy_id:
                raise ValueError(f"strategy_id: must be a non-empty string or None, got {strategy_id!r}")
            key = self._strategy_keys[strategy_id] = halt_key("strategy", strategy_id)
        return key

    def _keys(self, fund_id: str, strategy_id: str | None) -> tuple[str, ...]:
        fund = self._fund_key(fund_id)
        if strategy_id is None:
            return ("firm", fund)
        return ("firm", fund, self._strategy_key(strategy_id))

    def allows(self, fund_id: str, strategy_id: str | None = None) -> GateDecision:
        """May a NEW order of this fund (and strategy) go? Refused under any halt in force, or a stale view.

        Of several halts in force the broadest answers (firm, then fund, then strategy).
        """
        keys = self._keys(fund_id, strategy_id)
        stale = self._stale()
        if stale is not None:
            return stale
        blocks = self._blocks
        if blocks:
            for key in keys:
                block = blocks.get(key)
                if block is not None:
                    return block
        return _ALLOWED

    def allows_cancel(self, fund_id: str | None = None, strategy_id: str | None = None) -> GateDecision:
        """Cancels always pass: under every mode, and even with a stale view."""
        return _CANCEL

    def allows_risk_reducing(self, fund_id: str, strategy_id: str | None = None) -> GateDecision:
        """May a risk-reducing order go? Yes, unless a flatten is in force or the view is stale."""
        keys = self._keys(fund_id, strategy_id)
        stale = self._stale()
        if stale is not None:
            return stale
        in_force = [block for key in keys if (block := self._blocks.get(key)) is not None]
        for block in in_force:
            if block.halt is None or block.halt.mode == "flatten":
                return GateDecision(
                    False, f"{block.reason} (a flatten closes the positions itself)", block.halt, block.scope
                )
        if in_force:
            first = in_force[0]
            return GateDecision(
                True, f"risk-reducing orders pass under {first.reason}", first.halt, first.scope
            )
        return _ALLOWED

    # ------------------------------------------------------------------ change notification

    def add_listener(self, listener: GateListener) -> Callable[[], None]:
        """Call ``listener(key, halt_or_None)`` on every change of the view; returns a remover."""
        self._listeners.append(listener)
        return functools.partial(self._remove_listener, listener)

    def _remove_listener(self, listener: GateListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def wait_for(self, predicate: Callable[[HaltGate], bool], timeout: float) -> None:  # noqa: ASYNC109
        """Return once ``predicate(gate)`` holds (checked on every change); TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"halt gate: condition not met within {timeout:g} s")
            self._changed.clear()
            # Staleness changes with time alone, so never sleep longer than a check interval.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, self.check_interval))

    def _notify(self, key: str, halt: HaltRequested | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(key, halt)
            except Exception:
                log.exception("halt gate listener failed on %s", key)

    # ------------------------------------------------------------------ the watch

    def _on_message(self, watch: _Watch, msg: Msg) -> None:
        if watch.broken is not None:
            return
        try:
            meta = msg.metadata
        except Exception as exc:
            self._break(watch, f"a message without JetStream metadata ({exc!r})")
            return
        seq = meta.sequence.consumer
        if seq <= watch.applied:
            return  # a redelivery of something already applied
        if seq != watch.applied + 1:
            self._break(watch, f"missed updates (consumer sequence {watch.applied} then {seq})")
            return
        watch.applied = seq
        key = msg.subject[len(self._prefix) :]
        revision = meta.sequence.stream
        previous = watch.entries.get(key)
        if previous is None or revision > previous.revision:
            entry = self._entry(key, revision, msg)
            watch.entries[key] = entry
            if watch is self._current:
                self._apply(key, entry)
        if watch.target is not None and watch.applied >= watch.target[0]:
            self._confirm(watch, watch.target[1])

    def _entry(self, key: str, revision: int, msg: Msg) -> _Entry:
        headers = msg.headers or {}
        op = headers.get(_KV_OP)
        if op is None and headers.get(_MARKER_REASON) in ("MaxAge", "Purge", "Remove"):
            op = "PURGE"
        if op in _REMOVED:
            return _Entry(revision, None, None)
        try:
            halt: HaltRequested | None = decode(msg.data, HaltRequested)
        except SchemaError as exc:
            log.error("halt gate: entry %s is not a HaltRequested (%s); treating it as a halt", key, exc)
            halt = None
        return _Entry(revision, halt, _block(key, halt, msg.data))

    def _apply(self, key: str, entry: _Entry) -> None:
        if entry.block is None:
            if self._blocks.pop(key, None) is None:
                return
        else:
            self._blocks[key] = entry.block
        self._notify(key, entry.halt)
        self._changed.set()

    def _confirm(self, watch: _Watch, asked_at: float) -> None:
        watch.target = None
        if watch is self._building:
            self._swap(watch)
        if watch is self._current:
            self._fresh_at = max(self._fresh_at, asked_at)
            self._problem = None
            self._changed.set()

    def _swap(self, watch: _Watch) -> None:
        """A rebuilt watch is complete: it becomes the view, and listeners hear what differs."""
        old, self._current, self._building = self._current, watch, None
        blocks = {key: e.block for key, e in watch.entries.items() if e.block is not None}
        before = self._blocks
        self._blocks = blocks
        for key in before.keys() | blocks.keys():
            was, now = before.get(key), blocks.get(key)
            if was is not now and (was is None or now is None or was.halt != now.halt):
                self._notify(key, now.halt if now is not None else None)
        if old is not None:
            self._fresh_at = -1.0  # the new view's own confirmation sets it
            asyncio.get_running_loop().create_task(self._drop(old))
        self._changed.set()

    def _break(self, watch: _Watch, why: str) -> None:
        if watch.broken is None:
            watch.broken = why
            self._problem = f"watch lost: {why}"
            log.warning("halt gate: %s; rebuilding the view", why)
            self._wake.set()

    async def _open(self, bus: Bus) -> _Watch:
        self._generation += 1
        watch = _Watch(self._generation)
        inbox = bus.nc.new_inbox()

        async def deliver(msg: Msg) -> None:
            self._on_message(watch, msg)

        watch.sub = await bus.nc.subscribe(inbox, cb=deliver)
        config = ConsumerConfig(
            deliver_subject=inbox,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            filter_subject=f"{self._prefix}>",
            max_deliver=1,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=max(30.0, 10 * self.max_staleness),
            description=f"{self._name} view of the halts in force",
        )
        try:
            info = await bus.js.add_consumer(self._stream, config=config, timeout=self._rpc_timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await watch.sub.unsubscribe()
            raise
        watch.consumer = info.name
        return watch

    async def _drop(self, watch: _Watch) -> None:
        watch.broken = watch.broken or "replaced"
        if watch.sub is not None:
            with contextlib.suppress(Exception):
                await watch.sub.unsubscribe()
        bus = self._bus
        if watch.consumer is not None and bus is not None and bus.is_connected:
            with contextlib.suppress(Exception):
                await bus.js.delete_consumer(self._stream, watch.consumer)

    async def _check(self, bus: Bus, watch: _Watch) -> None:
        assert watch.consumer is not None
        asked_at = time.monotonic()
        try:
            info = await bus.js.consumer_info(self._stream, watch.consumer, timeout=self._rpc_timeout)
        except NotFoundError:
            self._break(watch, f"consumer {watch.consumer} of {self._stream} no longer exists")
            return
        if info.num_pending or info.delivered is None:
            return  # not everything delivered yet; ask again next time
        if watch.applied >= info.delivered.consumer_seq:
            self._confirm(watch, asked_at)
        else:
            watch.target = (info.delivered.consumer_seq, asked_at)

    async def _step(self, bus: Bus) -> None:
        if (self._current is None or self._current.broken is not None) and (
            self._building is None or self._building.broken is not None
        ):
            if self._building is not None:
                await self._drop(self._building)
            try:
                self._building = await self._open(bus)
            except NotFoundError:
                self._building = None
                self._problem = (
                    f"KV bucket {self._stream.removeprefix('KV_')!r} not found (is mts1b-halt running?)"
                )
                return
            if self._current is None:
                # The first view becomes current at once (with what it already received) and
                # fails closed until confirmed.
                self._swap(self._building)
        for watch in (self._current, self._building):
            if watch is not None and watch.broken is None:
                await self._check(bus, watch)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._bus is None:
                    url = self._nats_url or load_client_settings().nats_url
                    self._bus = await connect_bus(url, name=self._name, connect_deadline=None)
                if self._bus.is_connected:
                    await self._step(self._bus)
                else:
                    self._problem = "NATS connection lost; reconnecting"
            except asyncio.CancelledError:
                raise
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                self._problem = f"last error: {exc!r}"
                log.debug("halt gate: %r", exc)
            except Exception as exc:
                self._problem = f"last error: {exc!r}"
                log.exception("halt gate: unexpected failure; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.check_interval)
