"""The halt service's HTTP API in-process, on a real Postgres and NATS, with operator tokens."""

from __future__ import annotations

import httpx
import pytest

from mts1b_operations.client import BadRequestError, HaltClient
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import OmsCommand, OmsCommandAck, decode
from mts1b_operations.core.testing import eventually
from mts1b_operations.halt.entrypoints._service import OMS_ACK_FACT, OMS_COMMAND_FACT

from .conftest import FakeOms, HaltApp

FUND_HALT = {
    "severity": "FUND_HALT",
    "fund_id": "paper-momentum",
    "reason": "daily PL -3.2%",
    "mode": "block_new",
}
FIRM_HALT = {"severity": "FIRM_HALT", "reason": "drill", "mode": "block_new"}


async def test_every_route_needs_a_token_and_writes_need_role_operator(halt_app: HaltApp) -> None:
    for method, path in (("GET", "/v1/halts"), ("GET", "/v1/halts/status"), ("POST", "/v1/halts")):
        response = await halt_app.http.request(method, path, json=FUND_HALT if method == "POST" else None)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
    forged = await halt_app.http.post(
        "/v1/halts", json=FUND_HALT, headers={"Authorization": "Bearer mts_forged"}
    )
    assert forged.status_code == 401
    as_viewer = await halt_app.post("/v1/halts", "vera", FUND_HALT)
    assert as_viewer.status_code == 403
    assert "operator" in as_viewer.json()["detail"]
    as_viewer = await halt_app.post("/v1/halts/resume", "vera", {"scope": "firm"})
    assert as_viewer.status_code == 403
    assert (await halt_app.get("/v1/halts", "vera")).json() == {"halts": [], "count": 0}, "a viewer may read"
    assert await halt_app.service.manager.list_active() == [], "a refused request halted something"


