"""The instrument reference: the example file loads real ISINs; every error names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mts1b_operations.compliance.reg_reporting._identifiers import is_valid_isin
from mts1b_operations.compliance.reg_reporting._instruments import (
    EXAMPLE_INSTRUMENTS_FILE,
    Instrument,
    InstrumentReference,
    InstrumentsFileError,
    load_instruments,
)
from mts1b_operations.devstack.replay.generator import DEFAULT_SYMBOLS


def _error(tmp_path: Path, text: str) -> InstrumentsFileError:
    path = tmp_path / "instruments.yaml"
    path.write_text(text)
    with pytest.raises(InstrumentsFileError) as caught:
        load_instruments(path)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


def test_the_example_covers_the_replay_symbols_with_real_isins() -> None:
    reference = load_instruments(EXAMPLE_INSTRUMENTS_FILE)
    assert set(reference.symbols) == set(DEFAULT_SYMBOLS)
    apple = reference.get("AAPL")
    assert apple == Instrument(
        isin="US0378331005", mic="XNAS", currency="USD", cfi="ESVUFR", full_name="Apple Inc."
    )
    for symbol in reference:
        instrument = reference.get(symbol)
        assert instrument is not None
        assert instrument.isin is not None
        assert is_valid_isin(instrument.isin)
    assert reference.by_isin("US78462F1030") == reference.get("SPY")
    assert reference.get("GOOG") is None
    assert "GOOG" not in reference


def test_an_empty_reference_knows_nothing() -> None:
    assert len(InstrumentReference.empty()) == 0
    assert InstrumentReference.empty().get("AAPL") is None


def test_a_wrong_check_digit_names_the_symbol_and_field(tmp_path: Path) -> None:
    error = _error(tmp_path, "instruments:\n  AAPL: {isin: US0378331006, mic: XNAS, currency: USD}\n")
    assert error.field == "instruments.AAPL.isin"
    assert "US0378331006" in error.problem
    assert "ISIN" in error.problem


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ("{isin: US0378331005, mic: xnas, currency: USD}", "instruments.AAPL.mic", "regex"),
        ("{isin: US0378331005, mic: XNAS, currency: usd}", "instruments.AAPL.currency", "regex"),
        ("{isin: US0378331005, currency: USD}", "instruments.AAPL.mic", "required field is missing"),
        ("{isin: US0378331005, mic: XNAS, currency: USD, cfi: ES}", "instruments.AAPL.cfi", "regex"),
        ("{isin: US0378331005, mic: XNAS, currency: USD, lot: 100}", "instruments.AAPL.lot", "unknown field"),
    ],
)
def test_field_errors_name_the_field(tmp_path: Path, entry: str, field: str, words: str) -> None:
    error = _error(tmp_path, f"instruments:\n  AAPL: {entry}\n")
    assert error.field == field
    assert words in error.problem


def test_file_level_errors(tmp_path: Path) -> None:
    assert "empty" in str(_error(tmp_path, ""))
    assert "not valid YAML" in str(_error(tmp_path, "instruments: [\n"))
    assert "top-level 'instruments:'" in str(_error(tmp_path, "symbols: {}\n"))
    error = _error(tmp_path, "instruments:\n  'A B': {mic: XNAS, currency: USD}\n")
    assert error.field == "instruments.A B"
    with pytest.raises(InstrumentsFileError, match="cannot read"):
        load_instruments(tmp_path / "missing.yaml")


def test_an_instrument_without_isin_loads(tmp_path: Path) -> None:
    path = tmp_path / "instruments.yaml"
    path.write_text("instruments:\n  XYZ: {mic: XNYS, currency: USD}\n")
    instrument = load_instruments(path).get("XYZ")
    assert instrument is not None
    assert instrument.isin is None
