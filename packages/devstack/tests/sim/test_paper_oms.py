"""The paper OMS on real NATS: orders flow on the replayed market, commands are acked, halts gate orders."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.funds import FundsRegistry
from mts1b_operations.core.schemas import (
    Greeks,
    HaltRequested,
    Nav,
    OmsCommand,
    OmsCommandAck,
    OrderEvent,
    Position,
    StrategyPnl,
    StrategySignal,
    decode,
    encode,
)
from mts1b_operations.devstack.oms import REASON_HEADER, OmsOptions, PaperOms
from mts1b_operations.devstack.replay import CALM, SyntheticOptions, run_synthetic

from .conftest import Recorder, Seen, until

PAPER = ("paper-momentum", "paper-meanrev")


@pytest_asyncio.fixture
async def market(bus: Bus) -> AsyncIterator[None]:
    """The calm scenario at 5x: a quote per symbol every 0.2 s."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_synthetic(bus, SyntheticOptions(scenario=CALM, speed=5.0, history_days=0), stop)
    )
    yield
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest_asyncio.fixture
async def oms(nats_url: str, registry: FundsRegistry, market: None) -> AsyncIterator[PaperOms]:
    own = await connect_bus(nats_url, name="paper-oms-test", connect_deadline=10)
    options = OmsOptions(tick_interval=0.1, snapshot_interval=0.3, order_ttl=60.0, seed=1)
    paper = PaperOms(own, registry.funds, options)
    stop = asyncio.Event()
    task = asyncio.create_task(paper.run(stop))
    await asyncio.wait_for(paper.ready.wait(), 15)
    yield paper
    stop.set()
    await asyncio.wait_for(task, 15)
    await own.close()


def order_events(rec: Recorder) -> list[tuple[int, OrderEvent, str | None]]:
    """(index in the recording, event, Mts-Reason) of every order event, in order."""
    return [
        (i, decode(m.data, OrderEvent), m.headers.get(REASON_HEADER))
        for i, m in enumerate(rec.messages)
        if m.subject.startswith("mts.v1.oms.order.")
    ]


def open_orders(rec: Recorder) -> set[str]:
    state: dict[str, str] = {}
    for _, event, _ in order_events(rec):
        state[event.order_id] = event.event
    return {order for order, last in state.items() if last == "accepted"}


def command(name: str, fund_ids: list[str], *, paper_only: bool = True) -> OmsCommand:
    return OmsCommand(
        command_id=f"cmd-{uuid.uuid4().hex[:8]}",
        command=name,  # type: ignore[arg-type]
        requested_by="operator:alice",
        fund_ids=fund_ids,
        paper_only=paper_only,
        reason="drill",
        issued_at=datetime.now(UTC),
    )


async def send(bus: Bus, cmd: OmsCommand) -> OmsCommandAck:
    reply = await bus.nc.request(subjects.oms_command(cmd.command), encode(cmd), timeout=15)
    return decode(reply.data, OmsCommandAck)


async def put_halt(bus: Bus, key: str, **fields: object) -> HaltRequested:
    values: dict[str, object] = {"mode": "block_new", "reason": "drill", "requested_by": "operator:alice"}
    halt = HaltRequested(
        halt_id=f"h-{uuid.uuid4().hex[:8]}",
        requested_at=datetime.now(UTC),
        **(values | fields),  # type: ignore[arg-type]
    )
    kv = await bus.kv("mts_halts")
    await kv.put(key, encode(halt))
    return halt


