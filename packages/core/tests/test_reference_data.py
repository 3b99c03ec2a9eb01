"""core.testing.reference_file: the shared reference data is found from any checkout, or named as missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mts1b_operations.core.testing import REFERENCE_DIR_ENV, reference_file


def test_the_cat_schema_is_found_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REFERENCE_DIR_ENV, raising=False)
    path = reference_file("cat", "cat-im-schema-4.0.0.json")
    assert path.is_file()
    assert path.read_text().lstrip().startswith("{")


def test_the_variable_overrides_the_search(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "x.json").write_text("{}")
    monkeypatch.setenv(REFERENCE_DIR_ENV, str(tmp_path))
    assert reference_file("cat", "x.json") == tmp_path / "cat" / "x.json"
    with pytest.raises(FileNotFoundError, match=REFERENCE_DIR_ENV) as excinfo:
        reference_file("cat", "cat-im-schema-4.0.0.json")
    assert "cat/cat-im-schema-4.0.0.json" in str(excinfo.value)
