"""Start-up choices: quote reads are left out of tracing unless the operator decided otherwise."""

from __future__ import annotations

import os

import pytest

from mts1b_operations.marketdata.bootstrap import (
    OTEL_EXCLUDED_URLS,
    UNTRACED_BY_DEFAULT,
    _untrace_quote_reads,
)


def unset(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Remove ``names`` from the environment for this test (restored afterwards, even if set by it)."""
    for name in names:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)


def test_quote_reads_are_untraced_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    unset(monkeypatch, OTEL_EXCLUDED_URLS, "OTEL_PYTHON_EXCLUDED_URLS")
    _untrace_quote_reads()
    assert os.environ[OTEL_EXCLUDED_URLS] == UNTRACED_BY_DEFAULT


@pytest.mark.parametrize("variable", [OTEL_EXCLUDED_URLS, "OTEL_PYTHON_EXCLUDED_URLS"])
def test_the_operators_choice_stands(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    unset(monkeypatch, OTEL_EXCLUDED_URLS, "OTEL_PYTHON_EXCLUDED_URLS")
    monkeypatch.setenv(variable, "")  # empty: trace everything
    _untrace_quote_reads()
    assert os.environ[variable] == ""
    if variable != OTEL_EXCLUDED_URLS:
        assert OTEL_EXCLUDED_URLS not in os.environ