async def test_orders_flow_new_routed_accepted_filled_with_positions_nav_greeks_pnl_and_signals(
    recorder: Recorder, oms: PaperOms
) -> None:
    def lifecycle_seen() -> bool:
        steps: dict[str, list[str]] = {}
        for _, event, _ in order_events(recorder):
            steps.setdefault(event.order_id, []).append(event.event)
        return ["new", "routed", "accepted", "filled"] in steps.values()

    await until(lifecycle_seen, within=60, what="an order going new -> routed -> accepted -> filled")

    def snapshots_seen() -> bool:
        greeks = [decode(m.data, Greeks) for m in recorder.on("mts.v1.portfolio.greeks.")]
        return (
            {decode(m.data, Position).fund_id for m in recorder.on("mts.v1.portfolio.position.")}
            == set(PAPER)
            and any(g.options for g in greeks)
            and bool(recorder.on("mts.v1.strategy.signal."))
        )

    await until(snapshots_seen, within=60, what="positions of both paper funds, options and signals")
    navs = [decode(m.data, Nav) for m in recorder.on("mts.v1.portfolio.nav.")]
    assert {n.fund_id for n in navs} == set(PAPER)  # never the live fund
    assert all(abs(n.nav - oms.options.capital) < 0.05 * oms.options.capital for n in navs)
    pnl = {decode(m.data, StrategyPnl).strategy_id for m in recorder.on("mts.v1.strategy.pnl.")}
    assert pnl == {"mom-us-eq", "mom-eu-eq", "mr-us-eq"}
    signals = [decode(m.data, StrategySignal) for m in recorder.on("mts.v1.strategy.signal.")]
    assert all(-1 <= s.value <= 1 for s in signals)
    filled = [e for _, e, _ in order_events(recorder) if e.event == "filled"]
    assert all(e.fill_price is not None and e.venue == "PAPER" for e in filled)


async def test_cancel_all_is_acked_with_the_orders_it_cancelled(
    bus: Bus, recorder: Recorder, oms: PaperOms
) -> None:
    await until(lambda: len(open_orders(recorder)) >= 2, within=60, what="resting limit orders")
    cmd = command("cancel_all", [])
    ack = await send(bus, cmd)
    assert (ack.command_id, ack.responder, ack.command, ack.ok) == (
        cmd.command_id,
        "paper-oms",
        "cancel_all",
        True,
    )
    assert ack.orders_cancelled >= 1
    assert ack.positions_closed == 0

    def cancelled_by_command() -> list[OrderEvent]:
        return [
            e
            for _, e, why in order_events(recorder)
            if e.event == "canceled" and why and cmd.command_id in why
        ]

    await until(
        lambda: len(cancelled_by_command()) == ack.orders_cancelled, within=15, what="the canceled events"
    )
    accepted = {e.order_id for _, e, _ in order_events(recorder) if e.event == "accepted"}
    assert {e.order_id for e in cancelled_by_command()} <= accepted


