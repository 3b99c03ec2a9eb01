"""MarketDataClient: the requests it sends and the answers it reads, byte for byte.

The unit tests serve the exact bytes the service answers (pinned in
services/marketdata-api/tests/test_wire_shapes.py) through httpx.MockTransport; the last test runs
the client against a real mts1b-marketdata-api process fed over NATS.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest

from mts1b_operations.client import (
    BadRequestError,
    Bar,
    ClientConfig,
    FundStatus,
    HaltInForce,
    MarketDataClient,
    NotFoundError,
    Quote,
)
from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.bus import connect_bus
from mts1b_operations.core.db import upgrade_all
from mts1b_operations.core.testing import eventually, start_service

Handler = Callable[[httpx.Request], httpx.Response]

QUOTE = (
    b'{"symbol":"AAPL","ts":"2024-01-02T14:30:00.123456Z","bid":189.5,"ask":189.625,'
    b'"bid_size":300.0,"ask_size":200.0}'
)
BARS = (
    b'[{"symbol":"AAPL","interval":"1h","start":"2024-01-02T00:00:00Z","end":"2024-01-02T01:00:00Z",'
    b'"open":10.0,"high":12.5,"low":9.25,"close":11.0,"volume":100.0,"vwap":10.5,"trade_count":7,'
    b'"source":"published"},'
    b'{"symbol":"AAPL","interval":"5m","start":"2024-01-02T01:00:00Z","end":"2024-01-02T01:05:00Z",'
    b'"open":10.0,"high":12.0,"low":9.0,"close":11.0,"volume":100.0,"vwap":null,"trade_count":null,'
    b'"source":"aggregated"}]'
)
STRATEGY_HALT = (
    b'{"key":"strategy.mom-us-eq","halt_id":"h-strategy","severity":"STRATEGY_HALT","mode":"block_new",'
    b'"fund_id":"paper-momentum","strategy_id":"mom-us-eq","reason":"drift",'
    b'"requested_by":"watchdog:drift","requested_at":"2024-01-02T09:30:00.250000Z","forced":false}'
)
FUND_HALT = (
    b'{"key":"fund.live-equities","halt_id":"h-fund","severity":"FUND_HALT","mode":"flatten",'
    b'"fund_id":"live-equities","strategy_id":null,"reason":"operator says \xe2\x80\x9cstop\xe2\x80\x9d",'
    b'"requested_by":"operator:alice","requested_at":"2024-01-02T09:30:01.250000Z","forced":true}'
)
HALTS = b"[" + FUND_HALT + b"," + STRATEGY_HALT + b"]"
FUNDS = (
    b'[{"fund_id":"paper-momentum","mode":"paper","nav":1250000.0,"day_pnl":-3400.25,"halted":false,'
    b'"halts":[' + STRATEGY_HALT + b'],"halted_strategies":["mom-us-eq"],'
    b'"last_update":"2024-01-02T16:00:00.000005Z"},'
    b'{"fund_id":"live-equities","mode":"live","nav":null,"day_pnl":null,"halted":true,'
    b'"halts":[' + FUND_HALT + b'],"halted_strategies":[],"last_update":null}]'
)
ANSWERS = {
    "/v1/quotes/AAPL": QUOTE,
    "/v1/bars/AAPL": BARS,
    "/v1/funds": FUNDS,
    "/v1/halts": HALTS,
}


def serving(answers: dict[str, bytes]) -> tuple[MarketDataClient, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = answers.get(request.url.path)
        if body is None:
            return httpx.Response(404, json={"status_code": 404, "detail": "no", "extra": {}})
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    config = ClientConfig(marketdata_url="http://marketdata.test:8105", get_attempts=1)
    return MarketDataClient.from_env(config, transport=httpx.MockTransport(handler)), requests


async def test_every_answer_decodes_and_encodes_back_to_the_same_bytes() -> None:
    client, _ = serving(ANSWERS)
    async with client:
        quote = await client.quote("AAPL")
        bars = await client.bars("AAPL", "1h")
        funds = await client.funds()
        halts = await client.halts()
    assert isinstance(quote, Quote)
    assert quote.ts == datetime(2024, 1, 2, 14, 30, 0, 123456, tzinfo=UTC)
    assert (quote.bid, quote.ask) == (189.5, 189.625)
    assert [type(b) for b in bars] == [Bar, Bar]
    assert [(b.interval, b.source, b.vwap, b.trade_count) for b in bars] == [
        ("1h", "published", 10.5, 7),
        ("5m", "aggregated", None, None),
    ]
    assert [type(f) for f in funds] == [FundStatus, FundStatus]
    momentum, live = funds
    assert (momentum.nav, momentum.day_pnl, momentum.halted) == (1_250_000.0, -3_400.25, False)
    assert momentum.last_update == datetime(2024, 1, 2, 16, 0, 0, 5, tzinfo=UTC)
    assert momentum.halted_strategies == ["mom-us-eq"]
    assert (live.nav, live.halted, live.last_update) == (None, True, None)
    assert [type(h) for h in halts] == [HaltInForce, HaltInForce]
    assert [(h.key, h.severity, h.mode, h.forced) for h in halts] == [
        ("fund.live-equities", "FUND_HALT", "flatten", True),
        ("strategy.mom-us-eq", "STRATEGY_HALT", "block_new", False),
    ]
    assert halts[0].reason == "operator says \u201cstop\u201d"
    assert live.halts == [halts[0]]
    # Every field the service sends is kept, in the service's order and encoding.
    for decoded, wire in ((quote, QUOTE), (bars, BARS), (funds, FUNDS), (halts, HALTS)):
        assert msgspec.json.encode(decoded) == wire


async def test_the_requests_sent() -> None:
    client, requests = serving(ANSWERS)
    async with client:
        await client.quote("AAPL")
        await client.bars("AAPL", "1h", start=datetime(2024, 1, 2, tzinfo=UTC), limit=2)
        await client.funds()
        await client.halts()
        with pytest.raises(NotFoundError):
            await client.quote("BRK.B/x y")
    assert [r.url.path for r in requests[:4]] == [
        "/v1/quotes/AAPL",
        "/v1/bars/AAPL",
        "/v1/funds",
        "/v1/halts",
    ]
    assert dict(requests[1].url.params) == {
        "interval": "1h",
        "start": "2024-01-02T00:00:00+00:00",
        "limit": "2",
    }
    assert requests[4].url.raw_path == b"/v1/quotes/BRK.B%2Fx%20y"


async def test_fields_a_newer_service_adds_are_ignored() -> None:
    newer = QUOTE[:-1] + b',"venue":"XNAS","depth":[1,2]}'
    client, _ = serving({"/v1/quotes/AAPL": newer})
    async with client:
        quote = await client.quote("AAPL")
    assert msgspec.json.encode(quote) == QUOTE


async def test_against_a_running_service(tmp_path: Path, database_url: str, nats_url: str) -> None:
    funds_file = tmp_path / "funds.yaml"
    funds_file.write_text(
        "funds:\n  - fund_id: paper-momentum\n    mode: paper\n    strategies: [mom-us-eq]\n"
    )
    await asyncio.to_thread(upgrade_all, database_url, ["marketdata-api"])
    service = await asyncio.to_thread(
        start_service,
        "mts1b_operations.marketdata",
        database_url=database_url,
        nats_url=nats_url,
        log_dir=tmp_path,
        env={"MTS_FUNDS_FILE": str(funds_file)},
    )
    bus = await connect_bus(nats_url, name="marketdata-client-test", connect_deadline=10)
    try:
        await bus.ensure_streams()
        ts = datetime.now(UTC)
        published = schemas.Quote(symbol="AAPL", ts=ts, bid=189.5, ask=189.6, bid_size=3, ask_size=2)
        await bus.publish(subjects.marketdata_quote("AAPL"), published, msg_id=str(uuid.uuid4()))
        halt = schemas.HaltRequested(
            halt_id="h-1",
            severity="FIRM_HALT",
            mode="cancel_open",
            reason="drill",
            requested_by="operator:alice",
            requested_at=ts,
        )
        kv = await bus.kv("mts_halts", history=1)
        await kv.put("firm", schemas.encode(halt))
        config = ClientConfig(marketdata_url=service.base_url)
        async with MarketDataClient.from_env(config) as md:

            async def fed() -> Quote | None:
                try:
                    quote = await md.quote("AAPL")
                except NotFoundError:
                    return None
                return quote if await md.halts() else None

            quote = await eventually(fed, within=20, what="the quote and the halt to be served")
            assert (quote.symbol, quote.ts, quote.bid, quote.ask_size) == ("AAPL", ts, 189.5, 2.0)
            [held] = await md.halts()
            assert (held.key, held.halt_id, held.severity, held.requested_at) == (
                "firm",
                "h-1",
                "FIRM_HALT",
                ts,
            )
            [fund] = await md.funds()
            assert (fund.fund_id, fund.mode, fund.halted, fund.halts) == (
                "paper-momentum",
                "paper",
                True,
                [held],
            )
            assert await md.bars("AAPL", "1d") == []
            with pytest.raises(NotFoundError) as unknown:
                await md.bars("NOPE")
            assert unknown.value.code == "unknown_symbol"
            with pytest.raises(BadRequestError) as bad:
                await md.bars("AAPL", "2m")  # type: ignore[arg-type]
            assert bad.value.field == "interval"
    finally:
        await bus.close()
        await asyncio.to_thread(service.stop)


def test_the_answer_types_are_cores_wire_shapes() -> None:
    # The service encodes these very Structs: one definition, nothing to keep in step by hand.
    from mts1b_operations.core.schemas import marketdata_api

    assert (Quote, Bar, FundStatus, HaltInForce) == (
        marketdata_api.Quote,
        marketdata_api.Bar,
        marketdata_api.FundStatus,
        marketdata_api.HaltInForce,
    )
