"""Each runner end to end on real NATS and Postgres: input published -> alert on its subject -> resolved.

Parameters are test-sized (small windows, ``for`` = 1) so a few inputs make the point. Every
wait is on the alert subscription, on the consumers having handled what was published, or on a
runner's evaluation count, each with a timeout; none sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio

from mts1b_operations.core import subjects
from mts1b_operations.core.funds import Fund, FundsRegistry
from mts1b_operations.core.schemas import (
    Bar,
    Greeks,
    Nav,
    NewsItem,
    OptionPosition,
    Position,
    StrategyPnl,
    StrategySignal,
    Trade,
)
from mts1b_operations.core.testing import eventually
from mts1b_operations.watchdogs.maths.news_spike import poisson_threshold
from mts1b_operations.watchdogs.maths.theta import bs_theta

from .conftest import AlertWatcher, Harness, utc


def trade(symbol: str, second: float, size: float, side: int | None, price: float = 100.0) -> Trade:
    return Trade(symbol=symbol, ts=utc(second), price=price, size=size, side=side)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ vpin


async def test_vpin_fires_on_one_sided_flow_and_resolves_when_balanced(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(
        ["vpin"], {"vpin": {"bucket_volume": 100, "window": 4, "threshold": 0.8, "clear": 0.5}}
    )
    subject = subjects.marketdata_trade("ACME")

    async def balanced(start: int, buckets: int) -> None:
        # Every bucket holds 50 bought and 50 sold: |V_S - V_B| = 0.
        for i in range(buckets * 2):
            await harness.publish(subject, trade("ACME", start + i, 50, 1 if i % 2 == 0 else -1))

    async def calm() -> None:
        await balanced(0, 4)
        await harness.settled("vpin")

    await alerts.quiet("vpin", after=calm)
    runner = harness.runtime.runner("vpin")  # type: ignore[union-attr]
    assert runner.last_value == 0.0
    assert runner.evaluation_count == 1, "VPIN is evaluated once the fourth bucket completes"

    # All-buy buckets: with 3 of 4 one-sided VPIN is 0.75 (< 0.8), with 4 of 4 it is 1.
    for i in range(8):
        await harness.publish(subject, trade("ACME", 100 + i, 50, 1))
    fired = await alerts.wait("vpin", "firing", "ACME")
    assert fired.value == pytest.approx(1.0)
    assert fired.threshold == 0.8
    assert fired.window_start is not None
    assert fired.window_end is not None
    assert fired.window_start <= fired.window_end == utc(107)
    assert "VPIN of ACME is 1.000" in fired.message
    await harness.settled("vpin")
    assert [a.value for a in alerts.matching("vpin")] == [pytest.approx(1.0)], (
        "no alert at 0.75, no repeat at 1"
    )

    # Balanced again: 0.75, 0.5 stay firing (hysteresis: clear below 0.5), 0.25 resolves.
    await balanced(200, 3)
    resolved = await alerts.wait("vpin", "resolved", "ACME")
    assert resolved.value == pytest.approx(0.25)
    assert resolved.alert_id != fired.alert_id
    assert resolved.alert_id.split("-")[0] == fired.alert_id.split("-")[0], "one episode"
    assert resolved.message.startswith("resolved: ")
    state = await harness.pool.fetchrow(
        "SELECT firing::text AS firing, last_alert_at FROM watchdog_state WHERE name = 'vpin'"
    )
    assert state is not None
    assert state["firing"] == "{}"
    assert state["last_alert_at"] is not None


# ------------------------------------------------------------------------------------ news


def news(symbol: str, second: float, n: int) -> NewsItem:
    return NewsItem(
        news_id=f"{symbol}-{second}-{n}",
        symbol=symbol,
        headline=f"story {n}",
        source="wire",
        published_at=utc(second),
    )


async def test_news_spike_fires_at_the_poisson_threshold_and_resolves_in_the_next_interval(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["news_spike"], {"news_spike": {"bin_seconds": 3600, "prior_rate": 0.5}})
    subject = subjects.news_item("ACME")
    k = poisson_threshold(0.5, 5.0)
    for n in range(k - 1):
        await harness.publish(subject, news("ACME", 10 + n, n))
    await harness.settled("news_spike")
    assert alerts.matching("news") == [], f"{k - 1} stories fired (threshold {k})"
    await harness.publish(subject, news("ACME", 100, k))
    fired = await alerts.wait("news", "firing", "ACME")
    assert (fired.value, fired.threshold) == (k, k)
    assert f"{k} news item(s) on ACME" in fired.message
    assert fired.window_start == utc(0)
    assert fired.window_end == utc(100)
    # A story in the next hour: the spike interval closed, one story is no spike.
    await harness.publish(subject, news("ACME", 3600 + 5, 99))
    resolved = await alerts.wait("news", "resolved", "ACME")
    assert resolved.value == 1.0


# ------------------------------------------------------------------------------------ position


async def test_position_anomaly_fires_on_an_outsized_change_and_resolves_on_a_normal_one(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["position_anomaly"], {"position_anomaly": {"min_history": 5, "window": 20}})
    subject = subjects.portfolio_position("paper-momentum")
    quantity = 0.0

    async def move(change: float, second: int) -> None:
        nonlocal quantity
        quantity += change
        await harness.publish(
            subject,
            Position(
                fund_id="paper-momentum",
                symbol="ACME",
                ts=utc(second),
                quantity=quantity,
                avg_price=10,
                market_price=10,
            ),
        )

    async def normal() -> None:
        for second, change in enumerate([0, 10, 11, 9, 10, 12, 10]):  # the first sets the starting quantity
            await move(change, second)
        await move(0, 7)  # a price-only update: no change to score
        await harness.settled("position_anomaly")

    await alerts.quiet("position", after=normal)
    assert harness.runtime.runner("position_anomaly").evaluation_count == 1  # type: ignore[union-attr]
    await move(500, 8)
    fired = await alerts.wait("position", "firing", "paper-momentum:ACME")
    # 0.6745 (500 - median 10) / MAD of [10, 11, 9, 10, 12, 10] (deviations 0, 1, 1, 0, 2, 0: 0.5).
    assert fired.value == pytest.approx(0.6745 * 490 / 0.5)
    assert fired.threshold == 3.5
    await move(10, 9)
    resolved = await alerts.wait("position", "resolved", "paper-momentum:ACME")
    assert resolved.value == pytest.approx(0.0)


async def test_position_anomaly_keeps_two_strategies_holding_one_symbol_apart(
    harness: Harness, alerts: AlertWatcher
) -> None:
    """Interleaved snapshots of two strategies' steady positions in one symbol are not changes."""
    await harness.start(["position_anomaly"], {"position_anomaly": {"min_history": 2, "window": 20}})
    subject = subjects.portfolio_position("paper-momentum")

    async def interleaved() -> None:
        for second in range(12):
            strategy, quantity = ("mom-us-eq", 190.0) if second % 2 == 0 else ("mom-eu-eq", 310.0)
            await harness.publish(
                subject,
                Position(
                    fund_id="paper-momentum",
                    strategy_id=strategy,
                    symbol="ACME",
                    ts=utc(second),
                    quantity=quantity,
                    avg_price=10,
                    market_price=10,
                ),
            )
        await harness.settled("position_anomaly")

    await alerts.quiet("position", after=interleaved)
    assert harness.runtime.runner("position_anomaly").evaluation_count == 0  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------ predictive health


