"""The replay loops: a scenario played in (scaled) real time, or a file of trades played once."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mts1b_operations.core.bus import Bus, BusError

from .._sim_runtime import sleep_or_stop
from .file_source import read_trades
from .generator import DEFAULT_SYMBOLS, MarketGenerator
from .publisher import MarketPublisher, bar_messages, trade_messages
from .scenarios import Scenario

__all__ = ["ReplayStats", "SyntheticOptions", "new_run_id", "run_file", "run_synthetic"]

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A prefix for this run's message ids, so a restarted replay is not taken for a retry."""
    return f"r{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, kw_only=True)
class SyntheticOptions:
    scenario: Scenario
    seed: int = 0
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    speed: float = 1.0
    """Market seconds per wall-clock second; above 1 the timestamps run ahead of the clock."""
    rate: float | None = None
    """At most this many messages per second (None: no cap)."""
    history_days: int = 60
    chunk: float = 1.0
    """Market seconds generated and published at a time."""

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed: must be > 0, got {self.speed!r}")
        if not self.chunk > 0:
            raise ValueError(f"chunk: must be > 0 seconds, got {self.chunk!r}")
        if self.history_days < 0:
            raise ValueError(f"history_days: must be >= 0, got {self.history_days!r}")


@dataclass
class ReplayStats:
    published: int = 0
    dropped: int = 0
    batches: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


async def run_synthetic(
    bus: Bus,
    options: SyntheticOptions,
    stop: asyncio.Event,
    *,
    start: datetime | None = None,
    run_id: str | None = None,
) -> ReplayStats:
    """Publish daily history, then the scenario one chunk at a time until ``stop`` is set.

    A chunk is published once the clock has reached its end (at ``speed``), so with speed 1
    no timestamp lies in the future. While NATS is unreachable the chunks are generated and
    dropped (market data goes stale at once), keeping the price path continuous.
    """
    run_id = run_id or new_run_id()
    generator = MarketGenerator(
        options.scenario,
        seed=options.seed,
        start=start or datetime.now(UTC),
        symbols=options.symbols,
        run_id=run_id,
    )
    publisher = MarketPublisher(bus, rate=options.rate)
    stats = ReplayStats(by_kind=publisher.by_kind)
    if options.history_days:
        history = generator.daily_history(options.history_days)
        try:
            await publisher.publish_all(list(bar_messages(history, f"{run_id}-H")))
        except BusError as exc:
            log.warning("the daily history was not published: %s", exc)
    log.info(
        "replay ready: scenario %s (%s), seed %d, symbols %s, speed %gx, rate %s, run %s; "
        "published %d daily bars of history",
        options.scenario.name, options.scenario.description, options.seed, ",".join(options.symbols),
        options.speed, "unlimited" if options.rate is None else f"{options.rate:g}/s", run_id,
        publisher.published,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    began = loop.time()
    offline = False
    while True:
        due = began + (generator.elapsed + options.chunk) / options.speed
        if await sleep_or_stop(stop, due - loop.time()):
            break
        phase = options.scenario.phase_at(generator.elapsed)
        batch = generator.advance(options.chunk)
        stats.batches += 1
        if not bus.is_connected:
            stats.dropped += len(batch)
            if not offline:
                log.warning("NATS unreachable: dropping market data until it is back")
            offline = True
            continue
        if offline:
            log.info("NATS is back: publishing again (dropped %d messages so far)", stats.dropped)
            offline = False
        try:
            await publisher.publish_batch(batch)
        except BusError as exc:
            stats.dropped += len(batch)
            log.warning("a batch was not published: %s", exc)
        if stats.batches % 60 == 0:
            log.info(
                "replay at %s (phase %s): %d messages published %s, %d dropped",
                batch.end.isoformat(timespec="seconds"), phase.name, publisher.published,
                publisher.by_kind, stats.dropped,
            )  # fmt: skip
    stats.published = publisher.published
    return stats


async def run_file(
    bus: Bus,
    path: str | os.PathLike[str],
    stop: asyncio.Event,
    *,
    rate: float | None = None,
    run_id: str | None = None,
) -> ReplayStats:
    """Publish every trade of the file in file order (until ``stop``); TradeFileError on a bad file."""
    trades = read_trades(path)
    run_id = run_id or new_run_id()
    publisher = MarketPublisher(bus, rate=rate)
    messages = list(trade_messages(trades, [f"{run_id}-{i}" for i in range(trades.height)]))
    log.info(
        "replay ready: %d trades from %s, rate %s, run %s",
        len(messages), os.fspath(path), "unlimited" if rate is None else f"{rate:g}/s", run_id,
    )  # fmt: skip
    for message in messages:
        if stop.is_set():
            break
        await publisher.publish(message)
    log.info("replayed %d of %d trades from %s", publisher.published, len(messages), os.fspath(path))
    return ReplayStats(published=publisher.published, by_kind=publisher.by_kind)
