"""The exact bytes of every answer of the halt API, and the OpenAPI components that describe them.

The SDK decodes these answers into the same core Structs (``core.schemas.halt_api``); a change to
a field's name, order, type or encoding shows up here byte for byte, and a change to what the
schema documents shows up in the components. What the service generates (halt and command ids,
times from Postgres, the wait's duration) is a ``<placeholder>`` that must match its pattern, and
the same placeholder the same value wherever it recurs; every other byte is pinned.
"""

from __future__ import annotations

from typing import Any

import pytest

from mts1b_operations.core.testing import (
    HEALTH_COMPONENTS,
    SCHEMA_BOOL,
    SCHEMA_DATE_TIME,
    SCHEMA_INT,
    SCHEMA_NUMBER,
    SCHEMA_STRING,
    match_template,
    schema_list_of,
    schema_null_or,
    schema_object,
    schema_ref,
)

from .conftest import FakeOms, HaltApp

pytestmark = pytest.mark.timeout(120)

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z"
_SECONDS = r"\d+(?:\.\d+)?(?:e-?\d+)?"
PATTERNS: dict[str, str] = {
    "fund_halt": _UUID,
    "firm_halt": _UUID,
    "strategy_halt": _UUID,
    "command": _UUID,
    "cancel": _UUID,
    "flatten": _UUID,
    "fund_at": _INSTANT,
    "firm_at": _INSTANT,
    "strategy_at": _INSTANT,
    "fund_resumed_at": _INSTANT,
    "firm_resumed_at": _INSTANT,
    "acked_at": _INSTANT,
    "elapsed": _SECONDS,
}


def pinned(body: bytes, template: bytes, known: dict[str, str]) -> dict[str, str]:
    return match_template(body, template, patterns=PATTERNS, known=known)


def halt(
    id_: str,
    scope: str,
    severity: str,
    mode: str,
    fund: str | None,
    strategy: str | None,
    reason: str,
    by: str,
    count: int = 1,
    resumed: tuple[str, str, str, str] | None = None,
) -> bytes:
    """The bytes of a halt; ``resumed`` is (resumed_at placeholder, resumed_by, cosigned_by, reason)."""

    def text(value: str | None) -> str:
        return "null" if value is None else f'"{value}"'

    at, resumed_by, cosigned_by, resume_reason = resumed or ("", None, None, None)
    return (
        f'{{"halt_id":"<{id_}_halt>","scope":"{scope}","severity":"{severity}","mode":"{mode}",'
        f'"fund_id":{text(fund)},"strategy_id":{text(strategy)},"reason":"{reason}",'
        f'"requested_by":"{by}","requested_at":"<{id_}_at>","triggered_by_watchdog":null,'
        f'"watchdog_subject_id":null,"request_count":{count},"active":{"false" if resumed else "true"},'
        f'"resumed_at":{f"{chr(34)}<{at}>{chr(34)}" if resumed else "null"},"resumed_by":{text(resumed_by)},'
        f'"cosigned_by":{text(cosigned_by)},"resume_reason":{text(resume_reason)},"forced":false}}'
    ).encode()


FUND = ("fund", "fund.paper-momentum", "FUND_HALT", "block_new", "paper-momentum", None)
FIRM = ("firm", "firm", "FIRM_HALT", "cancel_open", None, None)
FUND_HALT = halt(*FUND, "daily PL -3.2%", "operator:alice", count=2)
FIRM_HALT = halt(*FIRM, "drill", "operator:bob")
BLOCK_NEW = (
    b'{"sent":false,"detail":"mode block_new: new orders are blocked, working orders and positions are '
    b'left alone","outcome":null}'
)


def outcome(command: str, fund_ids: bytes, paper_only: bytes, id_: str) -> bytes:
    closed = b"1" if command == "flatten" else b"0"  # only a flatten closes positions
    return (
        b'{"command_id":"<' + id_.encode() + b'>","command":"' + command.encode() + b'","fund_ids":'
        + fund_ids + b',"paper_only":' + paper_only + b',"acks":[{"type":"OmsCommandAck","command_id":"<'
        + id_.encode() + b'>","responder":"oms-a","command":"' + command.encode() + b'","ok":true,'
        b'"orders_cancelled":3,"positions_closed":' + closed + b',"error":null,"acked_at":"<acked_at>"}],'
        b'"expected_responders":["oms-a"],"missing":[],"failed":[],"no_responders":false,'
        b'"timed_out":false,"invalid_replies":0,"orders_cancelled":3,"positions_closed":' + closed + b','
        b'"elapsed":<elapsed>,"complete":true}'
    )  # fmt: skip


