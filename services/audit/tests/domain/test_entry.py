"""Entry bytes, hashes and the input checks of an append."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from mts1b_operations.audit.domain import (
    GENESIS_PREV_HASH,
    MAX_ACTION_CHARS,
    MAX_ACTOR_CHARS,
    MAX_DATA_BYTES,
    MAX_SAFE_INTEGER,
    MAX_SUBJECT_ID_CHARS,
    AuditInputError,
    ChainIntegrityError,
    IntegrityProblem,
    canonical_json,
    entry_bytes,
    entry_from_canonical,
    entry_hash,
    make_entry,
    validate_append,
)

json_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
label = json_text.filter(lambda s: bool(s.strip()))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20,
)
data_objects = st.dictionaries(json_text, json_values, max_size=5)
hex_hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
counters = st.integers(0, MAX_SAFE_INTEGER)


@given(counters, counters, label, label, json_text, data_objects, hex_hashes)
def test_entry_bytes_are_the_documented_object_in_rfc8785_form(
    seq: int, ts: int, actor: str, action: str, subject: str, data: dict[str, Any], prev: str
) -> None:
    documented: dict[str, Any] = {
        "v": 1,
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "action": action,
        "subject": subject,
        "data": data,
        "prev": prev,
    }
    assert entry_bytes(seq, ts, actor, action, subject, data, prev) == rfc8785.dumps(documented)


@given(counters, counters, label, label, json_text, data_objects, hex_hashes)
def test_an_entry_reads_back_from_its_own_bytes(
    seq: int, ts: int, actor: str, action: str, subject: str, data: dict[str, Any], prev: str
) -> None:
    entry = make_entry(seq, ts, actor, action, subject, data, prev)
    assert (
        entry.sequence,
        entry.timestamp_us,
        entry.actor,
        entry.action,
        entry.subject_id,
        entry.prev_hash,
    ) == (
        seq,
        ts,
        actor,
        action,
        subject,
        prev,
    )
    assert entry.hash == hashlib.sha256(entry.canonical).hexdigest() == entry_hash(entry.canonical)
    # What readers get re-encodes to exactly the bytes that were hashed.
    assert canonical_json(entry.data) == canonical_json(data)
    assert entry_from_canonical(entry.canonical, sequence=seq) == entry


def test_hashes_chain_through_prev() -> None:
    first = make_entry(0, 10, "svc", "started", "", {}, GENESIS_PREV_HASH)
    second = make_entry(1, 11, "svc", "stopped", "", {}, first.hash)
    assert GENESIS_PREV_HASH == "0" * 64
    assert first.prev_hash == GENESIS_PREV_HASH
    assert second.prev_hash == first.hash
    assert f'"prev":"{first.hash}"'.encode() in second.canonical
    assert second.hash == hashlib.sha256(second.canonical).hexdigest()


def test_timestamp_is_exact_utc_microseconds() -> None:
    entry = make_entry(0, 1_700_000_000_123_456, "a", "b", "", {}, GENESIS_PREV_HASH)
    assert entry.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)


def test_a_double_written_in_full_reads_back_as_that_double() -> None:
    entry = make_entry(0, 0, "a", "b", "", {"x": 4.755635259071598e16, "y": [1e300]}, GENESIS_PREV_HASH)
    assert b'"x":47556352590715980' in entry.canonical
    assert entry.data == {"x": 4.755635259071598e16, "y": [1e300]}
    assert isinstance(entry.data["x"], float)


def refused(**overrides: object) -> AuditInputError:
    call: dict[str, object] = {
        "actor": "mts1b-oms",
        "action": "order_rejected",
        "subject_id": "ord-1",
        "data": {},
    }
    call.update(overrides)
    with pytest.raises(AuditInputError) as caught:
        validate_append(**call)
    return caught.value


@pytest.mark.parametrize("field", ["actor", "action"])
@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_empty_or_blank_actor_and_action_are_refused(field: str, value: str) -> None:
    error = refused(**{field: value})
    assert error.field == field
    assert "empty" in error.problem


@pytest.mark.parametrize(
    ("field", "limit"),
    [("actor", MAX_ACTOR_CHARS), ("action", MAX_ACTION_CHARS), ("subject_id", MAX_SUBJECT_ID_CHARS)],
)
def test_over_long_fields_are_refused(field: str, limit: int) -> None:
    validate_append(**{"actor": "a", "action": "b", "subject_id": "", "data": {}, field: "x" * limit})
    error = refused(**{field: "x" * (limit + 1)})
    assert error.field == field
    assert str(limit) in error.problem


@pytest.mark.parametrize("field", ["actor", "action", "subject_id"])
def test_nul_and_lone_surrogates_in_fields_are_refused(field: str) -> None:
    assert "NUL" in refused(**{field: "a\x00b"}).problem
    assert "surrogate" in refused(**{field: "a\ud834"}).problem


@pytest.mark.parametrize("field", ["actor", "action", "subject_id"])
def test_non_string_fields_are_refused(field: str) -> None:
    error = refused(**{field: 42})
    assert error.field == field
    assert "must be a string" in error.problem


def test_an_empty_subject_id_is_allowed() -> None:
    validate_append("svc", "heartbeat", "", {})


@pytest.mark.parametrize("data", [[1, 2], "text", None, 3])
def test_data_must_be_an_object(data: object) -> None:
    error = refused(data=data)
    assert error.field == "data"
    assert "JSON object" in error.problem


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"px": float("nan")}, "data.px"),
        ({"rows": [{"s": "a\x00"}]}, "data.rows[0].s"),
        ({"s": "\udc00"}, "data.s"),
        ({"when": datetime.now(UTC)}, "data.when"),
        ({"ids": {1, 2}}, "data.ids"),
    ],
)
def test_non_json_data_is_refused_naming_the_path(data: dict[str, object], field: str) -> None:
    assert refused(data=data).field == field


def test_data_over_the_size_limit_is_refused() -> None:
    error = refused(data={"blob": "x" * MAX_DATA_BYTES})
    assert error.field == "data"
    assert str(MAX_DATA_BYTES) in error.problem


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sequence": -1}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"sequence": MAX_SAFE_INTEGER + 1}, "sequence"),
        ({"timestamp_us": -5}, "timestamp_us"),
        ({"timestamp_us": 1.5}, "timestamp_us"),
        ({"prev_hash": "ABC"}, "prev_hash"),
        ({"prev_hash": "A" * 64}, "prev_hash"),
        ({"actor": ""}, "actor"),
    ],
)
def test_entry_bytes_checks_every_argument(overrides: dict[str, object], field: str) -> None:
    call: dict[str, object] = {
        "sequence": 0,
        "timestamp_us": 0,
        "actor": "a",
        "action": "b",
        "subject_id": "",
        "data": {},
        "prev_hash": GENESIS_PREV_HASH,
    }
    call.update(overrides)
    with pytest.raises(AuditInputError) as caught:
        entry_bytes(**call)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_reading_bytes_stored_under_another_sequence_is_refused() -> None:
    entry = make_entry(7, 0, "a", "b", "", {}, GENESIS_PREV_HASH)
    with pytest.raises(ChainIntegrityError) as caught:
        entry_from_canonical(entry.canonical, sequence=8)
    assert caught.value.sequence == 8
    assert caught.value.kind is IntegrityProblem.MISPLACED


@pytest.mark.parametrize(
    "canonical",
    [b"not json", b"{}", b'{"v":2,"seq":0}', b"[1,2]"],
)
def test_reading_bytes_that_are_no_entry_is_refused(canonical: bytes) -> None:
    with pytest.raises(ChainIntegrityError) as caught:
        entry_from_canonical(canonical, sequence=3)
    assert caught.value.sequence == 3
    assert caught.value.kind is IntegrityProblem.MALFORMED
