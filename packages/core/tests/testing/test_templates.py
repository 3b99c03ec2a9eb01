"""match_template: literal bytes, placeholders matched by pattern, one value per recurring name."""

from __future__ import annotations

import pytest

from mts1b_operations.core.testing import match_template

PATTERNS = {"id": r"h-[0-9a-f]{4}", "at": r"\d{2}:\d{2}"}


def test_placeholders_are_returned_and_recur_with_one_value() -> None:
    template = b'{"id":"<id>","at":"<at>","again":"<id>"}'
    found = match_template(b'{"id":"h-00ff","at":"09:30","again":"h-00ff"}', template, patterns=PATTERNS)
    assert found == {"id": "h-00ff", "at": "09:30"}
    with pytest.raises(AssertionError, match="does not match"):
        match_template(b'{"id":"h-00ff","at":"09:30","again":"h-0100"}', template, patterns=PATTERNS)


def test_known_values_and_kind_names() -> None:
    template = b"<id__first> then <id__second> at <at>"
    found = match_template(b"h-0001 then h-0002 at 10:00", template, patterns=PATTERNS, known={"at": "10:00"})
    assert found == {"at": "10:00", "id__first": "h-0001", "id__second": "h-0002"}
    with pytest.raises(AssertionError):
        match_template(b"h-0001 then h-0002 at 10:01", template, patterns=PATTERNS, known={"at": "10:00"})


def test_literal_bytes_must_be_equal_and_a_placeholder_needs_a_pattern() -> None:
    with pytest.raises(AssertionError):
        match_template(b'{"id": "h-00ff"}', b'{"id":"<id>"}', patterns=PATTERNS)
    with pytest.raises(KeyError, match="<price>"):
        match_template(b"1.5", b"<price>", patterns=PATTERNS)
