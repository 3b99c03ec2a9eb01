"""Figures a test wants in the run's output even when it passes (and under xdist, where a
worker's prints never reach the terminal): ``record_property(SUMMARY_PROPERTY, text)``."""

from __future__ import annotations

from typing import Final

import pytest

__all__ = ["SUMMARY_PROPERTY", "pytest_terminal_summary"]

SUMMARY_PROPERTY: Final = "mts_summary"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == SUMMARY_PROPERTY and getattr(report, "when", "call") == "call":
                    terminalreporter.write_sep("=", f"summary of {report.nodeid} ({outcome})")
                    terminalreporter.write_line(str(value))