def preflight(scope: str, own: bytes, inherited: bytes, two: bytes, message: bytes) -> bytes:
    return (
        b'{"scope":"' + scope.encode() + b'","halt":' + own + b',"inherited":[' + inherited + b'],'
        b'"watchdog":null,"watchdog_subject_id":null,"watchdog_firing":false,"needs_force":false,'
        b'"needs_two_operators":' + two + b',"message":"' + message + b'"}'
    )  # fmt: skip


@pytest.mark.parametrize("policy_text", ["oms:\n  expected_responders: [oms-a]\n  ack_timeout: 20\n"])
async def test_every_answer_byte_for_byte(halt_app: HaltApp, fake_oms: FakeOms) -> None:
    await fake_oms.start("oms-a", orders=3, positions=1)
    fund_body = {"severity": "FUND_HALT", "fund_id": "paper-momentum", "reason": "daily PL -3.2%"}
    created = await halt_app.post("/v1/halts", "alice", {**fund_body, "mode": "block_new"})
    assert created.status_code == 201
    v = pinned(
        created.content,
        b'{"outcome":"created","message":"FUND_HALT <fund_halt> on fund.paper-momentum is in force '
        b'(block_new)","halt":' + FUND_HALT.replace(b'"request_count":2', b'"request_count":1')
        + b',"oms_command":' + BLOCK_NEW + b"}",
        {},
    )  # fmt: skip

    again = await halt_app.post("/v1/halts", "bob", {**fund_body, "mode": "flatten"})
    assert again.status_code == 200
    v = pinned(
        again.content,
        b'{"outcome":"already_halted","message":"fund.paper-momentum was already halted by <fund_halt> '
        b'(block_new, requested by operator:alice); this request is recorded with it","halt":'
        + FUND_HALT + b',"oms_command":' + BLOCK_NEW + b"}",
        v,
    )  # fmt: skip

    firm = await halt_app.post("/v1/halts", "bob", {"severity": "FIRM_HALT", "reason": "drill"})
    assert firm.status_code == 201
    v = pinned(
        firm.content,
        b'{"outcome":"created","message":"FIRM_HALT <firm_halt> on firm is in force (cancel_open)","halt":'
        + FIRM_HALT + b',"oms_command":{"sent":true,"detail":"cancel_all <command>: acked by oms-a; '
        b'3 order(s) cancelled, 0 position(s) closed","outcome":'
        + outcome("cancel_all", b"[]", b"false", "command") + b"}}",
        v,
    )  # fmt: skip
    del v["acked_at"], v["elapsed"]

    active = await halt_app.get("/v1/halts")
    v = pinned(active.content, b'{"halts":[' + FUND_HALT + b"," + FIRM_HALT + b'],"count":2}', v)
    status = await halt_app.get("/v1/halts/status", fund_id="paper-momentum")
    v = pinned(
        status.content,
        b'{"scope":"fund.paper-momentum","halted":true,"halts":[' + FIRM_HALT + b"," + FUND_HALT
        + b'],"since":"<fund_at>"}',
        v,
    )  # fmt: skip
    fund_preflight = preflight(
        "fund.paper-momentum",
        FUND_HALT,
        FIRM_HALT,
        b"false",
        b"FUND_HALT <fund_halt> on fund 'paper-momentum' can be resumed with an operator's cosign; "
        b"fund 'paper-momentum' stays halted by FIRM_HALT <firm_halt> (drill)",
    )
    v = pinned((await halt_app.get("/v1/halts/preflight", scope="paper-momentum")).content, fund_preflight, v)

    resumed = await halt_app.post("/v1/halts/resume", "alice", {"scope": "paper-momentum", "reason": "ok"})
    assert resumed.status_code == 200
    fund_resumed = halt(
        *FUND,
        "daily PL -3.2%",
        "operator:alice",
        count=2,
        resumed=("fund_resumed_at", "operator:alice", "operator:alice", "ok"),
    )
    v = pinned(
        resumed.content,
        b'{"result":{"resumed":' + fund_resumed + b',"still_halted":true,"halted_by":[' + FIRM_HALT
        + b'],"message":"resumed FUND_HALT <fund_halt> on fund \'paper-momentum\'; fund \'paper-momentum\' '
        b'is still halted by FIRM_HALT <firm_halt> (drill)"},"preflight":' + fund_preflight + b"}",
        v,
    )  # fmt: skip

    firm_resumed = halt(
        *FIRM, "drill", "operator:bob", resumed=("firm_resumed_at", "operator:alice", "operator:bob", "clear")
    )
    resumed = await halt_app.post(
        "/v1/halts/resume",
        "alice",
        {"scope": "firm", "cosigned_by": "bob", "reason": "clear"},
        cosigner="bob",
    )
    assert resumed.status_code == 200
    v = pinned(
        resumed.content,
        b'{"result":{"resumed":' + firm_resumed + b',"still_halted":false,"halted_by":[],'
        b'"message":"resumed FIRM_HALT <firm_halt> on the firm"},"preflight":'
        + preflight(
            "firm",
            FIRM_HALT,
            b"",
            b"true",
            b"FIRM_HALT <firm_halt> on the firm can be resumed with an operator's cosign; a firm-wide "
            b"resume needs two distinct registered operators",
        )
        + b"}",
        v,
    )  # fmt: skip

    status = await halt_app.get("/v1/halts/status")
    assert status.content == b'{"scope":"firm","halted":false,"halts":[],"since":null}'
    history = await halt_app.get("/v1/halts/history", limit=5)
    v = pinned(history.content, b'{"halts":[' + firm_resumed + b"," + fund_resumed + b'],"count":2}', v)

    strategy = await halt_app.post(
        "/v1/halts",
        "alice",
        {"severity": "STRATEGY_HALT", "strategy_id": "mom-eu-eq", "reason": "signal", "mode": "cancel_open"},
    )
    assert strategy.status_code == 201
    pinned(
        strategy.content,
        b'{"outcome":"created","message":"STRATEGY_HALT <strategy_halt> on strategy.mom-eu-eq is in force '
        b'(cancel_open)","halt":'
        + halt("strategy", "strategy.mom-eu-eq", "STRATEGY_HALT", "cancel_open", "paper-momentum",
               "mom-eu-eq", "signal", "operator:alice")
        + b',"oms_command":{"sent":false,"detail":"a strategy halt (cancel_open) sends no command: an OMS '
        b"command is scoped by fund, and cancelling fund 'paper-momentum' would stop its other strategies "
        b'too; the OMS acts on the halt it reads from mts_halts","outcome":null}}',
        v,
    )  # fmt: skip