async def test_flatten_closes_every_paper_position_and_leaves_other_funds_alone(
    bus: Bus, recorder: Recorder, oms: PaperOms
) -> None:
    def holdings() -> set[str]:
        last = {}
        for m in recorder.on("mts.v1.portfolio.position."):
            p = decode(m.data, Position)
            last[(p.fund_id, p.strategy_id, p.symbol)] = p.quantity
        return {fund for (fund, _, _), qty in last.items() if qty != 0}

    await until(lambda: holdings() == set(PAPER), within=60, what="positions in both paper funds")
    await until(
        lambda: all(
            any(
                decode(m.data, Greeks).fund_id == f and decode(m.data, Greeks).options
                for m in recorder.on("mts.v1.portfolio.greeks.")
            )
            for f in PAPER
        ),
        within=30,
        what="options in both paper funds",
    )

    live = await send(bus, command("flatten", ["live-equities"], paper_only=False))
    assert (live.ok, live.orders_cancelled, live.positions_closed) == (True, 0, 0)  # not ours: untouched

    cmd = command("flatten", [])
    ack = await send(bus, cmd)
    assert (ack.ok, ack.responder, ack.command) == (True, "paper-oms", "flatten")

    def flatten_done() -> int | None:
        marked = [i for i, _, why in order_events(recorder) if why and cmd.command_id in why]
        after = [
            i for i, m in enumerate(recorder.messages) if m.subject.startswith("mts.v1.portfolio.greeks.")
        ]
        if not marked or sum(1 for i in after if i > marked[-1]) < len(PAPER):
            return None
        return marked[-1]

    await until(lambda: flatten_done() is not None, within=30, what="the snapshot after the flatten")
    last_event = flatten_done()
    assert last_event is not None
    by_command = [(e, why) for i, e, why in order_events(recorder) if why and cmd.command_id in why]
    fills = [e for e, _ in by_command if e.event == "filled"]
    options_before = sum(
        len(g.options)
        for f in PAPER
        for g in [
            [
                decode(m.data, Greeks)
                for m in recorder.messages[:last_event]
                if m.subject == subjects.portfolio_greeks(f)
            ][-1]
        ]
    )
    assert ack.positions_closed == len(fills) + options_before
    assert ack.orders_cancelled == sum(1 for e, _ in by_command if e.event == "canceled")
    assert {e.fund_id for e in fills} == set(PAPER)

    # The snapshot sent right after the flatten: every paper position flat, no options left.
    after: list[Seen] = recorder.messages[last_event + 1 :]
    for fund in PAPER:
        nav_at = next(i for i, m in enumerate(after) if m.subject == subjects.portfolio_nav(fund))
        positions = [
            decode(m.data, Position) for m in after[:nav_at] if m.subject == subjects.portfolio_position(fund)
        ]
        assert positions, fund
        assert all(p.quantity == 0 for p in positions), fund
        greeks = next(decode(m.data, Greeks) for m in after if m.subject == subjects.portfolio_greeks(fund))
        assert greeks.options == []


async def test_a_fund_halt_rejects_that_funds_new_orders_while_another_fund_trades(
    bus: Bus, recorder: Recorder, oms: PaperOms
) -> None:
    await until(lambda: bool(order_events(recorder)), within=60, what="orders flowing")
    halt = await put_halt(bus, "fund.paper-momentum", severity="FUND_HALT", fund_id="paper-momentum")

    def first_rejection() -> int | None:
        return next(
            (
                i
                for i, e, why in order_events(recorder)
                if e.fund_id == "paper-momentum" and e.event == "canceled" and why and halt.halt_id in why
            ),
            None,
        )

    await until(lambda: first_rejection() is not None, within=30, what="a rejected order of the halted fund")
    start = first_rejection()
    assert start is not None

    def other_fund_trades() -> bool:
        return any(
            i > start and e.fund_id == "paper-meanrev" and e.event == "accepted"
            for i, e, _ in order_events(recorder)
        )

    await until(other_fund_trades, within=30, what="the other fund trading on")
    after = [(e, why) for i, e, why in order_events(recorder) if i >= start and e.fund_id == "paper-momentum"]
    assert not [e for e, _ in after if e.event == "accepted"]  # no new order of the halted fund went through
    rejected = [why for e, why in after if e.event == "canceled"]
    assert rejected
    assert all(why and why.startswith("rejected: halted: FUND_HALT") for why in rejected)

    kv = await bus.kv("mts_halts")
    await kv.delete("fund.paper-momentum")
    resumed_from = len(recorder.messages)
    await until(
        lambda: any(
            i >= resumed_from and e.fund_id == "paper-momentum" and e.event == "accepted"
            for i, e, _ in order_events(recorder)
        ),
        within=30,
        what="the fund trading again after the halt was lifted",
    )


