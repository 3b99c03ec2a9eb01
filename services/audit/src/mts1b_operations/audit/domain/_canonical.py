"""Canonical JSON: byte-identical to RFC 8785 (JCS) for every value it accepts.

Accepted: ``dict`` with ``str`` keys, ``list`` / ``tuple``, ``str``, ``bool``, ``None``, ``int``
within +-(2**53 - 1) and finite ``float``. Output: UTF-8, no insignificant whitespace, object
members sorted by the UTF-16 code units of their keys, strings escaped as JCS says (only ``"``,
``\\`` and U+0000..U+001F; ``\\b \\t \\n \\f \\r`` in short form, the rest as lowercase
``\\u00xx``), numbers written as ECMAScript's ``Number.prototype.toString`` writes the double.

Refused, with an :class:`AuditInputError` naming the JSON path: NaN and +-infinity, integers
beyond +-(2**53 - 1) (JCS numbers are doubles; send big integers as strings), NUL (U+0000) and
lone surrogates in any string or key, non-``str`` keys, any other type, nesting deeper than
``max_depth`` and an encoding longer than ``max_bytes``.

NUL is refused although JCS could escape it, because Postgres text cannot store it and a
record that cannot be stored faithfully must not be hashed.
"""

from __future__ import annotations

import json
import math
import re
from json.encoder import encode_basestring
from typing import cast

from ._errors import AuditInputError
from ._limits import MAX_JSON_DEPTH, MAX_SAFE_INTEGER

__all__ = ["canonical_json", "canonical_number", "canonical_string"]