async def test_a_request_is_recorded_as_the_calling_operator_and_a_repeat_returns_the_halt(
    halt_app: HaltApp,
) -> None:
    first = await halt_app.post("/v1/halts", "alice", FUND_HALT)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["outcome"] == "created"
    halt = body["halt"]
    assert halt["requested_by"] == "operator:alice"
    assert (halt["severity"], halt["fund_id"], halt["scope"], halt["mode"]) == (
        "FUND_HALT",
        "paper-momentum",
        "fund.paper-momentum",
        "block_new",
    )
    assert body["oms_command"]["sent"] is False
    assert "block_new" in body["oms_command"]["detail"]

    again = await halt_app.post("/v1/halts", "bob", {**FUND_HALT, "reason": "me too"})
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "already_halted"
    assert again.json()["halt"]["halt_id"] == halt["halt_id"]
    assert again.json()["halt"]["requested_by"] == "operator:alice"
    assert "already halted" in again.json()["message"]

    active = (await halt_app.get("/v1/halts")).json()
    assert [h["halt_id"] for h in active["halts"]] == [halt["halt_id"]]
    status = (await halt_app.get("/v1/halts/status", strategy_id="mom-us-eq")).json()
    assert status["halted"] is True
    assert status["scope"] == "strategy.mom-us-eq"
    assert [h["halt_id"] for h in status["halts"]] == [halt["halt_id"]]
    assert (await halt_app.get("/v1/halts/status", fund_id="paper-meanrev")).json()["halted"] is False
    history = (await halt_app.get("/v1/halts/history", limit=5)).json()
    assert [h["halt_id"] for h in history["halts"]] == [halt["halt_id"]]
    requests = await halt_app.service.manager.requests(halt["halt_id"])
    assert [r.requested_by for r in requests] == ["operator:alice", "operator:bob"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**FUND_HALT, "severity": "PANIC"}, "severity"),
        ({k: v for k, v in FUND_HALT.items() if k != "reason"}, "reason"),
        ({**FUND_HALT, "reason": ""}, "reason"),
        ({**FUND_HALT, "mode": "liquidate"}, "mode"),
        ({**FUND_HALT, "colour": "red"}, "colour"),
        ({"severity": "FUND_HALT", "reason": "x"}, "fund_id"),
        ({**FUND_HALT, "fund_id": "no-such-fund"}, "fund_id"),
        ({"severity": "STRATEGY_HALT", "strategy_id": "nope", "reason": "x"}, "strategy_id"),
        ({**FUND_HALT, "fund_id": "live-equities", "mode": "flatten"}, "mode"),
        ({**FIRM_HALT, "fund_id": "paper-momentum"}, "fund_id"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    halt_app: HaltApp, body: dict[str, object], field: str
) -> None:
    response = await halt_app.post("/v1/halts", "alice", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["extra"]["field"] == field
    assert error["extra"]["code"] == "invalid"
    assert error["detail"].startswith(f"{field}: ")
    assert await halt_app.service.manager.list_active() == []


async def test_bad_queries_and_a_malformed_body_are_400s(halt_app: HaltApp) -> None:
    for params, field in (({"limit": 0}, "limit"), ({"limit": "many"}, "limit")):
        response = await halt_app.get("/v1/halts/history", **params)
        assert response.status_code == 400, response.text
        assert response.json()["extra"]["field"] == field
    response = await halt_app.get("/v1/halts/status", fund_id="ghost")
    assert (response.status_code, response.json()["extra"]["field"]) == (400, "fund_id")
    response = await halt_app.http.post(
        "/v1/halts",
        content=b"{not json",
        headers={**halt_app.auth("alice"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    for scope in ("ghost", "fund:"):
        response = await halt_app.post("/v1/halts/resume", "alice", {"scope": scope})
        assert (response.status_code, response.json()["extra"]["field"]) == (400, "scope"), response.text


async def test_a_firm_resume_needs_a_second_registered_operator(halt_app: HaltApp) -> None:
    created = await halt_app.post("/v1/halts", "alice", FIRM_HALT)
    assert created.status_code == 201
    halt_id = created.json()["halt"]["halt_id"]

    alone = await halt_app.post(
        "/v1/halts/resume", "alice", {"scope": "firm", "cosigned_by": "operator:alice"}
    )
    assert alone.status_code == 403, alone.text
    assert alone.json()["extra"]["code"] == "second_operator_required"
    assert "two distinct operators" in alone.json()["detail"]

    no_cosigner = await halt_app.post("/v1/halts/resume", "alice", {"scope": "firm"})
    assert (no_cosigner.status_code, no_cosigner.json()["extra"]["field"]) == (400, "cosigned_by")

    for cosigner in ("service:riskengine", "watchdog:portfolio_vol_dd", "operator:mallory", "bob"):
        refused = await halt_app.post("/v1/halts/resume", "alice", {"scope": "firm", "cosigned_by": cosigner})
        assert refused.status_code == 403, (cosigner, refused.text)
        assert refused.json()["extra"]["code"] == "cosigner_not_authenticated", "a name alone never cosigns"
        assert refused.json()["extra"]["field"] == "cosigned_by"

    viewer = await halt_app.post(
        "/v1/halts/resume", "alice", {"scope": "firm", "cosigned_by": "vera"}, cosigner="vera"
    )
    assert (viewer.status_code, viewer.json()["extra"]["code"]) == (403, "cosigner_not_operator")
    mismatch = await halt_app.post(
        "/v1/halts/resume", "alice", {"scope": "firm", "cosigned_by": "bob"}, cosigner="vera"
    )
    assert (mismatch.status_code, mismatch.json()["extra"]["code"]) == (403, "cosigner_token_mismatch")
    forged = await halt_app.http.post(
        "/v1/halts/resume",
        json={"scope": "firm", "cosigned_by": "bob"},
        headers={**halt_app.auth("alice"), "X-MTS-Cosigner-Token": "mts_" + "x" * 43},
    )
    assert (forged.status_code, forged.json()["extra"]["code"]) == (403, "cosigner_not_authenticated")

    assert (await halt_app.get("/v1/halts/status")).json()["halted"] is True, (
        "a refused resume lifted the halt"
    )
    refusals = await halt_app.service.manager.refusals(halt_id)
    assert len(refusals) >= 2

    ok = await halt_app.post(
        "/v1/halts/resume",
        "alice",
        {"scope": "firm", "cosigned_by": "bob", "reason": "clear"},
        cosigner="bob",
    )
    assert ok.status_code == 200, ok.text
    resumed = ok.json()["result"]["resumed"]
    assert (resumed["halt_id"], resumed["active"]) == (halt_id, False)
    assert (resumed["resumed_by"], resumed["cosigned_by"]) == ("operator:alice", "operator:bob")
    assert ok.json()["preflight"]["needs_two_operators"] is True
    assert (await halt_app.get("/v1/halts/status")).json()["halted"] is False


async def test_a_fund_resume_under_a_firm_halt_says_it_is_still_halted(halt_app: HaltApp) -> None:
    assert (await halt_app.post("/v1/halts", "alice", FUND_HALT)).status_code == 201
    firm = (await halt_app.post("/v1/halts", "bob", FIRM_HALT)).json()["halt"]
    preflight = (await halt_app.get("/v1/halts/preflight", scope="paper-momentum")).json()
    assert [h["halt_id"] for h in preflight["inherited"]] == [firm["halt_id"]]
    response = await halt_app.post("/v1/halts/resume", "alice", {"scope": "paper-momentum"})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["still_halted"] is True
    assert [h["halt_id"] for h in result["halted_by"]] == [firm["halt_id"]]
    assert "still halted by FIRM_HALT" in result["message"]
    assert result["resumed"]["cosigned_by"] == "operator:alice", "a fund resume is cosigned by its caller"
    status = (await halt_app.get("/v1/halts/status", fund_id="paper-momentum")).json()
    assert status["halted"] is True
    assert [h["scope"] for h in status["halts"]] == ["firm"]


async def test_resuming_what_is_not_halted_is_a_409(halt_app: HaltApp) -> None:
    response = await halt_app.post("/v1/halts/resume", "alice", {"scope": "mom-us-eq"})
    assert response.status_code == 409
    assert response.json()["extra"]["code"] == "not_halted"
    assert response.json()["extra"]["scope"] == "strategy.mom-us-eq"


@pytest.mark.parametrize("policy_text", ["oms:\n  expected_responders: [oms-a, oms-b]\n  ack_timeout: 20\n"])
async def test_a_cancel_open_halt_sends_cancel_all_and_reports_each_ack(
    halt_app: HaltApp, fake_oms: FakeOms, bus: Bus
) -> None:
    await fake_oms.start("oms-a", orders=3)
    await fake_oms.start("oms-b", orders=2)
    response = await halt_app.post("/v1/halts", "alice", {**FUND_HALT, "mode": "cancel_open"})
    assert response.status_code == 201, response.text
    report = response.json()["oms_command"]
    assert report["sent"] is True
    outcome = report["outcome"]
    assert outcome["command"] == "cancel_all"
    assert outcome["fund_ids"] == ["paper-momentum"]
    assert sorted(a["responder"] for a in outcome["acks"]) == ["oms-a", "oms-b"]
    assert outcome["orders_cancelled"] == 5
    assert outcome["complete"] is True
    assert outcome["timed_out"] is False, "waited for the timeout although every expected responder acked"
    halt_id = response.json()["halt"]["halt_id"]
    assert {c.halt_id for _, c in fake_oms.received} == {halt_id}
    assert {c.requested_by for _, c in fake_oms.received} == {"operator:alice"}

    # The command and every ack are facts on the OPERATIONS stream, for the audit trail.
    async def recorded(subject: str) -> bytes:
        message = await bus.js.get_last_msg("OPERATIONS", subject)
        return bytes(message.data or b"")

    async def both_recorded() -> bool:
        try:
            await recorded(OMS_ACK_FACT)
            await recorded(OMS_COMMAND_FACT)
        except Exception:
            return False
        return True

    await eventually(both_recorded, what="the OMS command and acks on the OPERATIONS stream")
    command = decode(await recorded(OMS_COMMAND_FACT), OmsCommand)
    assert command.command_id == outcome["command_id"]
    ack = decode(await recorded(OMS_ACK_FACT), OmsCommandAck)
    assert ack.command_id == outcome["command_id"]


async def test_a_firm_halt_in_mode_block_new_sends_no_command(halt_app: HaltApp, fake_oms: FakeOms) -> None:
    await fake_oms.start("oms-a")
    response = await halt_app.post("/v1/halts", "alice", FIRM_HALT)
    assert response.json()["oms_command"]["sent"] is False
    assert fake_oms.received == []


async def test_cancel_all_and_flatten_paper_on_an_operators_behalf(
    halt_app: HaltApp, fake_oms: FakeOms
) -> None:
    await fake_oms.start("oms-a", orders=4, positions=2)
    response = await halt_app.post("/v1/oms/cancel-all", "bob", {"reason": "drill"})
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["fund_ids"] == []
    assert [a["responder"] for a in outcome["acks"]] == ["oms-a"]
    assert fake_oms.received[-1][1].requested_by == "operator:bob"

    response = await halt_app.post("/v1/oms/flatten-paper", "bob", {"reason": "drill"})
    assert response.status_code == 200, response.text
    assert response.json()["fund_ids"] == ["paper-momentum", "paper-meanrev"]
    assert response.json()["paper_only"] is True
    assert response.json()["positions_closed"] == 2

    live = await halt_app.post("/v1/oms/flatten-paper", "bob", {"reason": "x", "fund_ids": ["live-equities"]})
    assert live.status_code == 400
    assert live.json()["extra"]["field"] == "fund_ids[0]"
    viewer = await halt_app.post("/v1/oms/cancel-all", "vera", {"reason": "x"})
    assert viewer.status_code == 403
    assert len(fake_oms.received) == 2, "a refused command reached the OMS"


async def test_the_openapi_document_shows_the_halt_routes_with_tags(halt_app: HaltApp) -> None:
    schema = (await halt_app.http.get("/schema/openapi.json")).json()
    post = schema["paths"]["/v1/halts"]["post"]
    assert post["tags"] == ["halts"]
    assert post["summary"]
    assert {"201", "200", "400", "401", "403"} <= set(post["responses"])
    assert "requestBody" in post
    for path in ("/v1/halts/resume", "/v1/halts/status", "/v1/halts/history", "/v1/halts/preflight"):
        assert path in schema["paths"]


async def test_the_halt_client_sends_oms_commands_and_reads_the_preflight(
    halt_app: HaltApp, fake_oms: FakeOms
) -> None:
    await fake_oms.start("oms-a", orders=2, positions=1)
    transport = httpx.ASGITransport(app=halt_app.app)  # type: ignore[arg-type]
    async with HaltClient("http://halt.test", token=halt_app.tokens["bob"], transport=transport) as bob:
        cancelled = await bob.cancel_all(reason="drill", fund_ids=["live-equities"])
        assert (cancelled.command, cancelled.fund_ids) == ("cancel_all", ["live-equities"])
        assert [ack.responder for ack in cancelled.acks] == ["oms-a"]
        assert cancelled.orders_cancelled == 2
        flattened = await bob.flatten_paper(reason="drill")
        assert flattened.paper_only is True
        assert flattened.positions_closed == 1
        with pytest.raises(BadRequestError) as bad:
            await bob.flatten_paper(reason="drill", fund_ids=["live-equities"])
        assert bad.value.field == "fund_ids[0]"

        answer = await bob.request(
            "STRATEGY_HALT", strategy_id="mom-eu-eq", reason="signal", mode="block_new"
        )
        assert answer.halt.fund_id == "paper-momentum"
        check = await bob.preflight("mom-eu-eq")
        assert check.halt is not None
        assert check.halt.halt_id == answer.halt.halt_id
        assert check.needs_force is False
        assert check.needs_two_operators is False
        resumed = await bob.resume("strategy:mom-eu-eq", reason="done")
        assert resumed.result.resumed.resumed_by == "operator:bob"
        assert [h.halt_id for h in await bob.history()] == [answer.halt.halt_id]
        assert (await bob.status(strategy_id="mom-eu-eq")).halted is False