async def test_predictive_health_fires_when_nav_leaves_its_interval_and_resolves_inside_it(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["predictive_health"], {"predictive_health": {"min_history": 12, "window": 50}})
    subject = subjects.portfolio_nav("paper-momentum")
    nav = 1_000_000.0

    async def step(r: float, second: int) -> None:
        nonlocal nav
        nav *= math.exp(r)
        await harness.publish(subject, Nav(fund_id="paper-momentum", ts=utc(second), nav=nav, day_pnl=0.0))

    async def calm() -> None:
        for i in range(14):
            await step(0.001 * math.sin(1.7 * i), i)
        await harness.settled("predictive_health")

    await alerts.quiet("health", after=calm)
    assert harness.runtime.runner("predictive_health").evaluation_count == 1  # type: ignore[union-attr]
    await step(-0.10, 20)
    fired = await alerts.wait("health", "firing", "paper-momentum")
    assert fired.value == pytest.approx(-0.10)
    assert fired.threshold is not None
    assert fired.threshold > -0.10, "the lower bound of the interval"
    assert "99% one-step interval" in fired.message
    # The crash widened the interval: an ordinary move is inside it.
    await step(0.0005, 21)
    resolved = await alerts.wait("health", "resolved", "paper-momentum")
    assert resolved.value == pytest.approx(0.0005)


# ------------------------------------------------------------------------------------ strategy


