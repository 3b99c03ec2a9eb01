"""The compliance service's own settings, read once from the environment at start-up.

``MTS_COMPLIANCE_OUTPUT_DIR`` (where the default transport writes files; default
``./var/compliance``), ``MTS_COMPLIANCE_CUT_TIME`` (``HH:MM`` Eastern time of the daily cut;
default ``18:30``) and ``MTS_COMPLIANCE_INSTRUMENTS_FILE`` (optional instrument reference for
regimes that need ISINs). A malformed value is a :class:`SettingsError` naming the variable.
The timing knobs below the settings (how often the filer wakes, how long a failed file waits)
are code-level: tests and firms pass a :class:`ComplianceConfig` to ``service_spec``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from mts1b_operations.core.settings import SettingsError

__all__ = [
    "CUT_TIME_VARIABLE",
    "EASTERN",
    "INSTRUMENTS_FILE_VARIABLE",
    "OUTPUT_DIR_VARIABLE",
    "ComplianceConfig",
    "load_config",
    "parse_cut_time",
]

OUTPUT_DIR_VARIABLE: Final = "MTS_COMPLIANCE_OUTPUT_DIR"
CUT_TIME_VARIABLE: Final = "MTS_COMPLIANCE_CUT_TIME"
INSTRUMENTS_FILE_VARIABLE: Final = "MTS_COMPLIANCE_INSTRUMENTS_FILE"
EASTERN: Final = ZoneInfo("America/New_York")
_HH_MM: Final = re.compile(r"^(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceConfig:
    output_dir: Path = Path("var/compliance")
    cut_time: time = time(18, 30)
    """Wall-clock time in America/New_York at which the day's pending reports are filed."""
    instruments_file: Path | None = None
    filing_interval: float = 15.0
    """Seconds between the filer's rounds (daily cut due? failed files to retry? overdue gauge)."""
    retry_delay: float = 30.0
    """A failed file waits ``retry_delay * 2**(rounds-1)`` seconds (at most ``retry_max_delay``)."""
    retry_max_delay: float = 900.0
    submit_attempts: int = 3
    """Tries of one submission round (tenacity, exponential wait) before the file counts as failed."""

    def __post_init__(self) -> None:
        for name in ("filing_interval", "retry_delay", "retry_max_delay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive seconds (got {getattr(self, name)!r})")
        if self.submit_attempts < 1:
            raise ValueError(f"submit_attempts: must be at least 1 (got {self.submit_attempts!r})")


def parse_cut_time(raw: str, *, variable: str = CUT_TIME_VARIABLE) -> time:
    match = _HH_MM.fullmatch(raw.strip())
    if match is None:
        raise SettingsError(variable, f"must be HH:MM in Eastern time, 00:00 to 23:59 (got {raw!r})")
    return time(int(match["h"]), int(match["m"]))


def _output_dir(raw: str) -> Path:
    path = Path(raw.strip() or "var/compliance")
    if path.exists() and not path.is_dir():
        raise SettingsError(OUTPUT_DIR_VARIABLE, f"names something that is not a directory ({path})")
    return path


def _instruments_file(raw: str) -> Path | None:
    if not raw.strip():
        return None
    path = Path(raw.strip())
    if not path.is_file():
        raise SettingsError(INSTRUMENTS_FILE_VARIABLE, f"names a file that does not exist ({path})")
    return path


def load_config(env: Mapping[str, str] | None = None) -> ComplianceConfig:
    env = os.environ if env is None else env
    raw_cut = env.get(CUT_TIME_VARIABLE, "").strip()
    return ComplianceConfig(
        output_dir=_output_dir(env.get(OUTPUT_DIR_VARIABLE, "")),
        cut_time=parse_cut_time(raw_cut) if raw_cut else time(18, 30),
        instruments_file=_instruments_file(env.get(INSTRUMENTS_FILE_VARIABLE, "")),
    )
