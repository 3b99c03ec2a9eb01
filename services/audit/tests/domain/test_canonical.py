"""Canonical JSON: byte-identical to the rfc8785 package, and every refusal names its path."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import struct

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from mts1b_operations.audit.domain import (
    MAX_DATA_BYTES,
    MAX_JSON_DEPTH,
    MAX_SAFE_INTEGER,
    AuditInputError,
    canonical_json,
    canonical_number,
    canonical_string,
)

# Every code point but NUL and the surrogates (which canonical_json refuses).
json_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | safe_ints | finite_floats | json_text
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(json_text, children, max_size=5)
    ),
    max_leaves=40,
)
# Keys mixing high BMP characters with characters above U+FFFF, where UTF-16 order and
# code point order disagree.
tricky_keys = st.text(
    alphabet="a~\x7f\u00e9\ue000\uffef\uffff\U00010000\U0001f600\U0010fffd", min_size=0, max_size=4
)


@settings(max_examples=400)
@given(json_values)
def test_matches_rfc8785_byte_for_byte(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@given(st.dictionaries(tricky_keys, safe_ints, min_size=2, max_size=8))
def test_object_members_are_sorted_by_utf16_code_units(value: dict[str, int]) -> None:
    encoded = canonical_json(value)
    assert encoded == rfc8785.dumps(value)
    keys = list(json.loads(encoded))
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be"))


@settings(max_examples=1000)
@given(finite_floats)
def test_floats_match_rfc8785_and_round_trip(number: float) -> None:
    encoded = canonical_json(number)
    assert encoded == rfc8785.dumps(number)
    assert float(encoded) == number


def parse_int(text: str) -> int | float:
    # JCS numbers are doubles: an integer literal beyond 2**53 can only be a double written
    # in full (canonical_json refuses such ints), so it reads back as that double.
    number = int(text)
    return number if abs(number) <= MAX_SAFE_INTEGER else float(text)


@given(json_values)
def test_output_is_json_that_reads_back_equal(value: object) -> None:
    def normalise(v: object) -> object:
        if isinstance(v, tuple | list):
            return [normalise(x) for x in v]
        if isinstance(v, dict):
            return {k: normalise(x) for k, x in v.items()}
        return v

    decoded = json.loads(canonical_json(value), parse_int=parse_int)
    assert decoded == normalise(value)
    assert canonical_json(decoded) == canonical_json(value)


def test_rfc8785_key_sorting_example() -> None:
    # RFC 8785 section 3.2.3.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        # RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS text.
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_rfc8785_number_vectors(bits: str, expected: str) -> None:
    number = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(number) == expected.encode()
    assert canonical_number(number) == expected


def test_strings_escape_exactly_as_jcs() -> None:
    text = '"\\/\b\f\n\r\t\x01\x1f\x7f\u2028\u00e9\U0001f600'
    assert (
        canonical_json(text)
        == b'"\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80"'
    )
    assert canonical_string("a\tb") == '"a\\tb"'


def test_integers_at_the_safe_limit_are_accepted() -> None:
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"


def test_no_insignificant_whitespace() -> None:
    assert canonical_json({"b": [1, 2.5, None], "a": {"c": True}}) == b'{"a":{"c":true},"b":[1,2.5,null]}'


def refusal(value: object, **kwargs: object) -> AuditInputError:
    with pytest.raises(AuditInputError) as caught:
        canonical_json(value, path="data", **kwargs)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_with_their_path(number: float) -> None:
    error = refusal({"items": [{"px": 1.0}, {"px": number}]})
    assert error.field == "data.items[1].px"
    assert "NaN and infinities" in error.problem


@pytest.mark.parametrize("number", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**30])
def test_integers_beyond_2_53_are_refused(number: int) -> None:
    error = refusal({"qty": number})
    assert error.field == "data.qty"
    assert "2**53" in error.problem


def test_nul_in_a_string_is_refused() -> None:
    error = refusal({"items": [0, 1, 2, {"name": "a\x00b"}]})
    assert error.field == "data.items[3].name"
    assert "NUL" in error.problem


def test_nul_in_a_key_is_refused() -> None:
    error = refusal({"outer": {"a\x00": 1}})
    assert error.field == "data.outer"
    assert "NUL" in error.problem
    assert "object key" in error.problem


def test_lone_surrogate_in_a_string_is_refused() -> None:
    error = refusal({"note": ["ok", "bad \ud800 here"]})
    assert error.field == "data.note[1]"
    assert "lone surrogate U+D800" in error.problem


def test_lone_surrogate_in_a_key_is_refused() -> None:
    error = refusal({"\udfff": 1})
    assert error.field == "data"
    assert "lone surrogate U+DFFF" in error.problem


def test_non_string_keys_are_refused() -> None:
    error = refusal({"m": {1: "one"}})
    assert error.field == "data.m"
    assert "keys must be strings" in error.problem


@pytest.mark.parametrize(
    "value",
    [{1, 2}, b"bytes", datetime.datetime(2024, 1, 1), decimal.Decimal("1.5"), object(), 1 + 2j],
)
def test_unsupported_types_are_refused(value: object) -> None:
    error = refusal({"x y": [value]})
    assert error.field == 'data["x y"][0]'
    assert "not a JSON type" in error.problem


def nested(depth: int) -> object:
    value: object = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_refused() -> None:
    canonical_json(nested(MAX_JSON_DEPTH))
    error = refusal(nested(MAX_JSON_DEPTH + 1))
    assert error.field == "data" + ".k" * MAX_JSON_DEPTH
    assert f"limit of {MAX_JSON_DEPTH} levels" in error.problem


def test_deep_lists_count_as_nesting_too() -> None:
    value: object = []
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    error = refusal(value)
    assert error.field == "data" + "[0]" * MAX_JSON_DEPTH


def test_size_limit_counts_canonical_bytes() -> None:
    overhead = len(b'{"s":""}')
    exactly = {"s": "x" * (MAX_DATA_BYTES - overhead)}
    assert len(canonical_json(exactly, max_bytes=MAX_DATA_BYTES)) == MAX_DATA_BYTES
    error = refusal({"s": "x" * (MAX_DATA_BYTES - overhead + 1)}, max_bytes=MAX_DATA_BYTES)
    assert error.field == "data"
    assert str(MAX_DATA_BYTES) in error.problem


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    # 30,000 three-byte characters: 90,000 bytes, well under 64 Ki characters.
    error = refusal({"s": "\u20ac" * 30_000}, max_bytes=MAX_DATA_BYTES)
    assert error.field == "data"


def test_a_single_huge_string_is_refused_without_encoding_it() -> None:
    error = refusal({"blob": "x" * (10 * MAX_DATA_BYTES)}, max_bytes=MAX_DATA_BYTES)
    assert error.field == "data.blob"


def test_canonical_number_refuses_non_numbers() -> None:
    with pytest.raises(AuditInputError, match="must be a number"):
        canonical_number(True, path="n")
