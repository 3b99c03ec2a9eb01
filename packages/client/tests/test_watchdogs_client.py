"""WatchdogsClient: the requests it sends and the answers it reads, byte for byte.

The answers have the exact shape the service answers (pinned in
services/watchdogs/tests/service/test_wire_shapes.py), served through httpx.MockTransport;
packages/cli/tests/test_watchdog_cli.py runs the client against a real service.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import msgspec

from mts1b_operations.client import ClientConfig, WatchdogFiringSubject, WatchdogsClient, WatchdogView

VPIN = (
    b'{"name":"vpin","kind":"vpin","alert_subject":"mts.v1.operations.watchdog.vpin",'
    b'"inputs":"mts.v1.marketdata.trade.*","status":"paused","paused_until":"2026-11-25T14:37:28.034120Z",'
    b'"paused_by":"operator:olga","pause_reason":"drill","params":{"for":1,"repeat_interval":0.0,'
    b'"threshold":0.5,"clear":0.2,"bucket_volume":100.0,"bucket_volumes":{},"window":3,"bar_seconds":60},'
    b'"overrides":{"window":3},"updated_at":"2026-11-25T14:27:27.972022Z","updated_by":"operator:olga",'
    b'"active":true,"evaluations":1,"last_value":1.0,"last_subject":"ACME",'
    b'"last_evaluated_at":"2026-11-25T14:27:28.004426Z","last_alert_at":"2026-11-25T14:27:28.004426Z",'
    b'"firing":[{"subject_id":"ACME","since":"2026-11-25T14:27:28.004426Z","notified":false,"value":1.0,'
    b'"threshold":0.5,"message":"VPIN of ACME is 1.000","episode":"9e70b5e2219b4842a392808f7941a24e"}]}'
)
NEWS = (
    b'{"name":"news_spike","kind":"news","alert_subject":"mts.v1.operations.watchdog.news",'
    b'"inputs":"not run by this instance","status":"running","paused_until":null,"paused_by":null,'
    b'"pause_reason":null,"params":{"for":1,"threshold":5.0,"timezone":"UTC"},"overrides":{},'
    b'"updated_at":null,"updated_by":null,"active":false,"evaluations":0,"last_value":null,'
    b'"last_subject":null,"last_evaluated_at":null,"last_alert_at":null,"firing":[]}'
)
LIST = b'{"watchdogs":[' + VPIN + b"," + NEWS + b'],"count":2}'


def serving() -> tuple[WatchdogsClient, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = LIST if request.url.path == "/v1/watchdogs" else VPIN
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    config = ClientConfig(watchdogs_url="http://watchdogs.test:8103", token="mts_op", get_attempts=1)
    return WatchdogsClient.from_env(config, transport=httpx.MockTransport(handler)), requests


async def test_every_answer_decodes_and_encodes_back_to_the_same_bytes() -> None:
    client, _ = serving()
    async with client:
        listed = await client.list_watchdogs()
        shown = await client.show("vpin")
    assert [type(w) for w in listed] == [WatchdogView, WatchdogView]
    vpin, news = listed
    assert vpin == shown
    assert (vpin.status, vpin.paused_by, vpin.overrides) == ("paused", "operator:olga", {"window": 3})
    assert vpin.paused_until == datetime(2026, 11, 25, 14, 37, 28, 34120, tzinfo=UTC)
    [firing] = vpin.firing
    assert isinstance(firing, WatchdogFiringSubject)
    assert (firing.subject_id, firing.notified, firing.value) == ("ACME", False, 1.0)
    assert (news.active, news.firing, news.last_evaluated_at) == (False, [], None)
    # Every field the service sends is kept, in the service's order and encoding.
    assert msgspec.json.encode(shown) == VPIN
    assert msgspec.json.encode({"watchdogs": listed, "count": 2}) == LIST


async def test_the_requests_sent() -> None:
    client, requests = serving()
    async with client:
        await client.configure("vpin", {"for": 2}, threshold=0.45, window=None)
        await client.pause("vpin", duration="30m", reason="earnings")
        await client.pause("vpin", until=datetime(2026, 1, 2, tzinfo=UTC))
        await client.resume("vpin")
        await client.show("a/b")
    assert [(r.method, r.url.raw_path) for r in requests] == [
        ("PUT", b"/v1/watchdogs/vpin/config"),
        ("POST", b"/v1/watchdogs/vpin/pause"),
        ("POST", b"/v1/watchdogs/vpin/pause"),
        ("POST", b"/v1/watchdogs/vpin/resume"),
        ("GET", b"/v1/watchdogs/a%2Fb"),
    ]
    assert json.loads(requests[0].content) == {"for": 2, "threshold": 0.45, "window": None}
    assert json.loads(requests[1].content) == {"for": "30m", "reason": "earnings"}
    assert json.loads(requests[2].content) == {"until": "2026-01-02T00:00:00+00:00"}


def test_the_answer_types_are_cores_wire_shapes() -> None:
    # The service encodes these very Structs: one definition, nothing to keep in step by hand.
    from mts1b_operations.core.schemas import watchdogs_api

    assert (WatchdogView, WatchdogFiringSubject) == (watchdogs_api.WatchdogView, watchdogs_api.FiringSubject)
