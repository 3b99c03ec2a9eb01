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

from mts1b_operations.core.testing import match_template

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


def _null_or(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _object(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"properties": properties, "required": sorted(required), "title": title, "type": "object"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"items": schema, "type": "array"}


_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_STRING = {"type": "string"}
_STRINGS = _list_of(_STRING)
_TIME = {"format": "date-time", "type": "string"}
_MODE = {"enum": ["block_new", "cancel_open", "flatten"], "type": "string"}
_SEVERITY = {"enum": ["FIRM_HALT", "FUND_HALT", "STRATEGY_HALT"], "type": "string"}
_COMMAND = {"enum": ["cancel_all", "flatten"], "type": "string"}
_REASON = {
    "description": "Why; recorded in the audit trail.",
    "maxLength": 8192,
    "minLength": 1,
    "type": "string",
}
_ID = {"maxLength": 128, "minLength": 1, **_null_or(_STRING)}

ANSWER_COMPONENTS: dict[str, dict[str, Any]] = {
    "Halt": _object(
        "Halt",
        {
            "active": {"default": True, "type": "boolean"},
            "cosigned_by": _null_or(_STRING),
            "forced": {"default": False, "type": "boolean"},
            "fund_id": _null_or(_STRING),
            "halt_id": _STRING,
            "mode": _MODE,
            "reason": _STRING,
            "request_count": {"default": 1, "type": "integer"},
            "requested_at": _TIME,
            "requested_by": _STRING,
            "resume_reason": _null_or(_STRING),
            "resumed_at": _null_or(_TIME),
            "resumed_by": _null_or(_STRING),
            "scope": _STRING,
            "severity": _SEVERITY,
            "strategy_id": _null_or(_STRING),
            "triggered_by_watchdog": _null_or(_STRING),
            "watchdog_subject_id": _null_or(_STRING),
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
    "HaltAnswer": _object(
        "HaltAnswer",
        {
            "halt": _ref("Halt"),
            "message": _STRING,
            "oms_command": _ref("OmsCommandReport"),
            "outcome": {"enum": ["created", "already_halted"], "type": "string"},
        },
        ["halt", "message", "oms_command", "outcome"],
    ),
    "HaltList": _object("HaltList", {"count": _INT, "halts": _list_of(_ref("Halt"))}, ["count", "halts"]),
    "HaltStatus": _object(
        "HaltStatus",
        {"halted": _BOOL, "halts": _list_of(_ref("Halt")), "scope": _STRING, "since": _null_or(_TIME)},
        ["halted", "halts", "scope", "since"],
    ),
    "OmsCommandAck": _object(
        "OmsCommandAck",
        {
            "acked_at": _TIME,
            "command": _COMMAND,
            "command_id": {"maxLength": 256, "minLength": 1, "type": "string"},
            "error": {"maxLength": 8192, "minLength": 1, **_null_or(_STRING)},
            "ok": _BOOL,
            "orders_cancelled": {"default": 0, "minimum": 0.0, "type": "integer"},
            "positions_closed": {"default": 0, "minimum": 0.0, "type": "integer"},
            "responder": {"maxLength": 256, "minLength": 1, "type": "string"},
            "type": {"const": "OmsCommandAck", "type": "string"},
        },
        ["acked_at", "command", "command_id", "ok", "responder", "type"],
    ),
    "OmsCommandOutcome": _object(
        "OmsCommandOutcome",
        {
            "acks": _list_of(_ref("OmsCommandAck")),
            "command": _COMMAND,
            "command_id": _STRING,
            "complete": _BOOL,
            "elapsed": {"type": "number"},
            "expected_responders": _STRINGS,
            "failed": _STRINGS,
            "fund_ids": _STRINGS,
            "invalid_replies": _INT,
            "missing": _STRINGS,
            "no_responders": _BOOL,
            "orders_cancelled": _INT,
            "paper_only": _BOOL,
            "positions_closed": _INT,
            "timed_out": _BOOL,
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
    "OmsCommandReport": _object(
        "OmsCommandReport",
        {"detail": _STRING, "outcome": _null_or(_ref("OmsCommandOutcome")), "sent": _BOOL},
        ["detail", "sent"],
    ),
    "Preflight": _object(
        "Preflight",
        {
            "halt": _null_or(_ref("Halt")),
            "inherited": _list_of(_ref("Halt")),
            "message": _STRING,
            "needs_force": _BOOL,
            "needs_two_operators": _BOOL,
            "scope": _STRING,
            "watchdog": _null_or(_STRING),
            "watchdog_firing": _BOOL,
            "watchdog_subject_id": _null_or(_STRING),
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
    "ResumeAnswer": _object(
        "ResumeAnswer",
        {"preflight": _ref("Preflight"), "result": _ref("ResumeResult")},
        ["preflight", "result"],
    ),
    "ResumeResult": _object(
        "ResumeResult",
        {
            "halted_by": _list_of(_ref("Halt")),
            "message": _STRING,
            "resumed": _ref("Halt"),
            "still_halted": _BOOL,
        },
        ["halted_by", "message", "resumed", "still_halted"],
    ),
    "Liveness": _object(
        "Liveness",
        {"instance_id": _STRING, "service": _STRING, "status": {"const": "ok", "type": "string"}},
        ["instance_id", "service", "status"],
    ),
    "Readiness": _object(
        "Readiness",
        {
            "checks": {"additionalProperties": _STRING, "type": "object"},
            "status": {"enum": ["ready", "unavailable"], "type": "string"},
        },
        ["checks", "status"],
    ),
}
BODY_COMPONENTS: dict[str, dict[str, Any]] = {
    "CancelAllBody": _object("CancelAllBody", {"fund_ids": _STRINGS, "reason": _REASON}, ["reason"]),
    "FlattenPaperBody": _object("FlattenPaperBody", {"fund_ids": _STRINGS, "reason": _REASON}, ["reason"]),
    "HaltRequestBody": _object(
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
    "ResumeBody": _object(
        "ResumeBody",
        {
            "cosigned_by": {"maxLength": 256, "minLength": 1, **_null_or(_STRING)},
            "force": {"default": False, "type": "boolean"},
            "reason": {
                "description": _REASON["description"],
                "maxLength": 8192,
                "minLength": 1,
                **_null_or(_STRING),
            },
            "scope": {"maxLength": 140, "minLength": 1, "type": "string"},
        },
        ["scope"],
    ),
}

ANSWERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("post", "/v1/halts", "201"): _ref("HaltAnswer"),
    ("post", "/v1/halts", "200"): _ref("HaltAnswer"),
    ("get", "/v1/halts", "200"): _ref("HaltList"),
    ("get", "/v1/halts/history", "200"): _ref("HaltList"),
    ("get", "/v1/halts/status", "200"): _ref("HaltStatus"),
    ("get", "/v1/halts/preflight", "200"): _ref("Preflight"),
    ("post", "/v1/halts/resume", "200"): _ref("ResumeAnswer"),
    ("post", "/v1/oms/cancel-all", "200"): _ref("OmsCommandOutcome"),
    ("post", "/v1/oms/flatten-paper", "200"): _ref("OmsCommandOutcome"),
    ("get", "/v1/healthz", "200"): _ref("Liveness"),
    ("get", "/v1/readyz", "200"): _ref("Readiness"),
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
