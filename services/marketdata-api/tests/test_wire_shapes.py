"""The exact bytes of every answer, and the OpenAPI components that describe them.

The SDK decodes these answers into the same core Structs (``core.schemas.marketdata_api``); a
change to a field's name, order, type or encoding shows up here byte for byte, and a change to
what the schema documents shows up in the components.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.testing import (
    HEALTH_COMPONENTS,
    SCHEMA_DATE_TIME,
    SCHEMA_INT,
    SCHEMA_NUMBER,
    SCHEMA_STRING,
    schema_list_of,
    schema_null_or,
    schema_object,
    schema_ref,
)

from .conftest import DAY0, Feed, MdApp, bar, quote, wait_for

pytestmark = pytest.mark.timeout(120)

REQUESTED_AT = datetime(2024, 1, 2, 9, 30, 0, 250000, tzinfo=UTC)
NAV_AT = datetime(2024, 1, 2, 16, 0, 0, 5, tzinfo=UTC)


async def body_when(client: httpx.AsyncClient, path: str, expected: bytes, **params: object) -> bytes:
    """GET ``path`` until the body is ``expected`` (the feeds are asynchronous); the last body."""
    last: list[bytes] = []

    async def arrived() -> bool:
        answer = await client.get(path, params=params)  # type: ignore[arg-type]
        last.append(answer.content)
        return answer.status_code == 200 and answer.content == expected

    with contextlib.suppress(AssertionError):  # the caller's comparison shows the difference
        await wait_for(arrived, what=f"GET {path} to answer the pinned bytes")
    return last[-1]


async def test_quote_bytes(md_app: MdApp, feed: Feed) -> None:
    ts = datetime(2024, 1, 2, 14, 30, 0, 123456, tzinfo=UTC)
    await feed.quote(quote("AAPL", bid=189.5, ask=189.625, ts=ts))
    expected = (
        b'{"symbol":"AAPL","ts":"2024-01-02T14:30:00.123456Z","bid":189.5,"ask":189.625,'
        b'"bid_size":300.0,"ask_size":200.0}'
    )
    assert await body_when(md_app.client(), "/v1/quotes/AAPL", expected) == expected


async def test_bars_bytes_published_and_aggregated(md_app: MdApp, feed: Feed, pool: asyncpg.Pool) -> None:
    await feed.bar(bar("AAPL", "1h", DAY0, open=10, high=12.5, low=9.25, close=11, volume=100))
    await feed.bar(bar("AAPL", "1h", DAY0 + timedelta(hours=1), vwap=None, trade_count=None))
    for minute in range(2):
        start = DAY0 + timedelta(minutes=minute)
        await feed.bar(bar("MSFT", "1m", start, open=1, high=2, low=1, close=2, volume=3, vwap=1.5))

    async def stored() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM bars") == 4)

    await wait_for(stored, what="4 bars in Postgres")
    client = md_app.client()
    window = {"start": DAY0.isoformat(), "end": "2024-01-03T00:00:00Z"}
    published = (
        b'[{"symbol":"AAPL","interval":"1h","start":"2024-01-02T00:00:00Z","end":"2024-01-02T01:00:00Z",'
        b'"open":10.0,"high":12.5,"low":9.25,"close":11.0,"volume":100.0,"vwap":10.5,"trade_count":7,'
        b'"source":"published"},'
        b'{"symbol":"AAPL","interval":"1h","start":"2024-01-02T01:00:00Z","end":"2024-01-02T02:00:00Z",'
        b'"open":10.0,"high":12.0,"low":9.0,"close":11.0,"volume":100.0,"vwap":null,"trade_count":null,'
        b'"source":"published"}]'
    )
    answer = await client.get("/v1/bars/AAPL", params={"interval": "1h", **window})
    assert answer.content == published
    aggregated = (
        b'[{"symbol":"MSFT","interval":"5m","start":"2024-01-02T00:00:00Z","end":"2024-01-02T00:05:00Z",'
        b'"open":1.0,"high":2.0,"low":1.0,"close":2.0,"volume":6.0,"vwap":1.5,"trade_count":14,'
        b'"source":"aggregated"}]'
    )
    answer = await client.get("/v1/bars/MSFT", params={"interval": "5m", **window})
    assert answer.content == aggregated


async def test_funds_and_halts_bytes(md_app: MdApp, feed: Feed) -> None:
    client = md_app.client()
    before = (
        b'[{"fund_id":"paper-momentum","mode":"paper","nav":null,"day_pnl":null,"halted":false,"halts":[],'
        b'"halted_strategies":[],"last_update":null},'
        b'{"fund_id":"live-equities","mode":"live","nav":null,"day_pnl":null,"halted":false,"halts":[],'
        b'"halted_strategies":[],"last_update":null}]'
    )
    assert (await client.get("/v1/funds")).content == before
    assert (await client.get("/v1/halts")).content == b"[]"

    await feed.nav("paper-momentum", 1_250_000.0, -3_400.25, ts=NAV_AT)
    strategy_halt = schemas.HaltRequested(
        halt_id="h-strategy",
        severity="STRATEGY_HALT",
        mode="block_new",
        fund_id="paper-momentum",
        strategy_id="mom-us-eq",
        reason="drift",
        requested_by="watchdog:drift",
        requested_at=REQUESTED_AT,
    )
    fund_halt = schemas.HaltRequested(
        halt_id="h-fund",
        severity="FUND_HALT",
        mode="flatten",
        fund_id="live-equities",
        reason="operator says \u201cstop\u201d",
        requested_by="operator:alice",
        requested_at=REQUESTED_AT + timedelta(seconds=1),
        forced=True,
    )
    await feed.put_halt("strategy.mom-us-eq", strategy_halt)
    await feed.put_halt("fund.live-equities", fund_halt)

    strategy_json = (
        b'{"key":"strategy.mom-us-eq","halt_id":"h-strategy","severity":"STRATEGY_HALT","mode":"block_new",'
        b'"fund_id":"paper-momentum","strategy_id":"mom-us-eq","reason":"drift",'
        b'"requested_by":"watchdog:drift","requested_at":"2024-01-02T09:30:00.250000Z","forced":false}'
    )
    fund_json = (
        b'{"key":"fund.live-equities","halt_id":"h-fund","severity":"FUND_HALT","mode":"flatten",'
        b'"fund_id":"live-equities","strategy_id":null,"reason":"operator says \xe2\x80\x9cstop\xe2\x80\x9d",'
        b'"requested_by":"operator:alice","requested_at":"2024-01-02T09:30:01.250000Z","forced":true}'
    )
    halts = b"[" + fund_json + b"," + strategy_json + b"]"
    assert await body_when(client, "/v1/halts", halts) == halts
    funds = (
        b'[{"fund_id":"paper-momentum","mode":"paper","nav":1250000.0,"day_pnl":-3400.25,"halted":false,'
        b'"halts":[' + strategy_json + b'],"halted_strategies":["mom-us-eq"],'
        b'"last_update":"2024-01-02T16:00:00.000005Z"},'
        b'{"fund_id":"live-equities","mode":"live","nav":null,"day_pnl":null,"halted":true,'
        b'"halts":[' + fund_json + b'],"halted_strategies":[],"last_update":null}]'
    )
    assert await body_when(client, "/v1/funds", funds) == funds


async def test_health_bytes(md_app: MdApp) -> None:
    client = md_app.client()
    live = (await client.get("/v1/healthz")).content
    assert re.fullmatch(
        rb'\{"status":"ok","service":"marketdata-api","instance_id":"([0-9a-f-]{36})"\}', live
    )
    assert live.endswith(f'"{md_app.context.instance_id}"}}'.encode())
    uuid.UUID(md_app.context.instance_id)
    ready = await client.get("/v1/readyz")
    assert ready.status_code == 200
    assert ready.content.startswith(b'{"status":"ready","checks":{"postgres":"ok","nats":"ok"')


# ---------------------------------------------------------------------- OpenAPI components


HALT_IN_FORCE = schema_object(
    "HaltInForce",
    {
        "forced": {"default": False, "type": "boolean"},
        "fund_id": schema_null_or(SCHEMA_STRING),
        "halt_id": SCHEMA_STRING,
        "key": {"description": "The bucket key: firm, fund.<fund_id> or strategy.<id>.", "type": "string"},
        "mode": {"enum": ["block_new", "cancel_open", "flatten"], "type": "string"},
        "reason": SCHEMA_STRING,
        "requested_at": SCHEMA_DATE_TIME,
        "requested_by": SCHEMA_STRING,
        "severity": {"enum": ["FIRM_HALT", "FUND_HALT", "STRATEGY_HALT"], "type": "string"},
        "strategy_id": schema_null_or(SCHEMA_STRING),
    },
    ["halt_id", "key", "mode", "reason", "requested_at", "requested_by", "severity"],
)

COMPONENTS: dict[str, dict[str, Any]] = {
    "Quote": schema_object(
        "Quote",
        {
            "ask": SCHEMA_NUMBER,
            "ask_size": SCHEMA_NUMBER,
            "bid": SCHEMA_NUMBER,
            "bid_size": SCHEMA_NUMBER,
            "symbol": SCHEMA_STRING,
            "ts": {"description": "When the quote was taken (UTC).", **SCHEMA_DATE_TIME},
        },
        ["ask", "ask_size", "bid", "bid_size", "symbol", "ts"],
    ),
    "Bar": schema_object(
        "Bar",
        {
            "close": SCHEMA_NUMBER,
            "end": SCHEMA_DATE_TIME,
            "high": SCHEMA_NUMBER,
            "interval": {"enum": ["1m", "5m", "15m", "1h", "1d"], "type": "string"},
            "low": SCHEMA_NUMBER,
            "open": SCHEMA_NUMBER,
            "source": {
                "default": "published",
                "description": "published: as received on the bus; aggregated: built here from finer "
                "bars (UTC-aligned buckets).",
                "enum": ["published", "aggregated"],
                "type": "string",
            },
            "start": SCHEMA_DATE_TIME,
            "symbol": SCHEMA_STRING,
            "trade_count": schema_null_or(SCHEMA_INT),
            "volume": SCHEMA_NUMBER,
            "vwap": schema_null_or(SCHEMA_NUMBER),
        },
        ["close", "end", "high", "interval", "low", "open", "start", "symbol", "volume"],
    ),
    "HaltInForce": HALT_IN_FORCE,
    "FundStatus": schema_object(
        "FundStatus",
        {
            "day_pnl": {"description": "Profit and loss of the day so far.", **schema_null_or(SCHEMA_NUMBER)},
            "fund_id": SCHEMA_STRING,
            "halted": {
                "description": "True while a firm halt or a halt of this fund is in force.",
                "type": "boolean",
            },
            "halted_strategies": {
                "description": "The fund's strategies under a strategy halt.",
                "items": SCHEMA_STRING,
                "type": "array",
            },
            "halts": {
                "description": "Halts in force that bind the fund: firm, the fund's own, its strategies'.",
                "items": {"$ref": "#/components/schemas/HaltInForce"},
                "type": "array",
            },
            "last_update": {
                "description": "Time of the latest NAV / P&L update; null before any.",
                **schema_null_or(SCHEMA_DATE_TIME),
            },
            "mode": {"enum": ["paper", "live"], "type": "string"},
            "nav": {
                "description": "Latest net asset value; null before any.",
                **schema_null_or(SCHEMA_NUMBER),
            },
        },
        ["day_pnl", "fund_id", "halted", "halted_strategies", "halts", "last_update", "mode", "nav"],
    ),
    **HEALTH_COMPONENTS,
}


ANSWERS: dict[str, dict[str, Any]] = {
    "/v1/quotes/{symbol}": schema_ref("Quote"),
    "/v1/bars/{symbol}": schema_list_of(schema_ref("Bar")),
    "/v1/funds": schema_list_of(schema_ref("FundStatus")),
    "/v1/halts": schema_list_of(schema_ref("HaltInForce")),
    "/v1/healthz": schema_ref("Liveness"),
    "/v1/readyz": schema_ref("Readiness"),
}


async def test_openapi_components_describe_the_answers(md_app: MdApp) -> None:
    schema = (await md_app.client().get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert set(components) == {*COMPONENTS, "ErrorBody"}
    for name, expected in COMPONENTS.items():
        assert components[name] == expected, name
    for path, expected in ANSWERS.items():
        ok = schema["paths"][path]["get"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == expected, path
