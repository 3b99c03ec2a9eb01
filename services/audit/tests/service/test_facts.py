"""How each delivered fact maps to an append: actor, action, subject id, data, source event id."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from mts1b_operations.audit.domain import MAX_DATA_BYTES, validate_append
from mts1b_operations.audit.entrypoints._facts import (
    action_of,
    fact_record,
    is_never_audited,
    source_event_id_of,
)
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import (
    ComplianceFileFact,
    ComplianceReportFact,
    HaltRequested,
    HaltResumed,
    OmsCommandAck,
    OperationsCommand,
    WatchdogAlert,
    encode,
)

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def delivery(subject: str, data: bytes, *, msg_id: str | None = "m-1", seq: int = 7) -> Delivery:
    headers = {"Nats-Msg-Id": msg_id} if msg_id else {}
    return Delivery(
        subject=subject,
        data=data,
        headers=MappingProxyType(headers),
        msg_id=msg_id,
        num_delivered=1,
        stream_sequence=seq,
        timestamp=NOW,
        stream="OPERATIONS",
        durable="mts1b-audit",
    )


def halt_requested(**changes: Any) -> HaltRequested:
    fields: dict[str, Any] = {
        "halt_id": "halt-42",
        "severity": "FUND_HALT",
        "mode": "cancel_open",
        "fund_id": "paper-momentum",
        "reason": "drawdown breach",
        "requested_by": "operator:alice",
        "requested_at": NOW,
    }
    return HaltRequested(**(fields | changes))


def test_a_halt_request_is_recorded_by_its_requester_about_its_halt() -> None:
    payload = halt_requested()
    record = fact_record(delivery(subjects.halt_requested(), encode(payload)))
    assert record.actor == "operator:alice"
    assert record.action == "halt.requested"
    assert record.subject_id == "halt-42"
    assert record.data == json.loads(encode(payload))
    assert record.data["type"] == "HaltRequested"
    assert record.source_event_id == f"nats:{subjects.halt_requested()}:m-1"


def test_a_resume_is_recorded_by_who_resumed() -> None:
    payload = HaltResumed(
        halt_id="halt-42",
        severity="FIRM_HALT",
        mode="block_new",
        reason="drill",
        requested_by="operator:alice",
        resumed_by="operator:bob",
        cosigned_by="operator:carol",
        requested_at=NOW,
        resumed_at=NOW,
    )
    record = fact_record(delivery(subjects.halt_resumed(), encode(payload)))
    assert (record.actor, record.action, record.subject_id) == ("operator:bob", "halt.resumed", "halt-42")


def test_a_watchdog_alert_is_the_watchdogs_about_what_it_watches() -> None:
    alert = WatchdogAlert(
        alert_id="a-1",
        watchdog="vpin",
        status="firing",
        subject_id="AAPL",
        value=0.9,
        threshold=0.8,
        message="toxic flow",
        fired_at=NOW,
    )
    record = fact_record(delivery(subjects.watchdog_alert("vpin"), encode(alert)))
    assert (record.actor, record.action, record.subject_id) == ("watchdog:vpin", "watchdog.vpin", "AAPL")
    assert record.data["value"] == 0.9


def test_an_operator_command_is_the_operators_about_the_command() -> None:
    command = OperationsCommand(
        command_id="cmd-9", command="restart", requested_by="operator:alice", issued_at=NOW
    )
    record = fact_record(delivery(subjects.operations_command("restart"), encode(command)))
    assert (record.actor, record.action, record.subject_id) == ("operator:alice", "cmd.restart", "cmd-9")


def test_an_ack_published_on_a_subject_of_no_contract_type_is_read_by_its_type_tag() -> None:
    ack = OmsCommandAck(
        command_id="cmd-7",
        responder="paper-oms-1",
        command="cancel_all",
        ok=True,
        orders_cancelled=3,
        acked_at=NOW,
    )
    record = fact_record(delivery("mts.v1.operations.cmd.ack", encode(ack)))
    assert (record.actor, record.action, record.subject_id) == ("paper-oms-1", "cmd.ack", "cmd-7")
    assert record.data["orders_cancelled"] == 3


def test_fields_a_newer_producer_added_are_kept() -> None:
    body = json.loads(encode(halt_requested()))
    body["ticket"] = "INC-1234"
    record = fact_record(delivery(subjects.halt_requested(), json.dumps(body).encode()))
    assert record.data["ticket"] == "INC-1234"
    assert record.actor == "operator:alice"


def test_an_unknown_subject_is_the_publishers_about_no_one_subject() -> None:
    record = fact_record(delivery("mts.v1.oms.order.rejected", b'{"order_id": "o-1"}'))
    assert (record.actor, record.action, record.subject_id) == (
        "publisher:oms",
        "oms.order.rejected",
        "",
    )
    assert record.data == {"order_id": "o-1"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object but a list"),
        (b'{"type": "HaltRequested", "halt_id": "h-1"}', "does not match HaltRequested"),
    ],
)
def test_an_undecodable_payload_is_recorded_raw_with_the_reason(data: bytes, error: str) -> None:
    record = fact_record(delivery(subjects.halt_requested(), data))
    assert record.action == "halt.requested"
    assert error in record.data["error"]
    assert base64.b64decode(record.data["raw"]) == data
    assert record.data["subject"] == subjects.halt_requested()
    validate_append(record.actor, record.action, record.subject_id, record.data)


def test_a_bad_payload_keeps_what_identity_it_can() -> None:
    # The schema check fails (no reason, no severity...) but the halt id is still usable.
    record = fact_record(delivery(subjects.halt_requested(), b'{"halt_id": "h-9", "requested_by": "svc"}'))
    assert record.subject_id == "h-9"
    assert record.actor == "svc"
    assert "raw" in record.data


def test_an_unusable_actor_falls_back_to_the_publisher() -> None:
    body = json.loads(encode(halt_requested()))
    body["requested_by"] = "x" * 250  # valid for the schema (<= 256), too long for the chain (<= 200)
    record = fact_record(delivery(subjects.halt_requested(), json.dumps(body).encode()))
    assert record.actor == "publisher:operations"
    assert record.subject_id == "halt-42"


def test_unrecordable_keeps_a_digest_when_the_payload_is_too_big_to_embed() -> None:
    big = b'{"blob": "' + b"a" * MAX_DATA_BYTES + b'"}'
    d = delivery("mts.v1.operations.cmd.watchdog", big)
    record = fact_record(d).unrecordable(d, "data: too large")
    assert "raw" not in record.data
    assert record.data["raw_sha256"] == hashlib.sha256(big).hexdigest()
    assert record.data["raw_bytes"] == len(big)
    validate_append(record.actor, record.action, record.subject_id, record.data)


def test_the_same_delivery_always_maps_to_the_same_source_event_id() -> None:
    first = delivery(subjects.halt_requested(), b"{}", msg_id=None, seq=12)
    again = delivery(subjects.halt_requested(), b"{}", msg_id=None, seq=12)
    other = delivery(subjects.halt_requested(), b"{}", msg_id=None, seq=13)
    assert source_event_id_of(first) == source_event_id_of(again)
    assert source_event_id_of(first).startswith("jetstream:OPERATIONS:12:")
    assert source_event_id_of(first) != source_event_id_of(other)


@pytest.mark.parametrize("msg_id", ["x" * 2000, "bad\x00id"])
def test_an_unstorable_message_id_becomes_a_digest(msg_id: str) -> None:
    first = source_event_id_of(delivery(subjects.halt_requested(), b"{}", msg_id=msg_id))
    assert first.startswith("nats-sha256:")
    assert len(first) == len("nats-sha256:") + 64
    assert first == source_event_id_of(delivery(subjects.halt_requested(), b"{}", msg_id=msg_id))
    assert first != source_event_id_of(delivery(subjects.halt_resumed(), b"{}", msg_id=msg_id))


def test_actions_and_the_subjects_never_audited() -> None:
    assert action_of("mts.v1.operations.watchdog.db") == "watchdog.db"
    assert action_of("mts.v1.strategy.pnl.s-1") == "strategy.pnl.s-1"
    assert action_of("other.subject") == "other.subject"
    assert is_never_audited(subjects.audit_appended())
    assert is_never_audited(subjects.audit_checkpoint())
    assert is_never_audited(subjects.service_heartbeat("halt"))
    assert not is_never_audited(subjects.halt_requested())


def test_a_compliance_fact_is_the_acting_party_s_about_its_report_or_file() -> None:
    report = ComplianceReportFact(
        report_id=3,
        regime="cat",
        fund_id="live-equities",
        report_key="20260316_abc",
        event_type="MEOR",
        order_id="o-1",
        source_event_id="e-1",
        trade_date=NOW.date(),
        status="pending",
        repaired_from=2,
        reason="route session missing",
        actor="operator:alice",
        at=NOW,
    )
    record = fact_record(delivery(subjects.compliance_report("repaired"), encode(report)))
    assert (record.actor, record.action, record.subject_id) == (
        "operator:alice",
        "compliance.report.repaired",
        "20260316_abc",
    )
    file = ComplianceFileFact(
        file_id=1,
        regime="cat",
        fund_id="live-equities",
        name="ABCD_20260316_000001.json.bz2",
        trade_date=NOW.date(),
        sequence=1,
        record_count=3,
        sha256="ab" * 32,
        deadline=NOW,
        status="failed",
        attempts=2,
        error="ConnectionError: down",
        actor="service:compliance",
        at=NOW,
    )
    record = fact_record(delivery(subjects.compliance_file("failed"), encode(file)))
    assert (record.actor, record.action, record.subject_id) == (
        "service:compliance",
        "compliance.file.failed",
        "ABCD_20260316_000001.json.bz2",
    )
    assert record.data["error"] == "ConnectionError: down"