@pytest.mark.parametrize("policy_text", ["oms:\n  expected_responders: [oms-a]\n  ack_timeout: 20\n"])
async def test_oms_command_answers_byte_for_byte(halt_app: HaltApp, fake_oms: FakeOms) -> None:
    await fake_oms.start("oms-a", orders=3, positions=1)
    cancel = await halt_app.post(
        "/v1/oms/cancel-all", "bob", {"reason": "drill", "fund_ids": ["live-equities"]}
    )
    assert cancel.status_code == 200
    pinned(cancel.content, outcome("cancel_all", b'["live-equities"]', b"false", "cancel"), {})
    flatten = await halt_app.post("/v1/oms/flatten-paper", "bob", {"reason": "drill"})
    assert flatten.status_code == 200
    pinned(flatten.content, outcome("flatten", b'["paper-momentum","paper-meanrev"]', b"true", "flatten"), {})


def test_a_placeholder_is_one_value_wherever_it_recurs() -> None:
    template = b'{"a":"<fund_halt>","b":"<fund_halt>"}'
    one = "d21a3f93-adae-4f6a-861f-19ea4cd6d221"
    other = "c759c569-1474-46a7-9b60-b1e68cfbf6ef"
    assert pinned(f'{{"a":"{one}","b":"{one}"}}'.encode(), template, {}) == {"fund_halt": one}
    with pytest.raises(AssertionError):
        pinned(f'{{"a":"{one}","b":"{other}"}}'.encode(), template, {})
    with pytest.raises(AssertionError):
        pinned(f'{{"a":"{one}", "b":"{one}"}}'.encode(), template, {})


# ---------------------------------------------------------------------- OpenAPI components


_STRINGS = schema_list_of(SCHEMA_STRING)
_MODE = {"enum": ["block_new", "cancel_open", "flatten"], "type": "string"}
_SEVERITY = {"enum": ["FIRM_HALT", "FUND_HALT", "STRATEGY_HALT"], "type": "string"}
_COMMAND = {"enum": ["cancel_all", "flatten"], "type": "string"}
_REASON = {
    "description": "Why; recorded in the audit trail.",
    "maxLength": 8192,
    "minLength": 1,
    "type": "string",
}
_ID = {"maxLength": 128, "minLength": 1, **schema_null_or(SCHEMA_STRING)}

