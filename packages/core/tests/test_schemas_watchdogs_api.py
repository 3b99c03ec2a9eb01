"""core.schemas.watchdogs_api: the watchdogs API's answers, shared by the service and the SDK."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.schemas import watchdogs_api
from mts1b_operations.core.schemas.watchdogs_api import FiringSubject, WatchdogList, WatchdogView

AT = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)

FIRING = FiringSubject(subject_id="ACME", since=AT, notified=False, value=1.0, threshold=0.5)
VIEW = WatchdogView(
    name="vpin",
    kind="vpin",
    alert_subject="mts.v1.operations.watchdog.vpin",
    inputs="mts.v1.marketdata.trade.*",
    status="paused",
    paused_until=AT,
    params={"for": 1, "threshold": 0.5, "bucket_volumes": {}},
    overrides={"window": 3},
    active=True,
    firing=[FIRING],
)
SAMPLES: list[msgspec.Struct] = [FIRING, VIEW, WatchdogList(watchdogs=[VIEW], count=1)]


@pytest.mark.parametrize("answer", SAMPLES, ids=lambda a: type(a).__name__)
def test_answers_round_trip_untagged_and_ignore_unknown_fields(answer: msgspec.Struct) -> None:
    data = msgspec.json.encode(answer)
    assert not data.startswith(b'{"type"')
    assert msgspec.json.decode(data, type=type(answer)) == answer
    newer = data[:-1] + b',"added_later":{"x":[1]}}'
    assert msgspec.json.decode(newer, type=type(answer)) == answer


def test_defaults_and_field_order_are_the_wire_order() -> None:
    assert msgspec.json.encode(VIEW).startswith(
        b'{"name":"vpin","kind":"vpin","alert_subject":"mts.v1.operations.watchdog.vpin",'
        b'"inputs":"mts.v1.marketdata.trade.*","status":"paused","paused_until":"2025-01-06T09:30:00Z",'
        b'"paused_by":null,"pause_reason":null,"params":{"for":1,"threshold":0.5,"bucket_volumes":{}},'
        b'"overrides":{"window":3},"updated_at":null,"updated_by":null,"active":true,"evaluations":0,'
    )
    assert msgspec.json.encode(FiringSubject(subject_id="X", since=None, notified=True)) == (
        b'{"subject_id":"X","since":null,"notified":true,"value":null,"threshold":null,"message":null,'
        b'"episode":null}'
    )


def test_an_answer_that_breaks_its_shape_names_the_field() -> None:
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(msgspec.json.encode(VIEW).replace(b'"paused"', b'"sleeping"'), WatchdogView)
    assert caught.value.path == "$.status"
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(b'{"subject_id":"X","since":null}', FiringSubject)
    assert "notified" in str(caught.value)


def test_they_are_not_bus_payloads() -> None:
    assert not any(isinstance(answer, schemas.Payload) for answer in SAMPLES)
    assert not set(watchdogs_api.__all__) & set(schemas.__all__)
    assert set(watchdogs_api.__all__) == {"FiringSubject", "WatchdogList", "WatchdogStatus", "WatchdogView"}