async def publish_pnl(harness: Harness, strategy: str, totals: list[float], start: int = 0) -> None:
    for i, total in enumerate(totals):
        await harness.publish(
            subjects.strategy_pnl(strategy),
            StrategyPnl(
                strategy_id=strategy,
                fund_id="paper-momentum",
                ts=utc(start + i),
                day_pnl=total,
                realized_pnl=total,
                unrealized_pnl=0.0,
            ),
        )


def cumulative(changes: list[float], start: float = 0.0) -> list[float]:
    out, total = [], start
    for change in changes:
        total += change
        out.append(total)
    return out


async def test_strategy_watchdog_fires_outside_the_prediction_interval_and_resolves_inside(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["strategy_watchdog"], {"strategy_watchdog": {"min_history": 5}})
    totals = cumulative([0, 10, 12, 8, 11, 9, 10])

    async def calm() -> None:
        await publish_pnl(harness, "mom-us-eq", totals)
        await harness.settled("strategy_watchdog")

    await alerts.quiet("strategy", after=calm)
    await publish_pnl(harness, "mom-us-eq", [totals[-1] + 1_000.0], start=10)
    fired = await alerts.wait("strategy", "firing", "mom-us-eq")
    assert fired.value == pytest.approx(1_000.0)
    assert "prediction interval" in fired.message
    await publish_pnl(harness, "mom-us-eq", [totals[-1] + 1_010.0], start=11)
    resolved = await alerts.wait("strategy", "resolved", "mom-us-eq")
    assert resolved.value == pytest.approx(10.0)


# ------------------------------------------------------------------------------------ theta


def greeks(fund_id: str, quantity: float) -> Greeks:
    option = OptionPosition(
        symbol="ACME 250321C50",
        underlying="ACME",
        kind="call",
        spot=49,
        strike=50,
        t_years=0.3846,
        rate=0.05,
        vol=0.2,
        quantity=quantity,
    )
    return Greeks(fund_id=fund_id, ts=utc(0), options=[option])


async def test_theta_watchdog_fires_over_the_limit_and_resolves_under_it(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["theta_watchdog"], {"theta_watchdog": {"limit": 100.0}})
    per_contract = bs_theta(49, 50, 0.05, 0.3846, 0.2, "call", per="calendar_day") * 100
    subject = subjects.portfolio_greeks("paper-options")
    await harness.publish(subject, greeks("paper-options", 100))
    fired = await alerts.wait("theta", "firing", "paper-options")
    assert fired.value == pytest.approx(100 * per_contract)  # about -118 a day: 100 contracts of Hull's call
    assert fired.threshold == 100.0
    await harness.publish(subject, greeks("paper-options", 10))
    resolved = await alerts.wait("theta", "resolved", "paper-options")
    assert resolved.value == pytest.approx(10 * per_contract)


# ------------------------------------------------------------------------------------ vol / drawdown


async def test_portfolio_vol_dd_fires_on_drawdown_and_on_volatility_using_the_funds_registry(
    harness: Harness, alerts: AlertWatcher
) -> None:
    funds = FundsRegistry(
        [
            Fund(fund_id="paper-momentum", mode="paper", drawdown_limit=0.10, vol_target=1.0),
            Fund(fund_id="paper-vol", mode="paper", vol_target=0.01, drawdown_limit=0.9),
        ]
    )
    await harness.start(
        ["portfolio_vol_dd"],
        {"portfolio_vol_dd": {"bar_seconds": 1, "window": 5, "drawdown_bars": 50, "periods_per_year": 1}},
        funds=funds,
    )

    async def navs(fund: str, values: list[float], start: int) -> None:
        for i, value in enumerate(values):
            await harness.publish(
                subjects.portfolio_nav(fund), Nav(fund_id=fund, ts=utc(start + i), nav=value, day_pnl=0.0)
            )

    await navs("paper-momentum", [100, 101, 102], 0)
    await harness.settled("portfolio_vol_dd")
    await navs("paper-momentum", [85], 3)
    fired = await alerts.wait("vol_dd", "firing", "paper-momentum")
    assert fired.value == pytest.approx((1 - 85 / 102) / 0.10)
    assert "drawdown -16.7%" in fired.message
    await navs("paper-momentum", [101], 4)
    resolved = await alerts.wait("vol_dd", "resolved", "paper-momentum")
    assert resolved.value == pytest.approx((1 - 101 / 102) / 0.10)

    # 5% swings every bar: a volatility of about 5% per bar (one bar a "year" here), over 1.5 x the 1% target.
    await navs("paper-vol", [100, 105, 100, 105, 100], 100)
    vol = await alerts.wait("vol_dd", "firing", "paper-vol")
    assert vol.value is not None
    assert vol.value > 3
    assert "target 1.0%" in vol.message


