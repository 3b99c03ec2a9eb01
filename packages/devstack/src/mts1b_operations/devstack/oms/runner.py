"""The paper OMS process: market data in, orders from the generator through the halt gate, events out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from mts1b_operations.client import HALT_BUCKET, HaltGate
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import HaltRequested, Quote, SchemaError, StrategySignal, Trade, decode

from .._sim_runtime import sleep_or_stop
from .book import DEFAULT_CAPITAL, BookEvent, PaperBook
from .commands import CommandResponder
from .generator import OrderGenerator, seed_options, strategies_of
from .publisher import OmsPublisher

__all__ = ["DEFAULT_RESPONDER", "OmsOptions", "PaperOms"]

log = logging.getLogger(__name__)

DEFAULT_RESPONDER = "paper-oms"
# The halt service creates the bucket with this configuration; creating it the same way here
# lets the gate read an empty bucket (no halts) when the OMS starts first.
_BUCKET_CONFIG = {"history": 1, "description": "halts in force, one key per scope (mts1b-halt)"}
_QUOTES = f"{subjects.PREFIX}.marketdata.quote.*"
_TRADES = f"{subjects.PREFIX}.marketdata.trade.*"


@dataclass(frozen=True, kw_only=True)
class OmsOptions:
    responder: str = DEFAULT_RESPONDER
    seed: int = 0
    tick_interval: float = 1.0
    snapshot_interval: float = 2.0
    capital: float = DEFAULT_CAPITAL
    max_position: int = 500
    order_ttl: float = 10.0
    gate_staleness: float = 2.0

    def __post_init__(self) -> None:
        for name in ("tick_interval", "snapshot_interval", "capital", "order_ttl", "gate_staleness"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)!r}")
        if not self.responder.strip():
            raise ValueError("responder: a non-empty id is required")


class PaperOms:
    """Trades the registry's paper funds on the market it hears; stops when ``stop`` is set."""

    def __init__(self, bus: Bus, funds: Iterable[Fund], options: OmsOptions | None = None) -> None:
        self.options = options or OmsOptions()
        opts = self.options
        paper = [fund for fund in funds if fund.is_paper]
        instance = f"{opts.responder}-{uuid.uuid4().hex[:8]}"
        self._bus = bus
        self.book = PaperBook(paper, capital=opts.capital, id_prefix=instance)
        self.generator = OrderGenerator(
            strategies_of(paper, max_position=opts.max_position), seed=opts.seed, order_ttl=opts.order_ttl
        )
        self.publisher = OmsPublisher(bus, instance=instance)
        self.gate = HaltGate(bus=bus, max_staleness=opts.gate_staleness, name=f"{opts.responder}-gate")
        self.responder = CommandResponder(
            bus, self.book, responder=opts.responder, on_events=self._events, on_change=self._snapshot_now
        )
        self.ready = asyncio.Event()
        self.orders_sent = 0
        self.orders_refused = 0
        self._signals: list[StrategySignal] = []
        self._optioned: set[str] = set()
        self._subs: list[Subscription] = []

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        opts = self.options
        await self._bus.ensure_streams()
        await self._bus.kv(HALT_BUCKET, **_BUCKET_CONFIG)
        fresh = await self.gate.start(wait=5.0)
        self.gate.add_listener(self._on_halt)
        self.publisher.start()
        try:
            nc = self._bus.nc
            self._subs = [
                await nc.subscribe(_QUOTES, cb=self._on_quote),
                await nc.subscribe(_TRADES, cb=self._on_trade),
            ]
            await self.responder.start()
            strategies = ", ".join(
                f"{s.strategy_id} ({s.style}, {s.fund_id})" for s in self.generator.strategies
            )
            log.info(
                "paper OMS ready: responder %s, paper funds %s, strategies %s; halt gate %s",
                opts.responder, ", ".join(self.book.fund_ids), strategies or "none",
                "fresh" if fresh else f"not fresh yet ({self.gate.age:.1f} s)",
            )  # fmt: skip
            self.ready.set()
            loop = asyncio.get_running_loop()
            next_tick = next_snapshot = loop.time()
            while not await sleep_or_stop(stop, next_tick - loop.time()):
                next_tick += opts.tick_interval
                now = datetime.now(UTC)
                self.step(now)
                if loop.time() >= next_snapshot:
                    next_snapshot += opts.snapshot_interval
                    self.publisher.snapshot(self.book, now, self._signals)
                if next_tick < loop.time():  # fell behind: do not try to catch up tick by tick
                    next_tick = loop.time()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        self._subs.clear()
        await self.responder.stop()
        drained = await self.publisher.drain(timeout=10.0)
        await self.gate.stop()
        log.info(
            "paper OMS drained (%s): %d orders sent, %d refused, %d messages published",
            "complete" if drained else "incomplete", self.orders_sent, self.orders_refused,
            self.publisher.published,
        )  # fmt: skip

    # ------------------------------------------------------------------ trading

    def step(self, now: datetime) -> None:
        """One tick of the generator: expire resting orders, send new ones through the gate."""
        if not self._bus.is_connected:
            return
        for fund_id in self.book.fund_ids:
            if fund_id not in self._optioned and self.book.symbols:
                for option in seed_options(self.book, fund_id, now):
                    self.book.add_option(fund_id, option, now)
                self._optioned.add(fund_id)
        plan = self.generator.tick(self.book, now)
        for order_id in plan.expired:
            self._events(self.book.cancel(order_id, now, "expired: the limit order rested too long"))
        for request in plan.orders:
            decision = self.gate.allows(request.fund_id, request.strategy_id)
            refused = None if decision.allowed else decision.reason
            self._events(self.book.submit(request, now, refused=refused))
            self.orders_sent += 1
            if refused is not None:
                self.orders_refused += 1
                log.info(
                    "order for %s/%s %s refused: %s",
                    request.fund_id,
                    request.strategy_id,
                    request.symbol,
                    refused,
                )
        self._signals = plan.signals

    def _events(self, events: list[BookEvent]) -> None:
        self.publisher.order_events(events)

    def _snapshot_now(self) -> None:
        self.publisher.snapshot(self.book, datetime.now(UTC), ())

    def _on_halt(self, key: str, halt: HaltRequested | None) -> None:
        # Fund and firm halts come with a cancel_all / flatten command from the halt service;
        # a strategy halt does not (commands are scoped by fund), so the OMS acts on it itself.
        if halt is None or halt.severity != "STRATEGY_HALT" or halt.strategy_id not in self.book.strategies:
            return
        now = datetime.now(UTC)
        reason = f"halt {halt.halt_id} ({halt.mode}) on {key}: {halt.reason}"
        if halt.mode == "cancel_open":
            events = self.book.cancel_open(now, reason, strategy_id=halt.strategy_id)
        elif halt.mode == "flatten":
            events = self.book.flatten(now, reason, strategy_id=halt.strategy_id).events
        else:
            return
        log.info("%s: %d order event(s)", reason, len(events))
        self._events(events)
        self._snapshot_now()

    # ------------------------------------------------------------------ market data

    async def _on_quote(self, msg: Msg) -> None:
        try:
            quote = decode(msg.data, Quote)
        except SchemaError as exc:
            log.debug("ignoring a quote on %s: %s", msg.subject, exc)
            return
        self._events(self.book.on_quote(quote.symbol, quote.bid, quote.ask, datetime.now(UTC)))
        mark = self.book.mark(quote.symbol)
        if mark is not None and mark.mid:
            self.generator.observe(quote.symbol, mark.mid)

    async def _on_trade(self, msg: Msg) -> None:
        try:
            trade = decode(msg.data, Trade)
        except SchemaError as exc:
            log.debug("ignoring a trade on %s: %s", msg.subject, exc)
            return
        mark = self.book.mark(trade.symbol)
        quoted = mark is not None and mark.bid is not None
        self._events(self.book.on_trade(trade.symbol, trade.price, datetime.now(UTC)))
        if not quoted:  # a file replay has trades only: they are the prices the strategies see
            self.generator.observe(trade.symbol, trade.price)
