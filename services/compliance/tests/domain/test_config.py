"""The service's own settings: defaults, and one line naming the variable when one is wrong."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from mts1b_operations.compliance._config import ComplianceConfig, load_config
from mts1b_operations.core.settings import SettingsError


def test_defaults() -> None:
    config = load_config({})
    assert config.output_dir == Path("var/compliance")
    assert config.cut_time == time(18, 30)
    assert config.instruments_file is None


def test_values_are_read(tmp_path: Path) -> None:
    instruments = tmp_path / "instruments.yaml"
    instruments.write_text("instruments: []\n")
    config = load_config(
        {
            "MTS_COMPLIANCE_OUTPUT_DIR": str(tmp_path / "out"),
            "MTS_COMPLIANCE_CUT_TIME": "17:05",
            "MTS_COMPLIANCE_INSTRUMENTS_FILE": str(instruments),
        }
    )
    assert (config.output_dir, config.cut_time, config.instruments_file) == (
        tmp_path / "out",
        time(17, 5),
        instruments,
    )


@pytest.mark.parametrize("raw", ["18.30", "24:00", "7:30", "18:60", "noon"])
def test_a_malformed_cut_time_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^MTS_COMPLIANCE_CUT_TIME: must be HH:MM") as caught:
        load_config({"MTS_COMPLIANCE_CUT_TIME": raw})
    assert caught.value.variable == "MTS_COMPLIANCE_CUT_TIME"


def test_a_missing_instruments_file_and_a_file_as_output_dir_name_their_variables(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as missing:
        load_config({"MTS_COMPLIANCE_INSTRUMENTS_FILE": str(tmp_path / "nope.yaml")})
    assert missing.value.variable == "MTS_COMPLIANCE_INSTRUMENTS_FILE"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(SettingsError) as not_a_dir:
        load_config({"MTS_COMPLIANCE_OUTPUT_DIR": str(a_file)})
    assert not_a_dir.value.variable == "MTS_COMPLIANCE_OUTPUT_DIR"


def test_code_level_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^filing_interval: "):
        ComplianceConfig(filing_interval=0)
    with pytest.raises(ValueError, match=r"^submit_attempts: "):
        ComplianceConfig(submit_attempts=0)