ANSWER_COMPONENTS: dict[str, dict[str, Any]] = {
    "Halt": schema_object(
        "Halt",
        {
            "active": {"default": True, "type": "boolean"},
            "cosigned_by": schema_null_or(SCHEMA_STRING),
            "forced": {"default": False, "type": "boolean"},
            "fund_id": schema_null_or(SCHEMA_STRING),
            "halt_id": SCHEMA_STRING,
            "mode": _MODE,
            "reason": SCHEMA_STRING,
            "request_count": {"default": 1, "type": "integer"},
            "requested_at": SCHEMA_DATE_TIME,
            "requested_by": SCHEMA_STRING,
            "resume_reason": schema_null_or(SCHEMA_STRING),
            "resumed_at": schema_null_or(SCHEMA_DATE_TIME),
            "resumed_by": schema_null_or(SCHEMA_STRING),
            "scope": SCHEMA_STRING,
            "severity": _SEVERITY,
            "strategy_id": schema_null_or(SCHEMA_STRING),
            "triggered_by_watchdog": schema_null_or(SCHEMA_STRING),
            "watchdog_subject_id": schema_null_or(SCHEMA_STRING),
        },
        [
            "fund_id",
            "halt_id",
            "mode",
            "reason",
            "requested_at",
            "requested_by",
            "scope",
            "severity",
            "strategy_id",
        ],
    ),
    "HaltAnswer": schema_object(
        "HaltAnswer",
        {
            "halt": schema_ref("Halt"),
            "message": SCHEMA_STRING,
            "oms_command": schema_ref("OmsCommandReport"),
            "outcome": {"enum": ["created", "already_halted"], "type": "string"},
        },
        ["halt", "message", "oms_command", "outcome"],
    ),
    "HaltList": schema_object(
        "HaltList", {"count": SCHEMA_INT, "halts": schema_list_of(schema_ref("Halt"))}, ["count", "halts"]
    ),
    "HaltStatus": schema_object(
        "HaltStatus",
        {
            "halted": SCHEMA_BOOL,
            "halts": schema_list_of(schema_ref("Halt")),
            "scope": SCHEMA_STRING,
            "since": schema_null_or(SCHEMA_DATE_TIME),
        },
        ["halted", "halts", "scope", "since"],
    ),
    "OmsCommandAck": schema_object(
        "OmsCommandAck",
        {
            "acked_at": SCHEMA_DATE_TIME,
            "command": _COMMAND,
            "command_id": {"maxLength": 256, "minLength": 1, "type": "string"},
            "error": {"maxLength": 8192, "minLength": 1, **schema_null_or(SCHEMA_STRING)},
            "ok": SCHEMA_BOOL,
            "orders_cancelled": {"default": 0, "minimum": 0.0, "type": "integer"},
            "positions_closed": {"default": 0, "minimum": 0.0, "type": "integer"},
            "responder": {"maxLength": 256, "minLength": 1, "type": "string"},
            "type": {"const": "OmsCommandAck", "type": "string"},
        },
        ["acked_at", "command", "command_id", "ok", "responder", "type"],
    ),
    "OmsCommandOutcome": schema_object(
        "OmsCommandOutcome",
        {
            "acks": schema_list_of(schema_ref("OmsCommandAck")),
            "command": _COMMAND,
            "command_id": SCHEMA_STRING,
            "complete": SCHEMA_BOOL,
            "elapsed": SCHEMA_NUMBER,
            "expected_responders": _STRINGS,
            "failed": _STRINGS,
            "fund_ids": _STRINGS,
            "invalid_replies": SCHEMA_INT,
            "missing": _STRINGS,
            "no_responders": SCHEMA_BOOL,
            "orders_cancelled": SCHEMA_INT,
            "paper_only": SCHEMA_BOOL,
            "positions_closed": SCHEMA_INT,
            "timed_out": SCHEMA_BOOL,
        },
        [
            "acks",
            "command",
            "command_id",
            "complete",
            "elapsed",
            "expected_responders",
            "failed",
            "fund_ids",
            "invalid_replies",
            "missing",
            "no_responders",
            "orders_cancelled",
            "paper_only",
            "positions_closed",
            "timed_out",
        ],
    ),
    "OmsCommandReport": schema_object(
        "OmsCommandReport",
        {
            "detail": SCHEMA_STRING,
            "outcome": schema_null_or(schema_ref("OmsCommandOutcome")),
            "sent": SCHEMA_BOOL,
        },
        ["detail", "sent"],
    ),
    "Preflight": schema_object(
        "Preflight",
        {
            "halt": schema_null_or(schema_ref("Halt")),
            "inherited": schema_list_of(schema_ref("Halt")),
            "message": SCHEMA_STRING,
            "needs_force": SCHEMA_BOOL,
            "needs_two_operators": SCHEMA_BOOL,
            "scope": SCHEMA_STRING,
            "watchdog": schema_null_or(SCHEMA_STRING),
            "watchdog_firing": SCHEMA_BOOL,
            "watchdog_subject_id": schema_null_or(SCHEMA_STRING),
        },
        [
            "halt",
            "inherited",
            "message",
            "needs_force",
            "needs_two_operators",
            "scope",
            "watchdog",
            "watchdog_firing",
            "watchdog_subject_id",
        ],
    ),
    "ResumeAnswer": schema_object(
        "ResumeAnswer",
        {"preflight": schema_ref("Preflight"), "result": schema_ref("ResumeResult")},
        ["preflight", "result"],
    ),
    "ResumeResult": schema_object(
        "ResumeResult",
        {
            "halted_by": schema_list_of(schema_ref("Halt")),
            "message": SCHEMA_STRING,
            "resumed": schema_ref("Halt"),
            "still_halted": SCHEMA_BOOL,
        },
        ["halted_by", "message", "resumed", "still_halted"],
    ),
    **HEALTH_COMPONENTS,
}
BODY_COMPONENTS: dict[str, dict[str, Any]] = {
    "CancelAllBody": schema_object("CancelAllBody", {"fund_ids": _STRINGS, "reason": _REASON}, ["reason"]),
    "FlattenPaperBody": schema_object(
        "FlattenPaperBody", {"fund_ids": _STRINGS, "reason": _REASON}, ["reason"]
    ),
    "HaltRequestBody": schema_object(
        "HaltRequestBody",
        {
            "fund_id": _ID,
            "mode": {"default": "cancel_open", **_MODE},
            "reason": _REASON,
            "severity": _SEVERITY,
            "strategy_id": _ID,
        },
        ["reason", "severity"],
    ),
    "ResumeBody": schema_object(
        "ResumeBody",
        {
            "cosigned_by": {"maxLength": 256, "minLength": 1, **schema_null_or(SCHEMA_STRING)},
            "force": {"default": False, "type": "boolean"},
            "reason": {
                "description": _REASON["description"],
                "maxLength": 8192,
                "minLength": 1,
                **schema_null_or(SCHEMA_STRING),
            },
            "scope": {"maxLength": 140, "minLength": 1, "type": "string"},
        },
        ["scope"],
    ),
}

ANSWERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("post", "/v1/halts", "201"): schema_ref("HaltAnswer"),
    ("post", "/v1/halts", "200"): schema_ref("HaltAnswer"),
    ("get", "/v1/halts", "200"): schema_ref("HaltList"),
    ("get", "/v1/halts/history", "200"): schema_ref("HaltList"),
    ("get", "/v1/halts/status", "200"): schema_ref("HaltStatus"),
    ("get", "/v1/halts/preflight", "200"): schema_ref("Preflight"),
    ("post", "/v1/halts/resume", "200"): schema_ref("ResumeAnswer"),
    ("post", "/v1/oms/cancel-all", "200"): schema_ref("OmsCommandOutcome"),
    ("post", "/v1/oms/flatten-paper", "200"): schema_ref("OmsCommandOutcome"),
    ("get", "/v1/healthz", "200"): schema_ref("Liveness"),
    ("get", "/v1/readyz", "200"): schema_ref("Readiness"),
}


async def test_openapi_components_describe_the_answers(halt_app: HaltApp) -> None:
    schema = (await halt_app.http.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert set(components) == {*ANSWER_COMPONENTS, *BODY_COMPONENTS, "ErrorBody"}
    for name, expected in {**ANSWER_COMPONENTS, **BODY_COMPONENTS}.items():
        assert components[name] == expected, name
    for (method, path, status), expected in ANSWERS.items():
        ok = schema["paths"][path][method]["responses"][status]
        assert ok["content"]["application/json"]["schema"] == expected, (method, path, status)
