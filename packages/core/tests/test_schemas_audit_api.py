"""core.schemas.audit_api: the audit API's answers, shared by the service and the SDK."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.schemas import audit_api
from mts1b_operations.core.schemas.audit_api import (
    CheckpointView,
    DrillReportRecorded,
    EntriesPage,
    EntryView,
    ProofView,
    TrailView,
    VerifyBroken,
    VerifyIntact,
    VerifyProgress,
    VerifyProgressLine,
)

AT = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
CANONICAL = '{"action":"a","seq":0}'
ENTRY = EntryView(
    sequence=0,
    timestamp=AT,
    timestamp_us=1_767_346_200_000_000,
    actor="mts1b-oms",
    action="a",
    subject_id="ord-0",
    data={"i": 0},
    prev_hash="0" * 64,
    hash=hashlib.sha256(CANONICAL.encode()).hexdigest(),
    canonical=CANONICAL,
)
SAMPLES: list[msgspec.Struct] = [
    ENTRY,
    TrailView(subject_id="ord-0", count=1, entries=[ENTRY]),
    EntriesPage(from_sequence=0, limit=1, count=1, entries=[ENTRY], next_from_sequence=1),
    VerifyIntact(
        from_sequence=0, verified=1, head_sequence=0, head_hash=ENTRY.hash, checkpoint_tree_size=None
    ),
    VerifyBroken(from_sequence=0, sequence=3, reason="hash mismatch", kind="hash_mismatch"),
    VerifyProgressLine(progress=VerifyProgress(verified=1, total=2)),
    ProofView(
        sequence=0,
        entry_hash=ENTRY.hash,
        tree_size=1,
        path=[],
        checkpoint="note",
        canonical=CANONICAL,
        verifier_key="k",
    ),
    CheckpointView(
        tree_size=1,
        sequence=0,
        head_hash=ENTRY.hash,
        merkle_root="ab" * 32,
        note="note",
        key_id="5217c7ec",
        signed_at=AT,
        verifier_key="k",
    ),
    DrillReportRecorded(
        drill_id="d-1",
        report_sha256="ab" * 32,
        recorded_by="operator:o",
        sequence=4,
        entry_hash="cd" * 32,
        created=True,
    ),
]


@pytest.mark.parametrize("answer", SAMPLES, ids=lambda a: type(a).__name__)
def test_answers_round_trip_untagged_and_ignore_unknown_fields(answer: msgspec.Struct) -> None:
    data = msgspec.json.encode(answer)
    assert not data.startswith(b'{"type"')
    assert msgspec.json.decode(data, type=type(answer)) == answer
    newer = data[:-1] + b',"added_later":{"x":[1]}}'
    assert msgspec.json.decode(newer, type=type(answer)) == answer


def test_the_verify_answers_say_ok_first_and_the_progress_line_is_the_streams() -> None:
    assert msgspec.json.encode(SAMPLES[3]).startswith(b'{"ok":true,"from_sequence":0,')
    assert msgspec.json.encode(SAMPLES[4]) == (
        b'{"ok":false,"from_sequence":0,"sequence":3,"reason":"hash mismatch","kind":"hash_mismatch"}'
    )
    assert msgspec.json.encode(SAMPLES[5]) == b'{"progress":{"verified":1,"total":2}}'


def test_an_entry_checks_its_own_hash() -> None:
    assert ENTRY.hash_matches()
    assert not msgspec.structs.replace(ENTRY, canonical=CANONICAL + " ").hash_matches()


def test_a_hash_that_is_not_lowercase_hex_names_the_field() -> None:
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(msgspec.json.encode(ENTRY).replace(ENTRY.hash.encode(), b"AB" * 32), EntryView)
    assert caught.value.path == "$.hash"


def test_they_are_not_bus_payloads() -> None:
    assert not any(isinstance(answer, schemas.Payload) for answer in SAMPLES)
    assert not set(audit_api.__all__) & set(schemas.__all__)
    assert set(audit_api.__all__) == {
        "CheckpointView",
        "DrillReportRecorded",
        "EntriesPage",
        "EntryView",
        "ProofView",
        "TrailView",
        "VerifyBroken",
        "VerifyIntact",
        "VerifyProgress",
        "VerifyProgressLine",
    }
