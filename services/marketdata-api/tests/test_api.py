"""The API in-process on real Postgres and NATS: what is published is served; every error path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import encode
from mts1b_operations.marketdata.entrypoints import etag_matches

from .conftest import DAY0, Feed, MdApp, bar, halt, quote, wait_for

pytestmark = pytest.mark.timeout(120)


async def served(client: httpx.AsyncClient, path: str, **params: object) -> httpx.Response:
    """GET ``path`` until it answers 200 (the feed is asynchronous); the last answer."""
    last: list[httpx.Response] = []

    async def ok() -> bool:
        last.append(await client.get(path, params=params))  # type: ignore[arg-type]
        return last[-1].status_code == 200

    await wait_for(ok, what=f"GET {path} -> 200")
    return last[-1]


async def bars_stored(pool: asyncpg.Pool, count: int) -> None:
    async def enough() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM bars") >= count)

    await wait_for(enough, what=f"{count} bars in Postgres")


# ---------------------------------------------------------------------- quotes


async def test_a_published_quote_is_served(md_app: MdApp, feed: Feed) -> None:
    client = md_app.client()
    await feed.quote(quote("AAPL", bid=189.5, ask=189.6))
    answer = await served(client, "/v1/quotes/AAPL")
    body = answer.json()
    assert (body["symbol"], body["bid"], body["ask"], body["bid_size"]) == ("AAPL", 189.5, 189.6, 300.0)
    assert answer.headers["ratelimit-limit"] == "1000000"

    # A newer quote replaces it; an older one (a replay, a late publisher) does not.
    now = datetime.now(UTC)
    await feed.quote(quote("AAPL", bid=190.0, ask=190.1, ts=now + timedelta(seconds=5)))
    await feed.quote(quote("AAPL", bid=1.0, ask=1.1, ts=now - timedelta(hours=1)))
    await feed.quote(quote("MSFT", bid=400.0, ask=400.2))
    await served(client, "/v1/quotes/MSFT")
    assert (await client.get("/v1/quotes/AAPL")).json()["bid"] == 190.0


async def test_quotes_present_before_start_are_served_at_once(
    app_factory: Callable[..., Awaitable[MdApp]], feed: Feed
) -> None:
    await feed.quote(quote("IBM", bid=140.0, ask=140.5))
    await feed.quote(quote("IBM", bid=141.0, ask=141.5, ts=datetime.now(UTC) + timedelta(seconds=1)))
    app = await app_factory()  # returns once the feeds are warm
    answer = await app.client().get("/v1/quotes/IBM")
    assert answer.status_code == 200
    assert answer.json()["bid"] == 141.0


async def test_quote_errors(md_app: MdApp, feed: Feed) -> None:
    client = md_app.client()
    unknown = await client.get("/v1/quotes/NOPE")
    assert unknown.status_code == 404
    assert unknown.json()["extra"] == {"code": "unknown_symbol", "field": "symbol", "symbol": "NOPE"}
    assert "NOPE" in unknown.json()["detail"]
    for bad in ("BRK.B", "a%20b", "x" * 129, "%C3%84"):
        answer = await client.get(f"/v1/quotes/{bad}")
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["extra"]["field"] == "symbol"
        assert answer.json()["extra"]["code"] == "invalid_parameter"

    # A payload that does not decode is skipped; the feed goes on.
    await feed.raw(subjects.marketdata_quote("BAD"), b'{"type": "Quote", "symbol": "BAD"}')
    await feed.quote(quote("GOOD"))
    await served(client, "/v1/quotes/GOOD")
    assert (await client.get("/v1/quotes/BAD")).status_code == 404


# ---------------------------------------------------------------------- bars


async def test_published_bars_are_stored_once_and_served_newest_last(
    md_app: MdApp, feed: Feed, pool: asyncpg.Pool
) -> None:
    client = md_app.client()
    for hour in range(5):
        await feed.bar(bar("AAPL", "1h", DAY0 + timedelta(hours=hour), close=10 + hour, high=20))
    # The same bar again (a replay with another message id) leaves one row.
    await feed.bar(bar("AAPL", "1h", DAY0, close=10, high=20))
    await bars_stored(pool, 5)
    answer = await client.get(
        "/v1/bars/AAPL", params={"interval": "1h", "start": DAY0.isoformat(), "end": "2024-01-03T00:00:00Z"}
    )
    assert answer.status_code == 200
    bars = answer.json()
    assert [b["close"] for b in bars] == [10, 11, 12, 13, 14]
    assert bars[0]["start"] == "2024-01-02T00:00:00Z"
    assert bars[0]["end"] == "2024-01-02T01:00:00Z"
    assert {b["source"] for b in bars} == {"published"}
    assert await pool.fetchval("SELECT count(*) FROM bars") == 5

    limited = await client.get(
        "/v1/bars/AAPL", params={"interval": "1h", "limit": 2, "start": DAY0.isoformat()}
    )
    assert [b["close"] for b in limited.json()] == [13, 14]

    # A corrected bar with the same key replaces the stored one.
    await feed.bar(bar("AAPL", "1h", DAY0 + timedelta(hours=4), close=15, high=20))

    async def corrected() -> bool:
        rows = await client.get("/v1/bars/AAPL", params={"interval": "1h", "start": DAY0.isoformat()})
        return bool(rows.json()[-1]["close"] == 15)

    await wait_for(corrected, what="the corrected bar")


async def test_coarser_bars_are_aggregated_from_finer_ones(
    md_app: MdApp, feed: Feed, pool: asyncpg.Pool
) -> None:
    client = md_app.client()
    # 1m bars from 23:58 on Jan 1 to 00:11 on Jan 2 (UTC).
    for minute in range(-2, 12):
        start = DAY0 + timedelta(minutes=minute)
        price = 100.0 + minute
        await feed.bar(bar("TSLA", "1m", start, open=price, high=price + 1, low=price - 1, close=price + 0.5,
                           volume=10, vwap=price, trade_count=2))  # fmt: skip
    await bars_stored(pool, 14)
    end = (DAY0 + timedelta(days=1)).isoformat()

    five = (
        await client.get("/v1/bars/TSLA", params={"interval": "5m", "start": DAY0.isoformat(), "end": end})
    ).json()
    assert [b["start"] for b in five] == [
        "2024-01-02T00:00:00Z",
        "2024-01-02T00:05:00Z",
        "2024-01-02T00:10:00Z",
    ]
    first = five[0]
    assert (first["open"], first["high"], first["low"], first["close"]) == (100.0, 105.0, 99.0, 104.5)
    assert (first["volume"], first["trade_count"], first["vwap"]) == (50.0, 10, 102.0)
    assert first["source"] == "aggregated"
    assert first["end"] == "2024-01-02T00:05:00Z"

    daily = (await client.get("/v1/bars/TSLA", params={"interval": "1d", "start": "2024-01-01T00:00:00Z",
                                                       "end": end})).json()  # fmt: skip
    assert [(b["start"], b["volume"]) for b in daily] == [
        ("2024-01-01T00:00:00Z", 20.0),
        ("2024-01-02T00:00:00Z", 120.0),
    ]

    # A published daily bar wins over the aggregated one for its day.
    await feed.bar(bar("TSLA", "1d", DAY0, open=1, high=2, low=1, close=2, volume=999))
    await bars_stored(pool, 15)
    daily = (await client.get("/v1/bars/TSLA", params={"interval": "1d", "start": "2024-01-01T00:00:00Z",
                                                       "end": end})).json()  # fmt: skip
    assert [(b["start"], b["source"], b["volume"]) for b in daily] == [
        ("2024-01-01T00:00:00Z", "aggregated", 20.0),
        ("2024-01-02T00:00:00Z", "published", 999.0),
    ]

    # 1h is built from the coarsest finer interval present: here 15m, once published.
    await feed.bar(bar("TSLA", "15m", DAY0, volume=7))
    await bars_stored(pool, 16)
    hourly = (await client.get("/v1/bars/TSLA", params={"interval": "1h", "start": DAY0.isoformat(),
                                                        "end": end})).json()  # fmt: skip
    assert [(b["start"], b["volume"]) for b in hourly] == [("2024-01-02T00:00:00Z", 7.0)]


async def test_bars_carry_etag_and_cache_control(md_app: MdApp, feed: Feed, pool: asyncpg.Pool) -> None:
    client = md_app.client()
    await feed.bar(bar("NVDA", "1d", DAY0))
    await bars_stored(pool, 1)
    params = {"interval": "1d", "start": "2024-01-01T00:00:00Z", "end": "2024-01-05T00:00:00Z"}
    first = await client.get("/v1/bars/NVDA", params=params)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert len(etag) == 34
    assert first.headers["cache-control"] == "public, max-age=60"  # a range wholly in the past

    same = await client.get("/v1/bars/NVDA", params=params, headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag
    weak_list = await client.get("/v1/bars/NVDA", params=params, headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak_list.status_code == 304
    other = await client.get("/v1/bars/NVDA", params=params, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200
    assert other.json() == first.json()

    await feed.bar(bar("NVDA", "1d", DAY0 + timedelta(days=1)))
    await bars_stored(pool, 2)
    changed = await client.get("/v1/bars/NVDA", params=params, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(changed.json()) == 2

    open_range = await client.get("/v1/bars/NVDA", params={"interval": "1d"})
    assert open_range.headers["cache-control"] == "public, max-age=5"


def test_etag_matching_follows_rfc_9110() -> None:
    assert etag_matches("*", '"a"')
    assert etag_matches('"b", "a"', '"a"')
    assert etag_matches('W/"a"', '"a"')
    assert not etag_matches('"ab"', '"a"')


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/bars/BRK.B", {}, "symbol"),
        ("/v1/bars/AAPL", {"interval": "2m"}, "interval"),
        ("/v1/bars/AAPL", {"interval": ""}, "interval"),
        ("/v1/bars/AAPL", {"start": "2024-01-03T00:00:00Z", "end": "2024-01-02T00:00:00Z"}, "end"),
        ("/v1/bars/AAPL", {"start": "2024-01-02T00:00:00Z", "end": "2024-01-02T00:00:00Z"}, "end"),
        ("/v1/bars/AAPL", {"start": "1900-01-01T00:00:00Z"}, "start"),
        ("/v1/bars/AAPL", {"end": "3000-01-01T00:00:00Z"}, "end"),
        ("/v1/bars/AAPL", {"start": "0001-01-01T00:00:00Z"}, "start"),
        ("/v1/bars/AAPL", {"start": "yesterday"}, "start"),
        ("/v1/bars/AAPL", {"end": "2024-13-45"}, "end"),
        ("/v1/bars/AAPL", {"start": "2999-01-01T00:00:00Z"}, "start"),
        ("/v1/bars/AAPL", {"limit": "0"}, "limit"),
        ("/v1/bars/AAPL", {"limit": "-3"}, "limit"),
        ("/v1/bars/AAPL", {"limit": "ten"}, "limit"),
        ("/v1/bars/AAPL", {"limit": "1.5"}, "limit"),
    ],
)
async def test_bad_bars_requests_are_400_naming_the_parameter(
    md_app: MdApp, path: str, params: dict[str, str], field: str
) -> None:
    answer = await md_app.client().get(path, params=params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["extra"]["field"] == field, body
    assert body["extra"]["code"] == "invalid_parameter"
    assert body["detail"].startswith(field)


async def test_unknown_and_known_symbols(md_app: MdApp, feed: Feed, pool: asyncpg.Pool) -> None:
    client = md_app.client()
    unknown = await client.get("/v1/bars/NOPE", params={"interval": "1d"})
    assert unknown.status_code == 404
    assert unknown.json()["extra"]["code"] == "unknown_symbol"
    # Known symbol, nothing in range: an empty list, not a 404.
    await feed.bar(bar("AMD", "1m", DAY0))
    await bars_stored(pool, 1)
    empty = await client.get("/v1/bars/AMD", params={"interval": "1d", "start": "2020-01-01T00:00:00Z",
                                                     "end": "2020-02-01T00:00:00Z"})  # fmt: skip
    assert empty.status_code == 200
    assert empty.json() == []
    # A symbol with a quote but no bars is known too.
    await feed.quote(quote("QONLY"))
    await served(client, "/v1/quotes/QONLY")
    assert (await client.get("/v1/bars/QONLY")).json() == []


async def test_limit_is_capped_at_5000(md_app: MdApp, feed: Feed, pool: asyncpg.Pool) -> None:
    rows = [
        ("BIG", "1m", DAY0 + timedelta(minutes=i), DAY0 + timedelta(minutes=i + 1), 1.0, 1.0, 1.0, 1.0, 1.0)
        for i in range(5003)
    ]
    await pool.copy_records_to_table(
        "bars",
        records=rows,
        columns=["symbol", "bar_interval", "starts_at", "ends_at", "open", "high", "low", "close", "volume"],
    )
    answer = await md_app.client().get("/v1/bars/BIG", params={"interval": "1m", "limit": 10_000_000,
                                                               "start": DAY0.isoformat()})  # fmt: skip
    bars = answer.json()
    assert len(bars) == 5000
    assert bars[-1]["start"] == (DAY0 + timedelta(minutes=5002)).isoformat().replace("+00:00", "Z")


async def test_malformed_bars_on_the_bus_are_dropped(md_app: MdApp, feed: Feed, pool: asyncpg.Pool) -> None:
    # A bar on the subject of another symbol, and one that is no bar at all: both terminated.
    await feed.raw(subjects.marketdata_bar("1m", "OTHER"), b"not json")
    await feed.raw(subjects.marketdata_bar("1m", "OTHER"), encode(bar("AAPL", "1m", DAY0)))
    await feed.bar(bar("GOOD", "1m", DAY0))
    await bars_stored(pool, 1)
    assert [r["symbol"] for r in await pool.fetch("SELECT symbol FROM bars")] == ["GOOD"]


# ---------------------------------------------------------------------- funds and halts


async def test_funds_report_nav_pnl_and_halts(md_app: MdApp, feed: Feed) -> None:
    client = md_app.client()
    before = (await client.get("/v1/funds")).json()
    assert [f["fund_id"] for f in before] == ["paper-momentum", "live-equities"]
    assert before[0] == {
        "fund_id": "paper-momentum", "mode": "paper", "nav": None, "day_pnl": None, "halted": False,
        "halts": [], "halted_strategies": [], "last_update": None,
    }  # fmt: skip

    nav = await feed.nav("paper-momentum", 1_250_000.0, -3_400.25)
    strategy_halt = halt("STRATEGY_HALT", fund_id="paper-momentum", strategy_id="mom-us-eq")
    fund_halt = halt("FUND_HALT", fund_id="live-equities")
    await feed.put_halt("strategy.mom-us-eq", strategy_halt)
    await feed.put_halt("fund.live-equities", fund_halt)

    async def updated() -> bool:
        funds = (await client.get("/v1/funds")).json()
        return bool(funds[0]["nav"] is not None and funds[1]["halted"] and funds[0]["halts"])

    await wait_for(updated, what="NAV and halts in /v1/funds")
    momentum, live = (await client.get("/v1/funds")).json()
    assert (momentum["nav"], momentum["day_pnl"]) == (1_250_000.0, -3_400.25)
    assert momentum["last_update"] == nav.ts.isoformat().replace("+00:00", "Z")
    assert momentum["halted"] is False
    assert momentum["halted_strategies"] == ["mom-us-eq"]
    assert live["halted"] is True
    assert [h["halt_id"] for h in live["halts"]] == [fund_halt.halt_id]

    halts = (await client.get("/v1/halts")).json()
    assert [(h["key"], h["severity"], h["halt_id"]) for h in halts] == [
        ("fund.live-equities", "FUND_HALT", fund_halt.halt_id),
        ("strategy.mom-us-eq", "STRATEGY_HALT", strategy_halt.halt_id),
    ]
    assert halts[0]["reason"] == "test halt"
    assert halts[0]["requested_by"] == "operator:alice"

    # A resumed halt leaves the bucket, and the mirror.
    await feed.delete_halt("fund.live-equities")

    async def resumed() -> bool:
        return [h["key"] for h in (await client.get("/v1/halts")).json()] == ["strategy.mom-us-eq"]

    await wait_for(resumed, what="the deleted key to leave /v1/halts")
    assert (await client.get("/v1/funds")).json()[1]["halted"] is False


async def test_halts_in_the_bucket_before_start_are_mirrored_at_once(
    app_factory: Callable[..., Awaitable[MdApp]], feed: Feed
) -> None:
    firm = halt("FIRM_HALT")
    await feed.put_halt("firm", firm)
    app = await app_factory()
    halts = (await app.client().get("/v1/halts")).json()
    assert [h["halt_id"] for h in halts] == [firm.halt_id]
    funds = (await app.client().get("/v1/funds")).json()
    assert all(f["halted"] for f in funds)


async def test_without_a_funds_file_funds_is_empty(app_factory: Callable[..., Awaitable[MdApp]]) -> None:
    app = await app_factory(funds=False)
    answer = await app.client().get("/v1/funds")
    assert answer.status_code == 200
    assert answer.json() == []


async def test_postgres_down_is_a_503_for_bars_while_quotes_stay(md_app: MdApp, feed: Feed) -> None:
    client = md_app.client()
    await feed.quote(quote("UP"))
    await served(client, "/v1/quotes/UP")
    await md_app.context.pool.close()  # the store cannot answer
    answer = await client.get("/v1/bars/UP", params={"interval": "1d"})
    assert answer.status_code == 503
    assert answer.json()["extra"]["code"] == "unavailable"
    assert (await client.get("/v1/quotes/UP")).status_code == 200


async def test_openapi_documents_every_route_and_error(md_app: MdApp) -> None:
    schema = (await md_app.client().get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in ("/v1/quotes/{symbol}", "/v1/bars/{symbol}", "/v1/funds", "/v1/halts"):
        operation = paths[path]["get"]
        assert operation["tags"] == ["market data"]
        assert operation["summary"]
        assert {"400", "429"} <= set(operation["responses"]), path
    assert {"304", "404", "503"} <= set(paths["/v1/bars/{symbol}"]["get"]["responses"])
    assert "404" in paths["/v1/quotes/{symbol}"]["get"]["responses"]
    assert "ETag" in paths["/v1/bars/{symbol}"]["get"]["responses"]["200"]["headers"]


async def test_healthz_is_served(md_app: MdApp) -> None:
    answer = await md_app.client().get("/v1/healthz")
    assert answer.status_code == 200
    assert answer.json()["service"] == "marketdata-api"
