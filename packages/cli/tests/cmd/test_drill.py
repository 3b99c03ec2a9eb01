"""`mts cmd drill` on a real dev stack: the dry run halts nothing; --execute halts, times, resumes, reports.

The stack is `mts dev up --only halt --only audit` (embedded Postgres and NATS, the market
replay and the paper OMS): without the watchdogs no automatic strategy halt interferes, so the
paper funds keep trading and the drill has open orders to cancel. The command runs as its own
process, as an operator runs it; what it did is checked in the halt service (history), the
KV bucket mts_halts, the audit chain and the files it wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from nats.js.errors import NoKeysError

from mts1b_operations.client import AuditClient, ConflictError, HaltClient
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.schemas import OrderEvent
from mts1b_operations.core.testing import eventually

from .test_e2e import (
    LIVE_FUND,
    PAPER_FUNDS,
    Stack,
    listen,
    running_stack,
)

pytestmark = pytest.mark.slow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Only halt and audit: without the watchdogs no automatic strategy halt gets in the drill's way."""
    with running_stack(tmp_path_factory.mktemp("drill"), "--only", "halt", "--only", "audit") as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def bus(stack: Stack) -> AsyncIterator[Bus]:
    connected = await connect_bus(stack.runtime.nats_url, name="cmd-drill-test", connect_deadline=30)
    yield connected
    await connected.close()


async def halt_keys(bus: Bus) -> list[str]:
    bucket = await bus.js.key_value("mts_halts")
    try:
        return sorted(await bucket.keys())
    except NoKeysError:
        return []


async def history(stack: Stack) -> list[dict[str, object]]:
    async with HaltClient(stack.urls["halt"], token=stack.tokens["vic"]) as halts:
        return [
            {"fund_id": h.fund_id, "active": h.active, "id": h.halt_id} for h in await halts.history(1000)
        ]


async def orders_flowing(bus: Bus) -> None:
    """Wait until each paper fund has had an order accepted (the paper OMS trades both)."""
    orders, sub = await listen(bus, "mts.v1.oms.order.*", OrderEvent)
    try:

        async def both() -> bool | None:
            seen = {e.fund_id for e in orders.payloads() if e.event == "accepted"}
            return True if seen >= PAPER_FUNDS else None

        await eventually(both, what="orders accepted in both paper funds", within=90)
    finally:
        await sub.unsubscribe()


