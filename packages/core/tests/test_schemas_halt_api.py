"""core.schemas.halt_api: the halt API's answers, shared by the service and the SDK."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.schemas import halt_api
from mts1b_operations.core.schemas.halt_api import (
    Halt,
    HaltAnswer,
    HaltList,
    HaltStatus,
    OmsCommandOutcome,
    OmsCommandReport,
    Preflight,
    ResumeAnswer,
    ResumeResult,
)

AT = datetime(2024, 1, 2, 9, 30, 0, 250000, tzinfo=UTC)

HALT = Halt(
    halt_id="h-1",
    scope="fund.paper-momentum",
    severity="FUND_HALT",
    mode="block_new",
    fund_id="paper-momentum",
    strategy_id=None,
    reason="stop",
    requested_by="operator:alice",
    requested_at=AT,
)
ACK = schemas.OmsCommandAck(
    command_id="c-1", responder="oms-a", command="cancel_all", ok=True, orders_cancelled=3, acked_at=AT
)
OUTCOME = OmsCommandOutcome(
    command_id="c-1",
    command="cancel_all",
    fund_ids=[],
    paper_only=False,
    acks=[ACK],
    expected_responders=["oms-a"],
    missing=[],
    failed=[],
    no_responders=False,
    timed_out=False,
    invalid_replies=0,
    orders_cancelled=3,
    positions_closed=0,
    elapsed=0.0012,
    complete=True,
)
PREFLIGHT = Preflight(
    scope="fund.paper-momentum",
    halt=HALT,
    inherited=[],
    watchdog=None,
    watchdog_subject_id=None,
    watchdog_firing=False,
    needs_force=False,
    needs_two_operators=False,
    message="can be resumed",
)
RESULT = ResumeResult(resumed=HALT, still_halted=False, halted_by=[], message="resumed")
SAMPLES: list[msgspec.Struct] = [
    HALT,
    HaltStatus(scope="firm", halted=True, halts=[HALT], since=AT),
    RESULT,
    PREFLIGHT,
    OUTCOME,
    OmsCommandReport(sent=True, detail="acked", outcome=OUTCOME),
    HaltAnswer(
        outcome="created",
        message="in force",
        halt=HALT,
        oms_command=OmsCommandReport(sent=False, detail="block_new"),
    ),
    ResumeAnswer(result=RESULT, preflight=PREFLIGHT),
    HaltList(halts=[HALT], count=1),
]


@pytest.mark.parametrize("answer", SAMPLES, ids=lambda a: type(a).__name__)
def test_answers_round_trip_untagged_and_ignore_unknown_fields(answer: msgspec.Struct) -> None:
    data = msgspec.json.encode(answer)
    assert not data.startswith(b'{"type"')
    assert msgspec.json.decode(data, type=type(answer)) == answer
    newer = data[:-1] + b',"added_later":{"x":[1]}}'
    assert msgspec.json.decode(newer, type=type(answer)) == answer


def test_defaults_and_field_order_are_the_wire_order() -> None:
    assert msgspec.json.encode(HALT) == (
        b'{"halt_id":"h-1","scope":"fund.paper-momentum","severity":"FUND_HALT","mode":"block_new",'
        b'"fund_id":"paper-momentum","strategy_id":null,"reason":"stop","requested_by":"operator:alice",'
        b'"requested_at":"2024-01-02T09:30:00.250000Z","triggered_by_watchdog":null,'
        b'"watchdog_subject_id":null,"request_count":1,"active":true,"resumed_at":null,"resumed_by":null,'
        b'"cosigned_by":null,"resume_reason":null,"forced":false}'
    )
    assert msgspec.json.encode(OmsCommandReport(sent=False, detail="none")) == (
        b'{"sent":false,"detail":"none","outcome":null}'
    )
    # An ack inside an outcome is the bus payload, tag and all, as the OMS sent it.
    assert msgspec.json.encode(OUTCOME.acks[0]).startswith(b'{"type":"OmsCommandAck","command_id":"c-1"')


def test_an_answer_that_breaks_its_shape_names_the_field() -> None:
    broken = msgspec.json.encode(HALT).replace(b'"FUND_HALT"', b'"SOFT_HALT"')
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(broken, Halt)
    assert caught.value.path == "$.severity"
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(b'{"sent":true}', OmsCommandReport)
    assert "detail" in str(caught.value)


def test_they_are_not_bus_payloads() -> None:
    assert not any(isinstance(answer, schemas.Payload) for answer in SAMPLES)
    assert not set(halt_api.__all__) & set(schemas.__all__)
    assert set(halt_api.__all__) == {
        "Halt",
        "HaltAnswer",
        "HaltList",
        "HaltOutcome",
        "HaltStatus",
        "OmsCommandOutcome",
        "OmsCommandReport",
        "Preflight",
        "ResumeAnswer",
        "ResumeResult",
    }
