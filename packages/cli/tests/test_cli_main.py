"""`mts` itself: help, version, built-in and plugin groups, `mts serve` argument checks."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

from mts1b_operations.cli import ExitCode
from mts1b_operations.cli.main import cli

SERVICES = ["audit", "compliance", "halt", "marketdata-api", "watchdogs"]


def test_help_lists_builtin_and_plugin_groups() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("db", "serve", "dev"):
        assert f"  {command} " in result.output
    assert "Examples:" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mts, version {version('mts1b-operations-cli')}"


def test_the_dev_plugin_group_is_loaded_from_its_entry_point() -> None:
    result = CliRunner().invoke(cli, ["dev", "--help"])
    assert result.exit_code == 0, result.output
    for command in ("up", "down", "status"):
        assert f"  {command} " in result.output


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == ExitCode.USAGE
    assert "No such command 'frobnicate'" in result.output


def test_serve_an_unknown_service_exits_2_naming_the_valid_ones() -> None:
    result = CliRunner().invoke(cli, ["serve", "nope"])
    assert result.exit_code == ExitCode.USAGE
    assert "unknown service 'nope'" in result.output
    assert f"valid services: {', '.join(SERVICES)}" in result.output


def test_serve_without_configuration_exits_2_naming_the_variable(tmp_path: Path) -> None:
    # The installed console script, as the container runs it, with no MTS_* settings at all.
    mts = Path(sys.executable).parent / "mts"
    result = subprocess.run(
        [str(mts), "serve", "halt"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "MTS_DATABASE_URL" in result.stderr
