"""The exact bytes of every answer of the watchdogs API, and the OpenAPI components that describe them.

The SDK decodes these answers into the same core Structs (``core.schemas.watchdogs_api``); a
change to a field's name, order, type or encoding shows up here byte for byte, and a change to
what the schema documents shows up in the components. What the service generates (times, an
alert episode's id) is a ``<placeholder>`` that must match its pattern, and the same placeholder
the same value wherever it recurs; so are the parameters of the watchdogs this test leaves at
their defaults (those are the config module's business). Every other byte is pinned.
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

from .conftest import AlertWatcher, Harness
from .test_http import VPIN, one_sided

pytestmark = pytest.mark.timeout(120)

_INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z"
PATTERNS: dict[str, str] = {
    "updated_at": _INSTANT,
    "evaluated_at": _INSTANT,
    "paused_until": _INSTANT,
    "episode": r"[0-9a-f]{32}",
    "params": r"\{(?:[^{}]|\{[^{}]*\})*\}",  # a JSON object, nested one level at most
}


def pinned(body: bytes, template: bytes, known: dict[str, str]) -> dict[str, str]:
    return match_template(body, template, patterns=PATTERNS, known=known)


KINDS = {
    "predictive_health": "health",
    "drift_monitor": "drift",
    "vpin": "vpin",
    "news_spike": "news",
    "position_anomaly": "position",
    "db_watchdog": "db",
    "strategy_watchdog": "strategy",
    "theta_watchdog": "theta",
    "dependency_watchdog": "dependency",
    "portfolio_vol_dd": "vol_dd",
}
NOTHING_YET = (
    b'"evaluations":0,"last_value":null,"last_subject":null,"last_evaluated_at":null,'
    b'"last_alert_at":null,"firing":[]'
)
NOT_PAUSED = b'"status":"running","paused_until":null,"paused_by":null,"pause_reason":null'


def view(name: str, *, params: bytes | None = None, inputs: bytes = b"not run by this instance") -> bytes:
    """An untouched watchdog; ``params`` pinned, or (None) a placeholder of its own."""
    kind = KINDS[name].encode()
    return (
        b'{"name":"' + name.encode() + b'","kind":"' + kind
        + b'","alert_subject":"mts.v1.operations.watchdog.' + kind + b'","inputs":"' + inputs + b'",'
        + NOT_PAUSED + b',"params":'
        + (params if params is not None else f"<params__{name}>".encode())
        + b',"overrides":{},"updated_at":null,"updated_by":null,"active":'
        + (b"true" if name == "vpin" else b"false") + b"," + NOTHING_YET + b"}"
    )  # fmt: skip


def vpin_params(window: int) -> bytes:
    return (
        b'{"for":1,"repeat_interval":0.0,"threshold":0.5,"clear":0.2,"bucket_volume":100.0,'
        b'"bucket_volumes":{},"window":' + str(window).encode() + b',"bar_seconds":60}'
    )


VPIN_HEAD = (
    b'{"name":"vpin","kind":"vpin","alert_subject":"mts.v1.operations.watchdog.vpin",'
    b'"inputs":"mts.v1.marketdata.trade.*",'
)
CONFIGURED = (
    b'"params":' + vpin_params(3) + b',"overrides":{"window":3},"updated_at":"<updated_at>",'
    b'"updated_by":"operator:olga","active":true,'
)
FIRED = (
    b'"evaluations":1,"last_value":1.0,"last_subject":"ACME","last_evaluated_at":"<evaluated_at>",'
    b'"last_alert_at":"<evaluated_at>","firing":[{"subject_id":"ACME","since":"<evaluated_at>",'
    b'"notified":true,"value":1.0,"threshold":0.5,"message":"VPIN of ACME is 1.000 over the last 3 '
    b'buckets of 100 shares (alert at 0.5, clears below 0.2)","episode":"<episode>"}]}'
)


async def test_every_answer_byte_for_byte(harness: Harness, alerts: AlertWatcher) -> None:
    await harness.start(["vpin"], VPIN)
    listed = await harness.request("GET", "/v1/watchdogs", as_="vera")
    every = [
        view(name, params=vpin_params(2), inputs=b"mts.v1.marketdata.trade.*")
        if name == "vpin"
        else view(name)
        for name in KINDS
    ]
    v = pinned(listed.content, b'{"watchdogs":[' + b",".join(every) + b'],"count":10}', {})
    news = await harness.request("GET", "/v1/watchdogs/news_spike", as_="vera")
    v = pinned(news.content, view("news_spike", params=v["params__news_spike"].encode()), v)

    configured = await harness.request("PUT", "/v1/watchdogs/vpin/config", body={"window": 3})
    v = pinned(configured.content, VPIN_HEAD + NOT_PAUSED + b"," + CONFIGURED + NOTHING_YET + b"}", v)
    await one_sided(harness, 0, 3)
    await alerts.wait("vpin", "firing", "ACME")
    firing = await harness.request("GET", "/v1/watchdogs/vpin", as_="vera")
    v = pinned(firing.content, VPIN_HEAD + NOT_PAUSED + b"," + CONFIGURED + FIRED, v)

    paused = await harness.request("POST", "/v1/watchdogs/vpin/pause", body={"for": "10m", "reason": "drill"})
    v = pinned(
        paused.content,
        VPIN_HEAD + b'"status":"paused","paused_until":"<paused_until>","paused_by":"operator:olga",'
        b'"pause_reason":"drill",' + CONFIGURED + FIRED,
        v,
    )  # fmt: skip
    resumed = await harness.request("POST", "/v1/watchdogs/vpin/resume")
    pinned(resumed.content, VPIN_HEAD + NOT_PAUSED + b"," + CONFIGURED + FIRED, v)


def test_a_params_placeholder_takes_one_nested_object() -> None:
    body = b'{"params":{"a":1,"b":{"c":[1,2]},"d":"x"},"n":1}'
    assert pinned(body, b'{"params":<params__x>,"n":1}', {}) == {
        "params__x": '{"a":1,"b":{"c":[1,2]},"d":"x"}'
    }
    with pytest.raises(AssertionError):
        pinned(b'{"params":{"a":1},"n":2}', b'{"params":<params__x>,"n":1}', {})


# ---------------------------------------------------------------------- OpenAPI components


_ANY_OBJECT = {"additionalProperties": {}, "type": "object"}

ANSWER_COMPONENTS: dict[str, dict[str, Any]] = {
    "FiringSubject": schema_object(
        "FiringSubject",
        {
            "episode": schema_null_or(SCHEMA_STRING),
            "message": schema_null_or(SCHEMA_STRING),
            "notified": SCHEMA_BOOL,
            "since": schema_null_or(SCHEMA_DATE_TIME),
            "subject_id": SCHEMA_STRING,
            "threshold": schema_null_or(SCHEMA_NUMBER),
            "value": schema_null_or(SCHEMA_NUMBER),
        },
        ["notified", "since", "subject_id"],
    ),
    "WatchdogView": schema_object(
        "WatchdogView",
        {
            "active": SCHEMA_BOOL,
            "alert_subject": SCHEMA_STRING,
            "evaluations": {"default": 0, "type": "integer"},
            "firing": schema_list_of(schema_ref("FiringSubject")),
            "inputs": SCHEMA_STRING,
            "kind": SCHEMA_STRING,
            "last_alert_at": schema_null_or(SCHEMA_DATE_TIME),
            "last_evaluated_at": schema_null_or(SCHEMA_DATE_TIME),
            "last_subject": schema_null_or(SCHEMA_STRING),
            "last_value": schema_null_or(SCHEMA_NUMBER),
            "name": SCHEMA_STRING,
            "overrides": _ANY_OBJECT,
            "params": _ANY_OBJECT,
            "pause_reason": schema_null_or(SCHEMA_STRING),
            "paused_by": schema_null_or(SCHEMA_STRING),
            "paused_until": schema_null_or(SCHEMA_DATE_TIME),
            "status": {"enum": ["running", "paused"], "type": "string"},
            "updated_at": schema_null_or(SCHEMA_DATE_TIME),
            "updated_by": schema_null_or(SCHEMA_STRING),
        },
        ["active", "alert_subject", "inputs", "kind", "name", "overrides", "params", "status"],
    ),
    "WatchdogList": schema_object(
        "WatchdogList",
        {"count": SCHEMA_INT, "watchdogs": schema_list_of(schema_ref("WatchdogView"))},
        ["count", "watchdogs"],
    ),
    **HEALTH_COMPONENTS,
}
BODY_COMPONENTS: dict[str, dict[str, Any]] = {
    "PauseBody": schema_object(
        "PauseBody",
        {
            "for": {"oneOf": [SCHEMA_STRING, SCHEMA_NUMBER, {"type": "null"}]},
            "reason": {"maxLength": 2048, "minLength": 1, **schema_null_or(SCHEMA_STRING)},
            "until": schema_null_or(SCHEMA_DATE_TIME),
        },
        [],
    ),
}
ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/v1/watchdogs"): schema_ref("WatchdogList"),
    ("get", "/v1/watchdogs/{name}"): schema_ref("WatchdogView"),
    ("put", "/v1/watchdogs/{name}/config"): schema_ref("WatchdogView"),
    ("post", "/v1/watchdogs/{name}/pause"): schema_ref("WatchdogView"),
    ("post", "/v1/watchdogs/{name}/resume"): schema_ref("WatchdogView"),
    ("get", "/v1/healthz"): schema_ref("Liveness"),
    ("get", "/v1/readyz"): schema_ref("Readiness"),
}


async def test_openapi_components_describe_the_answers(harness: Harness) -> None:
    await harness.start(["vpin"], VPIN)
    assert harness.http is not None
    schema = (await harness.http.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert set(components) == {*ANSWER_COMPONENTS, *BODY_COMPONENTS, "ErrorBody"}
    for name, expected in {**ANSWER_COMPONENTS, **BODY_COMPONENTS}.items():
        assert components[name] == expected, name
    for (method, path), expected in ANSWERS.items():
        ok = schema["paths"][path][method]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == expected, (method, path)