_REFUSED_CHAR = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _RefusalError(Exception):
    """Raised deep in the walk; each enclosing container prepends its path segment on the way out."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.segments: list[str] = []


class _TooDeepError(_RefusalError):
    def __init__(self) -> None:
        super().__init__("nested too deeply")


def canonical_json(
    value: object,
    *,
    path: str = "value",
    max_bytes: int | None = None,
    max_depth: int = MAX_JSON_DEPTH,
) -> bytes:
    """The RFC 8785 canonical JSON of ``value``, as UTF-8 bytes.

    ``path`` names ``value`` in error messages (``"data"`` gives ``"data.items[3].name"``);
    ``max_depth`` bounds the nesting of objects and arrays (a top-level object is depth 1);
    ``max_bytes`` bounds the encoded size.
    """
    parts: list[str] = []
    try:
        _encode(value, parts, max_depth, max_bytes)
    except _RefusalError as refusal:
        problem = refusal.problem
        if isinstance(refusal, _TooDeepError):
            problem = f"objects and arrays are nested deeper than the limit of {max_depth} levels"
        raise AuditInputError(path + "".join(reversed(refusal.segments)), problem) from None
    # Cannot fail: lone surrogates, the only unencodable code points, were refused above.
    encoded = "".join(parts).encode("utf-8")
    if max_bytes is not None and len(encoded) > max_bytes:
        raise AuditInputError(
            path, f"canonical JSON is {len(encoded)} bytes, over the limit of {max_bytes} bytes"
        )
    return encoded


def canonical_string(text: str, *, path: str = "value") -> str:
    """The JCS encoding of one string (quotes included), refusing NUL and lone surrogates."""
    bad = _REFUSED_CHAR.search(text)
    if bad is not None:
        raise AuditInputError(path, _char_problem("string", bad.group(), bad.start()))
    return encode_basestring(text)


def canonical_number(number: int | float, *, path: str = "value") -> str:
    """The JCS encoding of one number (ECMAScript ``Number.prototype.toString`` of the double)."""
    try:
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise _RefusalError(f"must be a number, got {type(number).__name__}")
        return _int(number) if isinstance(number, int) else _float(number)
    except _RefusalError as refusal:
        raise AuditInputError(path, refusal.problem) from None


def _encode(value: object, out: list[str], depth_left: int, max_bytes: int | None) -> None:
    if isinstance(value, str):
        if max_bytes is not None and len(value) > max_bytes:
            raise _RefusalError(f"string of {len(value)} characters cannot fit in {max_bytes} bytes")
        bad = _REFUSED_CHAR.search(value)
        if bad is not None:
            raise _RefusalError(_char_problem("string", bad.group(), bad.start()))
        out.append(encode_basestring(value))
    elif isinstance(value, dict):
        if depth_left <= 0:
            raise _TooDeepError
        _encode_object(value, out, depth_left - 1, max_bytes)
    elif isinstance(value, list | tuple):
        if depth_left <= 0:
            raise _TooDeepError
        _encode_array(value, out, depth_left - 1, max_bytes)
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(_int(value))
    elif isinstance(value, float):
        out.append(_float(value))
    else:
        raise _RefusalError(
            f"{type(value).__name__} is not a JSON type (use dict, list, str, int, float, bool, None)"
        )


def _encode_object(obj: dict[object, object], out: list[str], depth_left: int, max_bytes: int | None) -> None:
    for key in obj:
        if not isinstance(key, str):
            raise _RefusalError(
                f"object key {key!r} is a {type(key).__name__}; JSON object keys must be strings"
            )
        bad = _REFUSED_CHAR.search(key)
        if bad is not None:
            raise _RefusalError(_char_problem(f"object key {_quote(key)}", bad.group(), bad.start()))
    # RFC 8785 3.2.3: members sorted by the UTF-16 code units of their names. Code point
    # order (Python's) differs only when a key holds a character above U+FFFF.
    keys = sorted(cast("dict[str, object]", obj), key=_utf16_units)
    out.append("{")
    first = True
    for key in keys:
        if not first:
            out.append(",")
        first = False
        out.append(encode_basestring(key))
        out.append(":")
        try:
            _encode(obj[key], out, depth_left, max_bytes)
        except _RefusalError as refusal:
            refusal.segments.append(_key_segment(key))
            raise
    out.append("}")


def _encode_array(
    items: list[object] | tuple[object, ...], out: list[str], depth_left: int, max_bytes: int | None
) -> None:
    out.append("[")
    for index, item in enumerate(items):
        if index:
            out.append(",")
        try:
            _encode(item, out, depth_left, max_bytes)
        except _RefusalError as refusal:
            refusal.segments.append(f"[{index}]")
            raise
    out.append("]")


def _int(number: int) -> str:
    if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return int.__repr__(number)
    raise _RefusalError(
        f"integer {number} is beyond +-(2**53 - 1), which JSON numbers (IEEE doubles) cannot hold "
        "exactly; send it as a string"
    )


def _float(number: float) -> str:
    """ECMAScript Number::toString (ECMA-262 7.1.12.1), as RFC 8785 3.2.2.3 requires."""
    if not math.isfinite(number):
        raise _RefusalError(f"{number!r} is not a JSON number (NaN and infinities are refused)")
    if number == 0:
        return "0"  # also -0, as JCS says
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digit string that round-trips (the closest one when there are
    # several), which is exactly the digit string s that ECMAScript picks.
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    # Now value = 0.<digits> * 10**point, i.e. ECMAScript's s, k = len(s), n = point.
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    exp = n - 1
    exp_text = f"e+{exp}" if exp >= 0 else f"e-{-exp}"
    if k == 1:
        return sign + digits + exp_text
    return sign + digits[0] + "." + digits[1:] + exp_text


def _utf16_units(key: str) -> bytes:
    return key.encode("utf-16-be")


def _key_segment(key: str) -> str:
    return f".{key}" if _IDENTIFIER.match(key) else f"[{_quote(key)}]"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=True)


def _char_problem(what: str, char: str, position: int) -> str:
    if char == "\x00":
        return f"{what} contains a NUL character (U+0000) at index {position}, which cannot be stored"
    return (
        f"{what} contains a lone surrogate U+{ord(char):04X} at index {position}, which is not valid Unicode"
    )
