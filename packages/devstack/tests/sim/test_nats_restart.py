"""The replay and the paper OMS ride out a NATS restart: market data and orders flow again after it."""

from __future__ import annotations

import asyncio

from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.embedded import EmbeddedNats
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.schemas import OrderEvent, decode
from mts1b_operations.devstack.oms import OmsOptions, PaperOms
from mts1b_operations.devstack.replay import CALM, SyntheticOptions, run_synthetic

from .conftest import Recorder, until


async def test_market_data_and_orders_resume_after_nats_restarts(
    restartable_nats: EmbeddedNats, registry: FundsRegistry
) -> None:
    url = restartable_nats.url
    replay_bus = await connect_bus(url, name="replay", connect_deadline=10)
    oms_bus = await connect_bus(url, name="oms", connect_deadline=10)
    watch_bus = await connect_bus(url, name="watch", connect_deadline=10)
    await replay_bus.ensure_streams()
    recorder = Recorder()
    await watch_bus.nc.subscribe("mts.v1.>", cb=recorder.take)
    stop = asyncio.Event()
    oms = PaperOms(oms_bus, registry.funds, OmsOptions(tick_interval=0.1, snapshot_interval=0.5))
    tasks = [
        asyncio.create_task(
            run_synthetic(replay_bus, SyntheticOptions(scenario=CALM, speed=5, history_days=0), stop)
        ),
        asyncio.create_task(oms.run(stop)),
    ]

    def accepted_since(mark: int) -> bool:
        return any(
            m.subject == "mts.v1.oms.order.accepted" and decode(m.data, OrderEvent).fund_id in registry
            for m in recorder.messages[mark:]
        )

    def trades_since(mark: int) -> bool:
        return any(m.subject.startswith("mts.v1.marketdata.trade.") for m in recorder.messages[mark:])

    try:
        await until(lambda: accepted_since(0), within=60, what="orders before the restart")
        await asyncio.to_thread(restartable_nats.restart)
        await until(lambda: watch_bus.reconnects >= 1, within=20, what="our watcher reconnected")
        mark = len(recorder.messages)
        await until(lambda: trades_since(mark), within=60, what="market data after the restart")
        await until(lambda: accepted_since(mark), within=60, what="new orders accepted after the restart")
        # nats-py sends what was buffered, then PINGs, and only then counts the reconnect: the
        # messages above can arrive before the publishers' callbacks have run.
        await until(
            lambda: replay_bus.reconnects >= 1 and oms_bus.reconnects >= 1,
            within=20,
            what="the replay and the OMS reconnects counted",
        )
    finally:
        stop.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        for bus in (replay_bus, oms_bus, watch_bus):
            await bus.close()
    assert [r for r in results if isinstance(r, BaseException)] == []
