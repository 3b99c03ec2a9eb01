"""Seedable synthetic market data: trades with aggressor side, quotes, 1-minute and daily bars, news.

:class:`MarketGenerator` produces the market one window at a time (``advance(seconds)``), carrying
prices and partial bars from window to window. Within a window everything is drawn at once with
numpy: trade counts per phase segment and symbol (Poisson), trade times, aggressor sides, sizes,
and a log-price path per symbol (drift + diffusion over the time since the symbol's previous
trade + impact in the aggressor's direction). Bars are aggregated with polars.

The same scenario, seed, start, universe and sequence of ``advance`` calls give the same
output. Ids (trade, quote and news ids, used as Nats-Msg-Id) start with ``run_id``, so a
restarted replay never collides with the previous run inside the stream's duplicate window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from mts1b_operations.core import subjects

from .scenarios import Scenario

__all__ = [
    "BAR_COLUMNS",
    "DEFAULT_PRICES",
    "DEFAULT_SYMBOLS",
    "NEWS_COLUMNS",
    "QUOTE_COLUMNS",
    "TRADE_COLUMNS",
    "TRADING_SECONDS_PER_YEAR",
    "MarketBatch",
    "MarketGenerator",
]

TRADING_SECONDS_PER_YEAR: Final = 252 * 6.5 * 3600
DEFAULT_SYMBOLS: Final = ("AAPL", "MSFT", "NVDA", "SPY", "TSLA")
DEFAULT_PRICES: Final = {"AAPL": 190.0, "MSFT": 410.0, "NVDA": 120.0, "SPY": 520.0, "TSLA": 240.0}
_FALLBACK_PRICE: Final = 100.0
_US: Final = 1_000_000
_MINUTE_US: Final = 60 * _US
_DAY_US: Final = 86_400 * _US
_UTC_US: Final = pl.Datetime("us", "UTC")

TRADE_COLUMNS: Final = ("symbol", "ts", "price", "size", "side", "trade_id")
QUOTE_COLUMNS: Final = ("symbol", "ts", "bid", "ask", "bid_size", "ask_size", "quote_id")
NEWS_COLUMNS: Final = ("news_id", "symbol", "ts", "headline", "source", "sentiment")
BAR_COLUMNS: Final = (
    "symbol", "interval", "start", "end", "open", "high", "low", "close", "volume", "vwap", "trade_count",
)  # fmt: skip

_NEGATIVE: Final = (
    "{s} plunges as sellers overwhelm the book",
    "Trading halted briefly in {s} after a sharp drop",
    "{s}: margin calls reported as the slide deepens",
    "Analysts cut {s} targets amid market turmoil",
    "{s} breaks key support; volatility spikes",
)
_NEUTRAL: Final = (
    "{s} trades in a narrow range ahead of data",
    "{s} schedules its investor day",
    "Options activity in {s} in line with average",
    "{s} files its quarterly report",
)
_POSITIVE: Final = (
    "{s} rebounds as buyers return",
    "{s} beats estimates; shares edge higher",
    "Dip buyers step into {s}",
)


def _to_us(when: datetime) -> int:
    if when.utcoffset() is None:
        raise ValueError(f"start: {when!r} must be timezone-aware")
    return round(when.timestamp() * _US)


def _datetimes(us: npt.NDArray[np.int64]) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(_UTC_US)


def _ids(prefix: str, first: int, n: int) -> pl.Series:
    return pl.Series([f"{prefix}{first + i}" for i in range(n)], dtype=pl.String)


@dataclass(frozen=True)
class MarketBatch:
    """One window of the market; every frame is sorted by time."""

    run_id: str
    start: datetime
    end: datetime
    trades: pl.DataFrame
    quotes: pl.DataFrame
    news: pl.DataFrame
    bars: pl.DataFrame
    """Bars completed within the window, 1-minute and daily (column ``interval``)."""

    def __len__(self) -> int:
        return self.trades.height + self.quotes.height + self.news.height + self.bars.height


class _BarAccumulator:
    """Partial OHLCV bars per (symbol, bucket start); a bar is emitted once its bucket has ended."""

    _SCHEMA: Final = {
        "symbol": pl.String,
        "start": pl.Int64,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Float64,
        "pv": pl.Float64,
        "count": pl.Int64,
        "first": pl.Int64,
        "last": pl.Int64,
    }

    def __init__(self, interval: subjects.BarInterval, length_us: int) -> None:
        self.interval = interval
        self.length_us = length_us
        self._partial = pl.DataFrame(schema=self._SCHEMA)

    def add(self, rows: pl.DataFrame) -> None:
        """Merge rows (the partial schema, ``start`` already a bucket start) into the open bars."""
        if rows.is_empty():
            return
        self._partial = (
            pl.concat([self._partial, rows.select(list(self._SCHEMA))])
            .group_by("symbol", "start")
            .agg(
                pl.col("open").sort_by("first").first(),
                pl.col("high").max(),
                pl.col("low").min(),
                pl.col("close").sort_by("last").last(),
                pl.col("volume").sum(),
                pl.col("pv").sum(),
                pl.col("count").sum(),
                pl.col("first").min(),
                pl.col("last").max(),
            )
        )

    def close(self, watermark_us: int) -> pl.DataFrame:
        """Remove and return the bars whose bucket ends at or before ``watermark_us``."""
        ended = pl.col("start") + self.length_us <= watermark_us
        done = self._partial.filter(ended).sort("start", "symbol")
        self._partial = self._partial.filter(~ended)
        return done

    def frame(self, done: pl.DataFrame) -> pl.DataFrame:
        """Closed partial rows as bars of :data:`BAR_COLUMNS`."""
        return done.select(
            "symbol",
            pl.lit(self.interval).alias("interval"),
            pl.col("start").cast(_UTC_US),
            (pl.col("start") + self.length_us).cast(_UTC_US).alias("end"),
            "open",
            "high",
            "low",
            "close",
            "volume",
            (pl.col("pv") / pl.col("volume")).alias("vwap"),
            pl.col("count").alias("trade_count"),
        )


def _bucket_rows(trades: pl.DataFrame, length_us: int) -> pl.DataFrame:
    ts = pl.col("ts").cast(pl.Int64)
    return trades.select(
        "symbol",
        (ts - ts % length_us).alias("start"),
        pl.col("price").alias("open"),
        pl.col("price").alias("high"),
        pl.col("price").alias("low"),
        pl.col("price").alias("close"),
        pl.col("size").alias("volume"),
        (pl.col("price") * pl.col("size")).alias("pv"),
        pl.lit(1, dtype=pl.Int64).alias("count"),
        ts.alias("first"),
        ts.alias("last"),
    )


def _rollup_rows(bars: pl.DataFrame, length_us: int) -> pl.DataFrame:
    start = pl.col("start").cast(pl.Int64)
    return bars.select(
        "symbol",
        (start - start % length_us).alias("start"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        (pl.col("vwap") * pl.col("volume")).alias("pv"),
        pl.col("trade_count").cast(pl.Int64).alias("count"),
        start.alias("first"),
        start.alias("last"),
    )


class MarketGenerator:
    """The synthetic market of one scenario for a universe of symbols."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int,
        start: datetime,
        symbols: Sequence[str] = DEFAULT_SYMBOLS,
        prices: Mapping[str, float] | None = None,
        run_id: str | None = None,
        quote_interval: float = 1.0,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        if isinstance(symbols, str) or not symbols:
            raise ValueError("symbols: at least one symbol is required")
        for symbol in symbols:
            subjects.token_of("symbols", symbol)
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols: listed twice in {list(symbols)}")
        if not quote_interval > 0:
            raise ValueError(f"quote_interval: must be > 0 seconds, got {quote_interval!r}")
        prices = {**DEFAULT_PRICES, **(prices or {})}
        for symbol in symbols:
            if not prices.get(symbol, _FALLBACK_PRICE) > 0:
                raise ValueError(f"prices: {symbol} must have a positive price")
        self.scenario = scenario
        self.seed = seed
        self.start = start.astimezone(UTC)
        self.symbols = tuple(symbols)
        self.run_id = run_id or f"sim{seed}"
        self.quote_interval = float(quote_interval)
        self._start_us = _to_us(start)
        self._rng = np.random.default_rng(seed)
        self._t = 0.0
        self._initial = np.array([prices.get(s, _FALLBACK_PRICE) for s in self.symbols])
        self._log_price = np.log(self._initial)
        self._last_t = np.zeros(len(self.symbols))
        self._seq = {"T": 0, "Q": 0, "N": 0}
        self._minute = _BarAccumulator("1m", _MINUTE_US)
        self._day = _BarAccumulator("1d", _DAY_US)
        phases = scenario.phases
        self._vol = np.array([p.vol / math.sqrt(TRADING_SECONDS_PER_YEAR) for p in phases])
        self._drift = np.array([p.drift for p in phases])
        self._buy = np.array([p.buy_share for p in phases])
        self._size = np.array([p.size_scale for p in phases])
        self._impact = np.array([p.impact_bps * 1e-4 for p in phases])
        self._spread = np.array([p.spread_bps * 1e-4 for p in phases])

    # ------------------------------------------------------------------ state

    @property
    def elapsed(self) -> float:
        """Scenario seconds generated so far."""
        return self._t

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._t)

    def prices(self) -> dict[str, float]:
        """Each symbol's last traded price."""
        return {s: float(p) for s, p in zip(self.symbols, np.exp(self._log_price), strict=True)}

    def _timestamps(self, t: npt.NDArray[np.float64]) -> pl.Series:
        return _datetimes(self._start_us + np.round(t * _US).astype(np.int64))

    def _next_ids(self, kind: str, n: int) -> pl.Series:
        first = self._seq[kind]
        self._seq[kind] += n
        return _ids(f"{self.run_id}-{kind}", first, n)

    def _segments(self, t0: float, t1: float) -> list[tuple[float, float, int]]:
        """[a, b) pieces of the window, each inside one phase, with that phase's index."""
        cycle = self.scenario.cycle
        bounds = self.scenario.boundaries
        pieces: list[tuple[float, float, int]] = []
        a = t0
        while a < t1:
            base = math.floor(a / cycle) * cycle
            index = self.scenario.phase_index(a)
            b = min(t1, base + bounds[index])
            if b <= a:  # float rounding at a boundary: step into the next phase
                b = min(t1, math.nextafter(a, math.inf))
            pieces.append((a, b, index))
            a = b
        return pieces

    # ------------------------------------------------------------------ generation

    def advance(self, seconds: float) -> MarketBatch:
        """Generate the next ``seconds`` of market time."""
        if not seconds > 0:
            raise ValueError(f"seconds: must be > 0, got {seconds!r}")
        t0, t1 = self._t, self._t + float(seconds)
        segments = self._segments(t0, t1)
        start_prices = np.exp(self._log_price)
        trades, by_symbol = self._trades(segments)
        quotes = self._quotes(t0, t1, by_symbol, start_prices)
        news = self._news(segments)
        self._t = t1
        self._minute.add(_bucket_rows(trades, _MINUTE_US))
        watermark = self._start_us + round(t1 * _US)
        minute_done = self._minute.close(watermark)
        minute_bars = self._minute.frame(minute_done)
        self._day.add(_rollup_rows(minute_bars, _DAY_US))
        day_bars = self._day.frame(self._day.close(watermark))
        bars = pl.concat([minute_bars, day_bars]).select(BAR_COLUMNS)
        return MarketBatch(
            run_id=self.run_id,
            start=self.start + timedelta(seconds=t0),
            end=self.start + timedelta(seconds=t1),
            trades=trades,
            quotes=quotes,
            news=news,
            bars=bars,
        )

    def _trades(
        self, segments: list[tuple[float, float, int]]
    ) -> tuple[pl.DataFrame, list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]]:
        rng = self._rng
        n_sym = len(self.symbols)
        sym_parts, t_parts, phase_parts = [], [], []
        for a, b, index in segments:
            counts = rng.poisson(self.scenario.phases[index].trade_rate * (b - a), size=n_sym)
            total = int(counts.sum())
            sym_parts.append(np.repeat(np.arange(n_sym), counts))
            t_parts.append(rng.uniform(a, b, size=total))
            phase_parts.append(np.full(total, index))
        sym = np.concatenate(sym_parts)
        t = np.concatenate(t_parts)
        phase = np.concatenate(phase_parts)
        order = np.lexsort((t, sym))
        sym, t, phase = sym[order], t[order], phase[order]
        n = t.size
        side = np.where(rng.random(n) < self._buy[phase], 1, -1).astype(np.int8)
        size = np.maximum(1.0, np.round(np.exp(rng.normal(math.log(100.0), 0.8, n)) * self._size[phase]))
        z = rng.standard_normal(n)

        group_start = np.flatnonzero(np.r_[True, sym[1:] != sym[:-1]]) if n else np.empty(0, np.int64)
        group_end = np.r_[group_start[1:], n] - 1 if n else np.empty(0, np.int64)
        group_sym = sym[group_start]
        prev_t = np.empty(n)
        if n:
            prev_t[1:] = t[:-1]
            prev_t[group_start] = self._last_t[group_sym]
        dt = np.maximum(t - prev_t, 0.0)
        step = self._drift[phase] * dt + self._vol[phase] * np.sqrt(dt) * z + self._impact[phase] * side
        total_step = np.cumsum(step)
        base = np.repeat(total_step[group_start] - step[group_start], np.diff(np.r_[group_start, n]))
        log_price = self._log_price[sym] + total_step - base
        if n:
            self._log_price[group_sym] = log_price[group_end]
            self._last_t[group_sym] = t[group_end]
        price = np.round(np.exp(log_price), 4)

        by_symbol = []
        for i in range(n_sym):
            mask = sym == i
            by_symbol.append((t[mask], price[mask]))

        when = np.lexsort((sym, t))
        frame = pl.DataFrame(
            {
                "symbol": pl.Series([self.symbols[i] for i in sym[when]], dtype=pl.String),
                "ts": self._timestamps(t[when]),
                "price": price[when],
                "size": size[when],
                "side": side[when],
                "trade_id": self._next_ids("T", n),
            }
        )
        return frame, by_symbol

    def _quotes(
        self,
        t0: float,
        t1: float,
        by_symbol: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
        start_prices: npt.NDArray[np.float64],
    ) -> pl.DataFrame:
        rng = self._rng
        step = self.quote_interval
        grid = np.arange(math.ceil(t0 / step), math.ceil(t1 / step)) * step
        grid = grid[(grid >= t0) & (grid < t1)]
        spread = self._spread[[self.scenario.phase_index(g) for g in grid]] if grid.size else np.empty(0)
        symbols, times, mids, spreads = [], [], [], []
        for i, (times_i, prices_i) in enumerate(by_symbol):
            last = np.searchsorted(times_i, grid, side="right") - 1
            mid = np.where(
                last >= 0, prices_i[np.maximum(last, 0)] if prices_i.size else 0.0, start_prices[i]
            )
            symbols.append(np.full(grid.size, i))
            times.append(grid)
            mids.append(mid)
            spreads.append(spread)
        sym = np.concatenate(symbols)
        t = np.concatenate(times)
        mid = np.concatenate(mids)
        half = np.concatenate(spreads) / 2
        order = np.lexsort((sym, t))
        sym, t, mid, half = sym[order], t[order], mid[order], half[order]
        n = t.size
        bid_size = rng.integers(1, 20, size=n) * 100.0
        ask_size = rng.integers(1, 20, size=n) * 100.0
        return pl.DataFrame(
            {
                "symbol": pl.Series([self.symbols[i] for i in sym], dtype=pl.String),
                "ts": self._timestamps(t),
                "bid": np.round(mid * (1 - half), 4),
                "ask": np.round(mid * (1 + half), 4),
                "bid_size": bid_size,
                "ask_size": ask_size,
                "quote_id": self._next_ids("Q", n),
            }
        )

    def _news(self, segments: list[tuple[float, float, int]]) -> pl.DataFrame:
        rng = self._rng
        n_sym = len(self.symbols)
        sym_parts, t_parts, mood_parts = [], [], []
        for a, b, index in segments:
            phase = self.scenario.phases[index]
            counts = rng.poisson(phase.news_rate * (b - a), size=n_sym)
            total = int(counts.sum())
            sym_parts.append(np.repeat(np.arange(n_sym), counts))
            t_parts.append(rng.uniform(a, b, size=total))
            mood_parts.append(np.full(total, phase.sentiment))
        sym = np.concatenate(sym_parts)
        t = np.concatenate(t_parts)
        mood = np.concatenate(mood_parts)
        order = np.lexsort((sym, t))
        sym, t, mood = sym[order], t[order], mood[order]
        n = t.size
        sentiment = np.clip(rng.normal(mood, 0.15), -1.0, 1.0).round(3)
        pick = rng.random(n)
        headlines = []
        for i, s in enumerate(sentiment):
            pool = _NEGATIVE if s < -0.25 else _POSITIVE if s > 0.25 else _NEUTRAL
            headlines.append(pool[int(pick[i] * len(pool))].format(s=self.symbols[sym[i]]))
        return pl.DataFrame(
            {
                "news_id": self._next_ids("N", n),
                "symbol": pl.Series([self.symbols[i] for i in sym], dtype=pl.String),
                "ts": self._timestamps(t),
                "headline": pl.Series(headlines, dtype=pl.String),
                "source": pl.Series(["mts-replay"] * n, dtype=pl.String),
                "sentiment": sentiment,
            }
        )

    def daily_history(self, days: int = 60) -> pl.DataFrame:
        """Daily bars for the ``days`` weekdays before the start day, closing at the start prices.

        Drawn from a stream of its own, so asking for history does not change the live market.
        """
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError(f"days: must be a non-negative integer, got {days!r}")
        rng = np.random.default_rng([self.seed, 1])
        sessions: list[datetime] = []
        day = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        while len(sessions) < days:
            day -= timedelta(days=1)
            if day.weekday() < 5:
                sessions.append(day)
        sessions.reverse()
        daily_vol = self.scenario.phases[0].vol / math.sqrt(252)
        rate = self.scenario.phases[0].trade_rate * 6.5 * 3600
        frames = []
        for i, symbol in enumerate(self.symbols):
            returns = rng.normal(0.0, daily_vol, days)
            log_close = math.log(self._initial[i]) + np.cumsum(returns) - returns.sum()
            close = np.exp(log_close)
            prev = np.r_[close[0] * math.exp(-returns[0]) if days else 0.0, close[:-1]]
            open_ = prev * np.exp(rng.normal(0.0, daily_vol * 0.3, days))
            high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, daily_vol * 0.5, days)))
            low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, daily_vol * 0.5, days)))
            count = rng.poisson(rate, days)
            frames.append(
                pl.DataFrame(
                    {
                        "symbol": [symbol] * days,
                        "interval": ["1d"] * days,
                        "start": pl.Series(sessions, dtype=_UTC_US),
                        "end": pl.Series([s + timedelta(days=1) for s in sessions], dtype=_UTC_US),
                        "open": open_.round(4),
                        "high": high.round(4),
                        "low": low.round(4),
                        "close": close.round(4),
                        "volume": (count * 130.0).astype(np.float64),
                        "vwap": ((open_ + high + low + close) / 4).round(4),
                        "trade_count": count.astype(np.int64),
                    },
                    schema_overrides={"symbol": pl.String, "interval": pl.String},
                )
            )
        if not frames or days == 0:
            return pl.DataFrame(
                schema={
                    "symbol": pl.String, "interval": pl.String, "start": _UTC_US, "end": _UTC_US,
                    "open": pl.Float64, "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
                    "volume": pl.Float64, "vwap": pl.Float64, "trade_count": pl.Int64,
                }
            )  # fmt: skip
        return pl.concat(frames).sort("start", "symbol")
