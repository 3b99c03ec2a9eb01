"""The service as its own process: published data served, served again right after a restart
(quotes warm-started from the stream), the rate limit over real TCP, a bad setting exits 2."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mts1b_operations.client import BadRequestError, MarketDataClient, NotFoundError
from mts1b_operations.core.testing import ServiceProcess, start_service

from .conftest import DAY0, Feed, bar, halt, quote, wait_for

pytestmark = pytest.mark.timeout(180)

MODULE = "mts1b_operations.marketdata"


def env(funds_file: Path, **more: str) -> dict[str, str | None]:
    return {"MTS_FUNDS_FILE": str(funds_file), "MTS_RATE_LIMIT": "second:100000", **more}


async def start(
    md_db: str, nats_url: str, tmp_path: Path, environment: dict[str, str | None]
) -> ServiceProcess:
    return await asyncio.to_thread(
        start_service, MODULE, database_url=md_db, nats_url=nats_url, log_dir=tmp_path, env=environment
    )


async def test_served_then_served_again_after_a_restart(
    md_db: str, nats_url: str, tmp_path: Path, feed: Feed, funds_file: Path
) -> None:
    service = await start(md_db, nats_url, tmp_path, env(funds_file))
    try:
        ts = datetime.now(UTC)
        await feed.quote(quote("AAPL", bid=189.5, ask=189.7, ts=ts))
        await feed.quote(quote("MSFT", bid=401.0, ask=401.5, ts=ts))
        for hour in range(3):
            await feed.bar(bar("AAPL", "1h", DAY0 + timedelta(hours=hour), close=10 + hour, high=20))
        await feed.nav("paper-momentum", 2_000_000.0, 512.25)
        await feed.put_halt("fund.live-equities", halt("FUND_HALT", fund_id="live-equities"))

        async with MarketDataClient(service.base_url) as client:

            async def all_served() -> bool:
                try:
                    bars = await client.bars("AAPL", "1h", start=DAY0, end=DAY0 + timedelta(days=1))
                    funds = await client.funds()
                    await client.quote("MSFT")
                except NotFoundError:
                    return False
                return len(bars) == 3 and funds[0].nav is not None and funds[1].halted

            await wait_for(all_served, within=20, what="quotes, bars, NAV and halts served")
            assert (await client.quote("AAPL")).bid == 189.5

        assert await asyncio.to_thread(service.stop) == 0, service.stderr()

        restarted = await start(md_db, nats_url, tmp_path, env(funds_file))
        try:
            # Ready means warm: no waiting for the feed to come by again.
            async with MarketDataClient(restarted.base_url) as client:
                got = await client.quote("AAPL")
                assert (got.symbol, got.bid, got.ask, got.ts) == ("AAPL", 189.5, 189.7, ts)
                assert (await client.quote("MSFT")).ask == 401.5
                bars = await client.bars("AAPL", "1h", start=DAY0, end=DAY0 + timedelta(days=1))
                assert [b.close for b in bars] == [10, 11, 12]
                momentum, live = await client.funds()
                assert (momentum.nav, momentum.day_pnl) == (2_000_000.0, 512.25)
                assert live.halted
                assert [h.key for h in await client.halts()] == ["fund.live-equities"]
                with pytest.raises(NotFoundError) as unknown:
                    await client.quote("NOPE")
                assert unknown.value.code == "unknown_symbol"
                with pytest.raises(BadRequestError) as bad:
                    await client.bars("AAPL", "1h", start=DAY0 + timedelta(days=1), end=DAY0)
                assert bad.value.field == "end"
                with pytest.raises(BadRequestError) as malformed:
                    await client.quote("BRK.B")
                assert malformed.value.field == "symbol"
            assert await asyncio.to_thread(restarted.stop) == 0, restarted.stderr()
        finally:
            restarted.stop(timeout=5)
    finally:
        service.stop(timeout=5)


async def test_rate_limit_over_tcp_behind_a_trusted_proxy(
    md_db: str, nats_url: str, tmp_path: Path, funds_file: Path
) -> None:
    environment = env(
        funds_file, MTS_RATE_LIMIT="minute:5", MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER="X-Forwarded-For"
    )
    service = await start(md_db, nats_url, tmp_path, environment)
    try:
        import httpx

        async with httpx.AsyncClient(base_url=service.base_url) as http:

            async def status(ip: str) -> int:
                return (await http.get("/v1/funds", headers={"X-Forwarded-For": ip})).status_code

            assert [await status("192.0.2.10") for _ in range(6)] == [200] * 5 + [429]
            refused = await http.get("/v1/funds", headers={"X-Forwarded-For": "192.0.2.10"})
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["ratelimit-limit"] == "5"
            assert await status("192.0.2.11") == 200
            assert (await http.get("/v1/healthz")).status_code == 200
    finally:
        assert await asyncio.to_thread(service.stop) == 0


def test_a_bad_rate_limit_setting_exits_2_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", MODULE],
        env={"MTS_RATE_LIMIT": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "MTS_RATE_LIMIT" in lines[0]
