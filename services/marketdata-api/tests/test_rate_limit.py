"""Per-client rate limiting: the N+1th request of a window is refused, other clients are not;
the trusted proxy header; a limit shared by two instances through the NATS KV store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.settings import SettingsError
from mts1b_operations.marketdata import RateLimitSettings, load_rate_limit_settings, service_spec
from mts1b_operations.marketdata.adapters import NatsKVStore, kv_key
from mts1b_operations.marketdata.ratelimit import CountingRateLimitMiddleware, rate_limit_config

from .conftest import MdApp, wait_for

pytestmark = pytest.mark.timeout(120)

AppFactory = Callable[..., Awaitable[MdApp]]


# ---------------------------------------------------------------------- settings


def test_defaults_and_parsing() -> None:
    assert load_rate_limit_settings({}) == RateLimitSettings(unit="minute", requests=600)
    got = load_rate_limit_settings(
        {
            "MTS_RATE_LIMIT": " second:50 ",
            "MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
            "MTS_RATE_LIMIT_STORE": "NATS",
            "MTS_RATE_LIMIT_BUCKET": "rl_prod",
            "MTS_RATE_LIMIT_STORE_TIMEOUT": "1.5",
        }
    )
    assert got == RateLimitSettings(
        unit="second",
        requests=50,
        trusted_proxy_header="X-Forwarded-For",
        store="nats",
        bucket="rl_prod",
        store_timeout=1.5,
    )
    config = rate_limit_config(got)
    assert config.rate_limit == ("second", 50)
    assert config.middleware_class is CountingRateLimitMiddleware


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MTS_RATE_LIMIT": "50"}, "MTS_RATE_LIMIT"),
        ({"MTS_RATE_LIMIT": "fortnight:5"}, "MTS_RATE_LIMIT"),
        ({"MTS_RATE_LIMIT": "minute:lots"}, "MTS_RATE_LIMIT"),
        ({"MTS_RATE_LIMIT": "minute:0"}, "MTS_RATE_LIMIT"),
        ({"MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER": "X Forwarded"}, "MTS_RATE_LIMIT_TRUSTED_PROXY_HEADER"),
        ({"MTS_RATE_LIMIT_STORE": "redis"}, "MTS_RATE_LIMIT_STORE"),
        ({"MTS_RATE_LIMIT_BUCKET": "a.b"}, "MTS_RATE_LIMIT_BUCKET"),
        ({"MTS_RATE_LIMIT_STORE_TIMEOUT": "soon"}, "MTS_RATE_LIMIT_STORE_TIMEOUT"),
        ({"MTS_RATE_LIMIT_STORE_TIMEOUT": "0"}, "MTS_RATE_LIMIT_STORE_TIMEOUT"),
        ({"MTS_RATE_LIMIT_STORE_TIMEOUT": "60"}, "MTS_RATE_LIMIT_STORE_TIMEOUT"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_rate_limit_settings(env)
    assert caught.value.variable == variable


def test_a_bad_setting_stops_the_service_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        service_spec({"MTS_RATE_LIMIT": "often"})
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("mts1b-marketdata-api: configuration error: MTS_RATE_LIMIT:")


def test_kv_keys_keep_distinct_clients_distinct() -> None:
    assert kv_key("plain-key_1") == "plain-key_1"
    assert kv_key("Limiter::10.0.0.1") == "Limiter=3A=3A10=2E0=2E0=2E1"
    assert kv_key("a:b") != kv_key("a=3Ab")
    assert kv_key("::1") != kv_key("::2")


# ---------------------------------------------------------------------- one instance


async def test_the_request_past_the_limit_is_refused_other_clients_are_not(app_factory: AppFactory) -> None:
    app = await app_factory(RateLimitSettings(unit="minute", requests=3))
    first, second = app.client("198.51.100.1"), app.client("198.51.100.2")
    answers = [await first.get("/v1/halts") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["ratelimit-limit"] == "3"
    assert answers[0].headers["ratelimit-policy"] == "3; w=60"
    assert 0 < int(answers[0].headers["ratelimit-reset"]) <= 60

    refused = await first.get("/v1/funds")  # the budget spans routes
    assert refused.status_code == 429
    body = refused.json()
    assert body["extra"]["code"] == "rate_limited"
    assert "3 requests per minute" in body["detail"]
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert body["extra"]["retry_after"] == retry_after
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["content-type"].startswith("application/json")

    assert (await second.get("/v1/halts")).status_code == 200
    # Health, readiness, metrics and the schema are outside the limit.
    for path in ("/v1/healthz", "/v1/readyz", "/metrics", "/schema/openapi.json"):
        assert (await first.get(path)).status_code == 200, path
    assert (await first.get("/v1/quotes/AAPL")).status_code == 429


async def test_a_new_window_admits_again(app_factory: AppFactory) -> None:
    app = await app_factory(RateLimitSettings(unit="second", requests=2))
    client = app.client("198.51.100.9")
    statuses = []
    for _ in range(30):  # on a loaded machine a window may pass before a third request in one
        statuses.append((await client.get("/v1/halts")).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses

    async def admitted() -> bool:
        return (await client.get("/v1/halts")).status_code == 200

    await wait_for(admitted, within=10, what="a request admitted in the next one-second window")


async def test_the_proxy_header_is_ignored_unless_trusted(app_factory: AppFactory) -> None:
    app = await app_factory(RateLimitSettings(unit="minute", requests=2))
    proxy = app.client("10.0.0.2")
    for ip in ("192.0.2.1", "192.0.2.2"):
        answer = await proxy.get("/v1/halts", headers={"X-Forwarded-For": ip})
        assert answer.status_code == 200
    # Untrusted, the header does not make a third client out of the same peer.
    refused = await proxy.get("/v1/halts", headers={"X-Forwarded-For": "192.0.2.3"})
    assert refused.status_code == 429


async def test_a_trusted_proxy_header_names_the_client(app_factory: AppFactory) -> None:
    app = await app_factory(
        RateLimitSettings(unit="minute", requests=2, trusted_proxy_header="X-Forwarded-For")
    )
    proxy = app.client("10.0.0.2")

    async def get(forwarded: str | None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
        return (await proxy.get("/v1/halts", headers=headers)).status_code

    assert [await get("192.0.2.1") for _ in range(3)] == [200, 200, 429]
    # Another client behind the same proxy has its own budget.
    assert await get("192.0.2.2") == 200
    # What the client itself put first is ignored: the proxy's rightmost entry counts.
    assert await get("192.0.2.99, 192.0.2.1") == 429
    assert await get("192.0.2.1, 192.0.2.2") == 200
    assert await get("192.0.2.1, 192.0.2.2") == 429
    # No usable header: the peer (the proxy) is the client.
    assert [await get(None), await get("not-an-ip"), await get("")] == [200, 200, 429]


# ---------------------------------------------------------------------- replicas sharing the limit


def shared(requests: int, bucket: str = "rl_test", store_timeout: float = 10.0) -> RateLimitSettings:
    # The store fails open after store_timeout: a slow compare-and-set on a loaded machine would
    # admit a request that the limit refuses, so the tests give it the longest allowed bound.
    return RateLimitSettings(
        unit="minute", requests=requests, store="nats", bucket=bucket, store_timeout=store_timeout
    )


async def test_two_instances_share_one_limit_through_nats(app_factory: AppFactory) -> None:
    one, two = await app_factory(shared(4)), await app_factory(shared(4))
    clients = [one.client("198.51.100.20"), two.client("198.51.100.20")]
    statuses = [(await clients[i % 2].get("/v1/halts")).status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    remaining = (await one.client("198.51.100.21").get("/v1/halts")).headers["ratelimit-remaining"]
    assert remaining == "3"  # another client, untouched by the first one's count
    refused = await clients[1].get("/v1/funds")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_concurrent_requests_on_two_instances_never_exceed_the_limit(app_factory: AppFactory) -> None:
    limit = 10
    patient = shared(limit)  # 30 compare-and-sets racing on one key
    one, two = await app_factory(patient), await app_factory(patient)
    clients = [one.client("198.51.100.30"), two.client("198.51.100.30")]
    answers = await asyncio.gather(*(clients[i % 2].get("/v1/halts") for i in range(3 * limit)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == 2 * limit


async def test_the_shared_store_is_a_litestar_store(bus: Bus) -> None:
    store = await NatsKVStore.open(bus, "rl_store_test", ttl=60, op_timeout=10.0)
    assert await store.get("k") is None
    assert not await store.exists("k")
    await store.set("k", "v1", expires_in=30)
    assert await store.get("k") == b"v1"
    assert 0 < (await store.expires_in("k") or 0) <= 30
    value, revision = await store.get_versioned("k")
    assert value == b"v1"
    assert await store.compare_and_set("k", b"v2", revision)
    assert not await store.compare_and_set("k", b"v3", revision)  # a stale revision loses
    assert await store.get("k") == b"v2"
    await store.set("gone", b"x", expires_in=3)  # not gone before the next line on a slow machine
    assert await store.get("gone") == b"x"

    async def expired() -> bool:
        return await store.get("gone") is None

    await wait_for(expired, within=15, what="the value to expire")
    await store.delete("k")
    assert await store.get("k") is None
    _, tombstone = await store.get_versioned("k")
    assert await store.compare_and_set("k", b"again", tombstone)  # a deleted key can be written anew
    await store.delete_all()
    assert await store.get("k") is None


async def test_a_failing_shared_store_admits_requests(app_factory: AppFactory, bus: Bus) -> None:
    app = await app_factory(shared(1, bucket="rl_gone"))
    client = app.client("198.51.100.40")
    assert (await client.get("/v1/halts")).status_code == 200
    assert (await client.get("/v1/halts")).status_code == 429
    await bus.js.delete_stream("KV_rl_gone")  # the store can no longer answer
    answer = await client.get("/v1/halts")
    assert answer.status_code == 200  # fail open: market data stays readable
    assert "ratelimit-limit" not in answer.headers


async def test_a_client_of_the_api_sees_a_429_as_an_api_error(app_factory: AppFactory) -> None:
    from mts1b_operations.client import ApiError, MarketDataClient

    app = await app_factory(RateLimitSettings(unit="minute", requests=1))
    transport = httpx.ASGITransport(app=app.app, client=("198.51.100.50", 1))  # type: ignore[arg-type]
    async with MarketDataClient("http://marketdata.test", transport=transport) as client:
        assert await client.halts() == []
        with pytest.raises(ApiError) as caught:
            await client.halts()
    assert caught.value.status == 429
    assert caught.value.code == "rate_limited"