async def test_the_dry_run_lists_the_paper_funds_and_halts_nothing(stack: Stack, bus: Bus) -> None:
    await orders_flowing(bus)
    keys_before, history_before = await halt_keys(bus), await history(stack)

    result = await stack.mts("cmd", "drill")
    as_json = await stack.mts("cmd", "drill", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "dry run: nothing halted" in result.stdout
    assert "sees the mts_halts bucket" in result.stdout
    for fund in PAPER_FUNDS:
        assert fund in result.stdout
    assert f"{LIVE_FUND}" in result.stdout
    assert "a drill never halts a live fund" in result.stdout
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert plan["dry_run"] is True
    assert plan["problems"] == []
    assert {f["fund_id"] for f in plan["plan"]["funds"]} == PAPER_FUNDS
    assert all(isinstance(f["open_orders"], int) for f in plan["plan"]["funds"])
    assert plan["plan"]["skipped"] == [
        {"fund_id": LIVE_FUND, "why": "live fund: a drill never halts a live fund"}
    ]
    assert plan["plan"]["gate"]["fresh"] is True
    assert await halt_keys(bus) == keys_before
    assert await history(stack) == history_before


async def test_refusals_halt_nothing(stack: Stack, bus: Bus) -> None:
    history_before = await history(stack)
    bob = stack.tokens["bob"]

    live = await stack.mts(
        "cmd", "drill", "--execute", "--confirm", "DRILL", "--cosigner-token", bob, "--fund", LIVE_FUND
    )
    wrong_word = await stack.mts("cmd", "drill", "--execute", "--confirm", "drill", "--cosigner-token", bob)
    no_cosigner = await stack.mts("cmd", "drill", "--execute", "--confirm", "DRILL")

    assert live.returncode == 2, live.stdout + live.stderr
    assert f"--fund '{LIVE_FUND}': live fund: a drill never halts a live fund" in live.stderr
    assert wrong_word.returncode == 1, wrong_word.stderr
    assert "is not DRILL" in wrong_word.stderr
    assert no_cosigner.returncode == 2, no_cosigner.stderr
    assert "--cosigner-token" in no_cosigner.stderr
    assert await history(stack) == history_before
    assert await halt_keys(bus) == []


async def test_execute_halts_each_paper_fund_times_the_stages_reports_and_resumes(
    stack: Stack, bus: Bus, tmp_path: Path
) -> None:
    await orders_flowing(bus)
    out = tmp_path / "report"

    result = await stack.mts(
        *("cmd", "drill", "--execute", "--confirm", "DRILL", "--reason", "quarterly drill"),
        *("--cosigner-token", stack.tokens["bob"], "--out", str(out), "--json", "--timeout", "60"),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    files = {name: (out / name).read_bytes() for name in ("report.json", "report.md", "latency.png")}
    assert files["latency.png"].startswith(PNG_SIGNATURE)
    assert len(files["latency.png"]) > 10_000
    sha256 = hashlib.sha256(files["report.json"]).hexdigest()
    assert answer["report_sha256"] == sha256
    assert sha256 in files["report.md"].decode()
    report = json.loads(files["report.json"])
    assert report == answer["report"]
    assert (report["requested_by"], report["cosigned_by"]) == ("operator:alice", "operator:bob")
    assert {f["fund_id"] for f in report["funds"]} == PAPER_FUNDS
    for fund in report["funds"]:
        stages = fund["stages_ms"]
        assert fund["problems"] == [], fund
        assert 0 <= stages["gate"] <= stages["cancel"] <= stages["acks"], stages
        assert stages["acks"] >= fund["observed_ms"]["halt_service_answer"] >= 0
        assert [(a["responder"], a["ok"]) for a in fund["acks"]] == [("paper-oms", True)]
        assert fund["cancels_seen"] >= fund["orders_cancelled_acked"] == fund["acks"][0]["orders_cancelled"]
        assert fund["resumed"] is True
        assert fund["cosigned_by"] == "operator:bob"
        assert fund["orders_accepted_again"] is True
        assert fund["resume_ms"]["first_accepted_order"] > 0
    assert sum(f["orders_cancelled_acked"] for f in report["funds"]) >= 1

    # The report's hash is in the audit chain, recorded by the operator who ran the drill.
    async with AuditClient(stack.urls["audit"], token=stack.tokens["vic"]) as audit:
        trail = (await audit.trail(report["drill_id"])).entries
        halts = [f["halt_id"] for f in report["funds"]]
        halt_trails = [(await audit.trail(h)).entries for h in halts]
    assert [(e.action, e.actor, e.data["report_sha256"]) for e in trail] == [
        ("drill.report", "operator:alice", sha256)
    ]
    assert trail[0].sequence == answer["audit"]["sequence"]
    assert all(any(e.action == "halt.requested" for e in t) for t in halt_trails)

    # Every fund is trading again and the live fund was never halted.
    assert await halt_keys(bus) == []
    recorded = {h["id"]: h for h in await history(stack)}
    assert {recorded[h]["fund_id"] for h in halts} == PAPER_FUNDS
    assert not [h for h in recorded.values() if h["active"]]
    assert not [h for h in recorded.values() if h["fund_id"] == LIVE_FUND]


async def test_the_report_hash_cannot_be_recorded_twice_with_another_value(stack: Stack) -> None:
    async with AuditClient(stack.urls["audit"], token=stack.tokens["alice"]) as audit:
        first = await audit.record_drill_report("drill-test-twice", "a" * 64, funds=["paper-momentum"])
        again = await audit.record_drill_report("drill-test-twice", "a" * 64, funds=["paper-momentum"])
        with pytest.raises(ConflictError, match="another report hash"):
            await audit.record_drill_report("drill-test-twice", "b" * 64, funds=[])
    assert first.created
    assert not again.created
    assert again.sequence == first.sequence