# ------------------------------------------------------------------------------------ drift


SIGNALS = [1.0, 2.0, 3.0, 4.0, 5.0]
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE"]
# Ranks of each day's forward return, by symbol: IC = Spearman(SIGNALS, ranks).
RANKS = {
    0: [1, 2, 3, 4, 5],  # IC 1.0 (reference)
    1: [1, 2, 3, 5, 4],  # IC 0.9 (reference)
    2: [3, 1, 2, 4, 5],  # IC 0.7 (reference)
    3: [5, 4, 3, 2, 1],  # IC -1: the signal turned
    4: [1, 2, 3, 5, 4],  # IC 0.9
    5: [1, 3, 2, 5, 4],  # IC 0.8
}


async def test_drift_monitor_fires_when_the_ic_turns_and_resolves_when_it_recovers(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(
        ["drift_monitor"],
        {
            "drift_monitor": {
                "reference_days": 3,
                "window_days": 20,
                "min_symbols": 5,
                "k": 0.25,
                "h": 2.0,
                "ir_window": 2,
                "ph_lambda": 100.0,
            }
        },
    )
    for day in RANKS:
        for symbol, value in zip(SYMBOLS, SIGNALS, strict=True):
            await harness.publish(
                subjects.strategy_signal("mom-us-eq"),
                StrategySignal(
                    strategy_id="mom-us-eq",
                    fund_id="paper-momentum",
                    symbol=symbol,
                    ts=utc(day * 86_400 + 3_600),
                    value=value,
                ),
            )
    await harness.settled("drift_monitor")
    prices = dict.fromkeys(SYMBOLS, 100.0)

    async def bars(day: int) -> None:
        for symbol in SYMBOLS:
            price = prices[symbol]
            await harness.publish(
                subjects.marketdata_bar("1d", symbol),
                Bar(
                    symbol=symbol,
                    interval="1d",
                    start=utc(day * 86_400),
                    end=utc((day + 1) * 86_400),
                    open=price,
                    high=price,
                    low=price,
                    close=price,
                    volume=1_000,
                ),
            )
        for symbol, rank in zip(SYMBOLS, RANKS.get(day, [3] * 5), strict=True):
            prices[symbol] *= 1 + 0.01 * rank  # the return from this day's close to the next

    async def reference_period() -> None:
        for day in range(5):  # days 0-2 are complete once day 4 begins
            await bars(day)
        await harness.settled("drift_monitor")

    await alerts.quiet("drift", after=reference_period)
    await bars(5)  # day 3 (IC -1) complete
    fired = await alerts.wait("drift", "firing", "mom-us-eq")
    assert "CUSUM alarm on 2025-01-09" in fired.message
    assert fired.threshold == pytest.approx((1.0 + 0.9 + 0.7) / 3), "the reference mean IC"
    await bars(6)  # day 4 (IC 0.9): mean z of the last 2 days still far off
    await harness.settled("drift_monitor")
    assert alerts.matching("drift", "resolved") == []
    await bars(7)  # day 5 (IC 0.8): the last two days are back near the reference
    resolved = await alerts.wait("drift", "resolved", "mom-us-eq")
    assert resolved.value == pytest.approx((0.9 + 0.8) / 2)


# ------------------------------------------------------------------------------------ dependency


class Upstream:
    """A health endpoint of a fake upstream: answers 200 or 503 as told (a test double, not our code)."""

    def __init__(self) -> None:
        self.healthy = True
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                await reader.readuntil(b"\r\n\r\n")
                status = b"200 OK" if self.healthy else b"503 Service Unavailable"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(answer, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


async def test_dependency_watchdog_fires_after_three_failed_probes_and_resolves_after_one_good(
    harness: Harness, alerts: AlertWatcher, upstream: Upstream
) -> None:
    env = {"MTS_WATCHDOG_UPSTREAMS": f"oms={upstream.url}"}
    await harness.start(
        ["dependency_watchdog"], {"dependency_watchdog": {"interval": 0.05, "timeout": 1.0}}, env=env
    )
    runner = harness.runtime.runner("dependency_watchdog")  # type: ignore[union-attr]
    assert runner.params.upstreams == {"oms": upstream.url}, "from MTS_WATCHDOG_UPSTREAMS"
    await alerts.quiet("dependency", after=lambda: harness.ticked("dependency_watchdog", 5))
    upstream.healthy = False
    fired = await alerts.wait("dependency", "firing", "oms")
    assert (fired.value, fired.threshold) == (3.0, 3.0)
    assert "HTTP 503" in fired.message
    upstream.healthy = True
    resolved = await alerts.wait("dependency", "resolved", "oms")
    assert "is up" in resolved.message


# ------------------------------------------------------------------------------------ db


async def test_db_watchdog_fires_on_an_old_outbox_event_and_a_long_query_and_resolves_when_gone(
    harness: Harness, alerts: AlertWatcher, wd_db: str
) -> None:
    await harness.start(
        ["db_watchdog"],
        {"db_watchdog": {"interval": 0.05, "max_outbox_age_seconds": 60, "long_running_seconds": 0.2}},
    )
    await alerts.quiet("db", after=lambda: harness.ticked("db_watchdog", 3))
    await harness.pool.execute(
        "INSERT INTO outbox (event_id, source, subject, payload, headers, created_at) "
        "VALUES ('stuck-1', 'ghost', 'mts.v1.operations.halt.requested', '\\x7b7d', '{}', "
        "now() - interval '1 hour')"
    )
    fired = await alerts.wait("db", "firing", "outbox:ghost")
    assert fired.value is not None
    assert fired.value >= 3600
    assert fired.threshold == 60
    await harness.pool.execute("DELETE FROM outbox WHERE source = 'ghost'")
    await alerts.wait("db", "resolved", "outbox:ghost")

    sleeper = await asyncpg.connect(wd_db)
    try:
        pid = await sleeper.fetchval("SELECT pg_backend_pid()")
        query = asyncio.create_task(sleeper.execute("SELECT pg_sleep(30)"))
        long = await alerts.wait("db", "firing", f"pid:{pid}")
        assert "pg_sleep" in long.message
        await harness.pool.execute("SELECT pg_cancel_backend($1)", pid)
        with pytest.raises(asyncpg.QueryCanceledError):
            await query
        await alerts.wait("db", "resolved", f"pid:{pid}")
    finally:
        await sleeper.close()


# ------------------------------------------------------------------------------------ inhibition


async def test_an_upstream_outage_inhibits_strategy_alerts_until_it_is_back(
    harness: Harness, alerts: AlertWatcher, upstream: Upstream
) -> None:
    env = {"MTS_WATCHDOG_UPSTREAMS": f"oms={upstream.url}"}
    await harness.start(
        ["dependency_watchdog", "strategy_watchdog"],
        {"dependency_watchdog": {"interval": 0.05}, "strategy_watchdog": {"min_history": 5}},
        env=env,
    )
    upstream.healthy = False
    await alerts.wait("dependency", "firing", "oms")
    totals = cumulative([0, 10, 12, 8, 11, 9, 10, 1_000])
    await publish_pnl(harness, "mom-us-eq", totals)
    await harness.settled("strategy_watchdog")
    runner = harness.runtime.runner("strategy_watchdog")  # type: ignore[union-attr]
    held = runner.book.get("mom-us-eq")
    assert (held.firing, held.notified) == (True, False), "the anomaly fires, muted by the oms outage"
    assert alerts.matching("strategy") == []
    upstream.healthy = True
    await alerts.wait("dependency", "resolved", "oms")
    sent = await alerts.wait("strategy", "firing", "mom-us-eq")
    assert sent.value == pytest.approx(1_000.0)

    async def recorded() -> bool:
        return runner.book.get("mom-us-eq").notified

    await eventually(recorded, what="the runner to record the alert as sent")
    assert (
        timedelta(0)
        <= sent.fired_at - alerts.matching("dependency", "resolved")[0].fired_at
        < timedelta(seconds=5)
    )


async def test_a_dependency_outside_inhibited_by_does_not_mute(
    harness: Harness, alerts: AlertWatcher, upstream: Upstream
) -> None:
    env = {"MTS_WATCHDOG_UPSTREAMS": f"pricing={upstream.url}"}
    await harness.start(
        ["dependency_watchdog", "strategy_watchdog"],
        {"dependency_watchdog": {"interval": 0.05}, "strategy_watchdog": {"min_history": 5}},
        env=env,
    )
    upstream.healthy = False
    await alerts.wait("dependency", "firing", "pricing")
    await publish_pnl(harness, "mom-us-eq", cumulative([0, 10, 12, 8, 11, 9, 10, 1_000]))
    await alerts.wait("strategy", "firing", "mom-us-eq")

    async def firing() -> bool:
        return "pricing" in harness.runtime.dependencies_down()  # type: ignore[union-attr]

    await eventually(firing, what="pricing to be down")