async def test_a_strategy_halt_with_cancel_open_cancels_that_strategys_orders_only(
    bus: Bus, recorder: Recorder, oms: PaperOms
) -> None:
    def resting(strategy: str) -> bool:
        opened = open_orders(recorder)
        return any(e.order_id in opened and e.strategy_id == strategy for _, e, _ in order_events(recorder))

    await until(lambda: resting("mom-us-eq"), within=60, what="a resting order of mom-us-eq")
    halt = await put_halt(
        bus, "strategy.mom-us-eq", severity="STRATEGY_HALT", mode="cancel_open", strategy_id="mom-us-eq"
    )

    def halted_events() -> list[OrderEvent]:
        return [e for _, e, why in order_events(recorder) if why and halt.halt_id in why]

    await until(
        lambda: any(e.event == "canceled" for e in halted_events()),
        within=30,
        what="orders cancelled by the strategy halt",
    )
    assert {e.strategy_id for e in halted_events()} == {"mom-us-eq"}

    def refused_at() -> int | None:
        return next(
            (
                i
                for i, e, why in order_events(recorder)
                if e.strategy_id == "mom-us-eq"
                and why
                and why.startswith("rejected: halted")
                and halt.halt_id in why
            ),
            None,
        )

    await until(
        lambda: refused_at() is not None, within=30, what="a new order of the halted strategy refused"
    )
    mark = len(recorder.messages)
    await until(
        lambda: any(
            i >= mark and e.strategy_id == "mom-eu-eq" and e.event == "accepted"
            for i, e, _ in order_events(recorder)
        ),
        within=30,
        what="the fund's other strategy trading on",
    )
    first = refused_at()
    assert first is not None
    assert not [
        e
        for i, e, _ in order_events(recorder)
        if i > first and e.strategy_id == "mom-us-eq" and e.event == "accepted"
    ]


async def test_the_processes_trade_and_exit_0_on_sigterm(
    nats_url: str, recorder: Recorder, tmp_path: Path
) -> None:
    funds = tmp_path / "funds.yaml"
    funds.write_text(
        "funds:\n"
        "  - {fund_id: paper-x, mode: paper, strategies: [mom-x]}\n"
        "  - {fund_id: live-x, mode: live, strategies: [live-s]}\n"
    )
    env = {**os.environ, "MTS_NATS_URL": nats_url, "MTS_FUNDS_FILE": str(funds)}
    replay_log, oms_log = tmp_path / "replay.log", tmp_path / "oms.log"
    replay = await spawn(
        ["mts1b_operations.devstack.replay", "--speed", "5", "--history-days", "0"], env, replay_log
    )
    paper = await spawn(
        ["mts1b_operations.devstack.oms", "--tick-interval", "0.2", "--responder", "oms-x"], env, oms_log
    )
    try:
        await until(
            lambda: (
                any(e.event == "filled" for _, e, _ in order_events(recorder))
                and bool(recorder.on(subjects.portfolio_nav("paper-x")))
            ),
            within=40,
            what="fills and NAV from the OMS process",
        )
        ack = await send_via(nats_url, command("cancel_all", []))
        assert ack.responder == "oms-x"
    finally:
        for proc in (paper, replay):
            proc.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(proc.wait(), 20) for proc in (paper, replay)]
    assert codes == [0, 0], oms_log.read_text()[-2000:] + replay_log.read_text()[-2000:]
    text = oms_log.read_text()
    assert "paper OMS ready: responder oms-x, paper funds paper-x" in text
    assert "paper OMS drained (complete)" in text
    assert {e.fund_id for _, e, _ in order_events(recorder)} == {"paper-x"}


async def spawn(args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", *args, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )


async def send_via(nats_url: str, cmd: OmsCommand) -> OmsCommandAck:
    own = await connect_bus(nats_url, name="cmd", connect_deadline=15)
    try:
        return await send(own, cmd)
    finally:
        await own.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("funds:\n  - {fund_id: live-x, mode: live}\n", "has no paper fund to trade"),
        ("funds:\n  - {fund_id: x, mode: demo}\n", "funds[0].mode"),
    ],
)
def test_the_oms_process_refuses_a_registry_it_cannot_trade(
    tmp_path: Path, content: str, message: str
) -> None:
    funds = tmp_path / "funds.yaml"
    funds.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "mts1b_operations.devstack.oms", "--funds-file", str(funds)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "MTS_NATS_URL": "nats://127.0.0.1:1"},
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
