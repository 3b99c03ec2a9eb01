"""HaltClient: the requests it sends and the answers it reads, byte for byte.

The unit tests serve answers in the exact shape the service answers (pinned, field by field and
byte by byte, in services/halt/tests/service/test_wire_shapes.py) through httpx.MockTransport;
services/halt/tests/service/test_http.py runs the client against the service in-process.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import msgspec

from mts1b_operations.client import (
    ClientConfig,
    Halt,
    HaltAnswer,
    HaltClient,
    HaltStatus,
    OmsCommandOutcome,
    OmsCommandReport,
    ResumeAnswer,
    ResumePreflight,
    ResumeResult,
)
from mts1b_operations.core.schemas import OmsCommandAck

Handler = Callable[[httpx.Request], httpx.Response]

FUND_HALT = (
    b'{"halt_id":"d21a3f93-adae-4f6a-861f-19ea4cd6d221","scope":"fund.paper-momentum","severity":"FUND_HALT",'
    b'"mode":"block_new","fund_id":"paper-momentum","strategy_id":null,"reason":"daily PL -3.2%",'
    b'"requested_by":"operator:alice","requested_at":"2024-01-02T14:17:30.835280Z",'
    b'"triggered_by_watchdog":null,"watchdog_subject_id":null,"request_count":2,"active":true,'
    b'"resumed_at":null,"resumed_by":null,"cosigned_by":null,"resume_reason":null,"forced":false}'
)
FIRM_HALT = (
    b'{"halt_id":"c759c569-1474-46a7-9b60-b1e68cfbf6ef","scope":"firm","severity":"FIRM_HALT",'
    b'"mode":"cancel_open","fund_id":null,"strategy_id":null,"reason":"drill","requested_by":"operator:bob",'
    b'"requested_at":"2024-01-02T14:17:30Z","triggered_by_watchdog":null,"watchdog_subject_id":null,'
    b'"request_count":1,"active":true,"resumed_at":null,"resumed_by":null,"cosigned_by":null,'
    b'"resume_reason":null,"forced":false}'
)
FUND_RESUMED = (
    FUND_HALT.replace(b'"active":true', b'"active":false')
    .replace(b'"resumed_at":null', b'"resumed_at":"2024-01-02T14:20:00.898403Z"')
    .replace(b'"resumed_by":null', b'"resumed_by":"operator:alice"')
    .replace(b'"cosigned_by":null', b'"cosigned_by":"operator:alice"')
    .replace(b'"resume_reason":null', b'"resume_reason":"ok"')
)
OUTCOME = (
    b'{"command_id":"5a74c30b-7384-4478-b7d7-8e1122fdc49e","command":"cancel_all","fund_ids":[],'
    b'"paper_only":false,"acks":[{"type":"OmsCommandAck","command_id":"5a74c30b-7384-4478-b7d7-8e1122fdc49e",'
    b'"responder":"oms-a","command":"cancel_all","ok":true,"orders_cancelled":3,"positions_closed":1,'
    b'"error":null,"acked_at":"2024-01-02T14:17:30.879291Z"}],"expected_responders":["oms-a","oms-b"],'
    b'"missing":["oms-b"],"failed":[],"no_responders":false,"timed_out":true,"invalid_replies":0,'
    b'"orders_cancelled":3,"positions_closed":1,"elapsed":1.001198,"complete":false}'
)
CREATED = (
    b'{"outcome":"created","message":"FIRM_HALT c759c569-1474-46a7-9b60-b1e68cfbf6ef on firm is in force '
    b'(cancel_open)","halt":' + FIRM_HALT + b',"oms_command":{"sent":true,"detail":"cancel_all: oms-b '
    b'did not ack","outcome":' + OUTCOME + b"}}"
)
PREFLIGHT = (
    b'{"scope":"fund.paper-momentum","halt":' + FUND_HALT + b',"inherited":[' + FIRM_HALT + b"],"
    b'"watchdog":null,"watchdog_subject_id":null,"watchdog_firing":false,"needs_force":false,'
    b'"needs_two_operators":false,"message":"can be resumed; stays halted by FIRM_HALT"}'
)
RESUMED = (
    b'{"result":{"resumed":' + FUND_RESUMED + b',"still_halted":true,"halted_by":[' + FIRM_HALT + b"],"
    b'"message":"still halted by FIRM_HALT"},"preflight":' + PREFLIGHT + b"}"
)
STATUS = (
    b'{"scope":"fund.paper-momentum","halted":true,"halts":[' + FIRM_HALT + b"," + FUND_HALT + b"],"
    b'"since":"2024-01-02T14:17:30.835280Z"}'
)
ACTIVE = b'{"halts":[' + FUND_HALT + b"," + FIRM_HALT + b'],"count":2}'
HISTORY = b'{"halts":[' + FUND_RESUMED + b'],"count":1}'
ANSWERS = {
    ("POST", "/v1/halts"): CREATED,
    ("POST", "/v1/halts/resume"): RESUMED,
    ("GET", "/v1/halts"): ACTIVE,
    ("GET", "/v1/halts/status"): STATUS,
    ("GET", "/v1/halts/history"): HISTORY,
    ("GET", "/v1/halts/preflight"): PREFLIGHT,
    ("POST", "/v1/oms/cancel-all"): OUTCOME,
    ("POST", "/v1/oms/flatten-paper"): OUTCOME,
}


def serving(answers: dict[tuple[str, str], bytes]) -> tuple[HaltClient, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = answers.get((request.method, request.url.path))
        if body is None:
            return httpx.Response(404, json={"status_code": 404, "detail": "no", "extra": {}})
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    config = ClientConfig(halt_url="http://halt.test:8102", token="mts_test", get_attempts=1)
    return HaltClient.from_env(config, transport=httpx.MockTransport(handler)), requests


async def test_every_answer_decodes_and_encodes_back_to_the_same_bytes() -> None:
    client, _ = serving(ANSWERS)
    async with client:
        created = await client.request("FIRM_HALT", reason="drill")
        resumed = await client.resume("paper-momentum", reason="ok")
        active = await client.list_active()
        status = await client.status(fund_id="paper-momentum")
        history = await client.history(limit=1)
        preflight = await client.preflight("paper-momentum")
        cancelled = await client.cancel_all(reason="drill")
    assert isinstance(created, HaltAnswer)
    assert isinstance(created.halt, Halt)
    assert (created.outcome, created.halt.scope, created.halt.fund_id) == ("created", "firm", None)
    assert isinstance(created.oms_command, OmsCommandReport)
    outcome = created.oms_command.outcome
    assert isinstance(outcome, OmsCommandOutcome)
    assert [type(a) for a in outcome.acks] == [OmsCommandAck]
    assert (outcome.missing, outcome.timed_out, outcome.elapsed) == (["oms-b"], True, 1.001198)
    assert isinstance(resumed, ResumeAnswer)
    assert isinstance(resumed.result, ResumeResult)
    assert isinstance(resumed.preflight, ResumePreflight)
    assert (resumed.result.resumed.active, resumed.result.resumed.resume_reason) == (False, "ok")
    assert resumed.result.halted_by == [created.halt]
    assert [h.scope for h in active] == ["fund.paper-momentum", "firm"]
    assert isinstance(status, HaltStatus)
    assert status.halts == [created.halt, active[0]]
    assert history == [resumed.result.resumed]
    assert preflight == resumed.preflight
    assert cancelled == outcome
    # Every field the service sends is kept, in the service's order and encoding.
    for decoded, wire in (
        (created, CREATED),
        (resumed, RESUMED),
        (status, STATUS),
        (preflight, PREFLIGHT),
        (cancelled, OUTCOME),
    ):
        assert msgspec.json.encode(decoded) == wire
    assert msgspec.json.encode({"halts": active, "count": 2}) == ACTIVE


async def test_the_requests_sent() -> None:
    client, requests = serving(ANSWERS)
    async with client:
        await client.request("FUND_HALT", fund_id="paper-momentum", reason="drill", mode="block_new")
        await client.resume("firm", cosigned_by="operator:bob", cosigner_token="mts_bob", reason="clear")
        await client.status(strategy_id="mom-us-eq")
        await client.history(limit=5)
        await client.preflight()
        await client.flatten_paper(reason="drill", fund_ids=["paper-momentum"])
    assert [(r.method, r.url.path) for r in requests] == [
        ("POST", "/v1/halts"),
        ("POST", "/v1/halts/resume"),
        ("GET", "/v1/halts/status"),
        ("GET", "/v1/halts/history"),
        ("GET", "/v1/halts/preflight"),
        ("POST", "/v1/oms/flatten-paper"),
    ]
    assert {r.headers["authorization"] for r in requests} == {"Bearer mts_test"}
    assert json.loads(requests[0].content) == {
        "severity": "FUND_HALT",
        "reason": "drill",
        "fund_id": "paper-momentum",
        "strategy_id": None,
        "mode": "block_new",
    }
    assert json.loads(requests[1].content) == {
        "scope": "firm",
        "force": False,
        "cosigned_by": "operator:bob",
        "reason": "clear",
    }
    assert requests[1].headers["x-mts-cosigner-token"] == "mts_bob"
    assert dict(requests[2].url.params) == {"strategy_id": "mom-us-eq"}
    assert dict(requests[3].url.params) == {"limit": "5"}
    assert dict(requests[4].url.params) == {"scope": "firm"}
    assert json.loads(requests[5].content) == {"reason": "drill", "fund_ids": ["paper-momentum"]}


async def test_fields_a_newer_service_adds_are_ignored() -> None:
    newer = STATUS[:-1] + b',"next_review":"2024-01-03T00:00:00Z","tags":["x"]}'
    client, _ = serving({("GET", "/v1/halts/status"): newer})
    async with client:
        status = await client.status(fund_id="paper-momentum")
    assert msgspec.json.encode(status) == STATUS


def test_the_answer_types_are_cores_wire_shapes() -> None:
    # The service encodes these very Structs: one definition, nothing to keep in step by hand.
    from mts1b_operations.core.schemas import halt_api

    assert (
        Halt,
        HaltAnswer,
        HaltStatus,
        OmsCommandOutcome,
        OmsCommandReport,
        ResumeAnswer,
        ResumePreflight,
        ResumeResult,
    ) == (
        halt_api.Halt,
        halt_api.HaltAnswer,
        halt_api.HaltStatus,
        halt_api.OmsCommandOutcome,
        halt_api.OmsCommandReport,
        halt_api.ResumeAnswer,
        halt_api.Preflight,
        halt_api.ResumeResult,
    )
