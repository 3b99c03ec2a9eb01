"""ClientConfig from the environment and the credentials file (real files, real permissions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mts1b_operations.client import (
    ClientConfig,
    ConfigurationError,
    default_credentials_path,
    read_credentials,
)

TOKEN = "mts_" + "k" * 43


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_defaults_match_the_dev_stack(tmp_path: Path) -> None:
    config = ClientConfig.from_env({"XDG_CONFIG_HOME": str(tmp_path)})
    assert config.url_for("halt") == "http://127.0.0.1:8101"
    assert config.url_for("audit") == "http://127.0.0.1:8102"
    assert config.url_for("watchdogs") == "http://127.0.0.1:8103"
    assert config.url_for("compliance") == "http://127.0.0.1:8104"
    assert config.url_for("marketdata-api") == "http://127.0.0.1:8105"
    assert config.token is None
    assert config.token_source is None


def test_urls_and_token_from_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "mts" / "credentials", "token = mts_from_file\n")
    config = ClientConfig.from_env(
        {"MTS_HALT_URL": "https://halt.example:443", "MTS_TOKEN": TOKEN, "XDG_CONFIG_HOME": str(tmp_path)}
    )
    assert config.halt_url == "https://halt.example:443"
    assert config.token == TOKEN, "MTS_TOKEN wins over the credentials file"
    assert config.token_source == "MTS_TOKEN"


def test_a_bad_url_names_the_variable() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^MTS_AUDIT_URL: must be a URL starting with http"
    ) as caught:
        ClientConfig.from_env({"MTS_AUDIT_URL": "ftp://audit"})
    assert caught.value.source == "MTS_AUDIT_URL"


def test_token_from_the_default_credentials_file(tmp_path: Path) -> None:
    path = write(tmp_path / "mts" / "credentials", f"# issued by mts operators add\n\ntoken = {TOKEN}\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert default_credentials_path(env) == path
    config = ClientConfig.from_env(env)
    assert config.token == TOKEN
    assert config.token_source == str(path)


def test_default_path_is_under_the_home_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_credentials_path({}) == tmp_path / ".config" / "mts" / "credentials"


def test_token_from_mts_credentials_file_with_quotes(tmp_path: Path) -> None:
    path = write(tmp_path / "creds", f'token = "{TOKEN}"\n')
    assert ClientConfig.from_env({"MTS_CREDENTIALS_FILE": str(path)}).token == TOKEN
    assert ClientConfig.from_env({}, credentials_file=path).token == TOKEN


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_a_group_or_world_accessible_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path / "creds", f"token = {TOKEN}\n", mode)
    with pytest.raises(
        ConfigurationError, match=rf"accessible to group or others \(mode 0{mode:o}\).*chmod 600"
    ):
        ClientConfig.from_env({"MTS_CREDENTIALS_FILE": str(path)})
    os.chmod(path, 0o600)
    assert read_credentials(path) == TOKEN


def test_a_named_credentials_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigurationError, match="credentials file does not exist") as caught:
        ClientConfig.from_env({"MTS_CREDENTIALS_FILE": str(missing)})
    assert caught.value.source == str(missing)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "has no 'token = <token>' line"),
        ("# only a comment\n", "has no 'token = <token>' line"),
        (f"{TOKEN}\n", r"line 1: expected 'token = <token>'"),
        (f"user = bob\ntoken = {TOKEN}\n", r"line 1: unknown key 'user'"),
        ("token =\n", "line 1: the token is empty"),
        ("token = mts_a b\n", "line 1: the token is empty or contains spaces"),
    ],
)
def test_a_malformed_credentials_file_names_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "creds", text)
    with pytest.raises(ConfigurationError, match=problem) as caught:
        read_credentials(path)
    assert caught.value.source == str(path)


def test_repr_never_shows_the_token() -> None:
    config = ClientConfig(token=TOKEN)
    assert TOKEN not in repr(config)
    assert "'***'" in repr(config)
    assert config.with_token(None).token is None
