"""Every `mts cmd` command documents itself (example, confirmation word, --json), and completes in shells."""

from __future__ import annotations

import os
import subprocess

import pytest
from click.testing import CliRunner

from mts1b_operations.cli.cmd import CONFIRMATION_WORDS
from mts1b_operations.cli.main import cli

from .conftest import MTS


@pytest.mark.parametrize(("command", "word"), sorted(CONFIRMATION_WORDS.items()))
def test_help_names_the_word_the_json_flag_and_an_example(command: str, word: str) -> None:
    result = CliRunner().invoke(cli, ["cmd", command, "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert f"type {word}" in text
    assert "--json" in result.stdout
    assert "--confirm WORD" in result.stdout
    assert f"mts cmd {command} " in result.stdout  # the example
    assert "Exits 0" in result.stdout


def test_the_group_lists_exactly_the_five_commands() -> None:
    result = CliRunner().invoke(cli, ["cmd", "--help"])
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:")[1].split()
    assert [name for name in listed if name in CONFIRMATION_WORDS] == sorted(CONFIRMATION_WORDS)
    assert "cmd" in CliRunner().invoke(cli, ["--help"]).stdout


def _complete(shell: str, words: str, cword: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "_MTS_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return subprocess.run([MTS], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_bash_completion_offers_the_commands_and_their_options() -> None:
    commands = _complete("bash", "mts cmd ", 2)
    assert commands.returncode == 0, commands.stderr
    assert set(commands.stdout.split()) >= {f"plain,{name}" for name in CONFIRMATION_WORDS}
    options = _complete("bash", "mts cmd halt --", 3)
    assert {"plain,--confirm", "plain,--reason", "plain,--mode", "plain,--json"} <= set(
        options.stdout.split()
    )
    modes = _complete("bash", "mts cmd halt --mode ", 4)
    assert set(modes.stdout.split()) == {"plain,block_new", "plain,cancel_open", "plain,flatten"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_documented_source_scripts_are_generated(shell: str) -> None:
    env = {**os.environ, "_MTS_COMPLETE": f"{shell}_source"}
    script = subprocess.run([MTS], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert script.returncode == 0, script.stderr
    assert "_MTS_COMPLETE" in script.stdout
