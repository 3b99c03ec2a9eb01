"""Settings from the environment: every variable missing or malformed is named in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mts1b_operations.core.settings import (
    ClientSettings,
    Settings,
    SettingsError,
    load_client_settings,
    load_settings,
    load_settings_or_exit,
)

GOOD = {
    "MTS_DATABASE_URL": "postgresql://mts:secret@db.internal:5432/mts",
    "MTS_NATS_URL": "nats://nats.internal:4222",
    "MTS_SERVICE_NAME": "halt",
}


@pytest.fixture
def process_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment holding exactly GOOD among the MTS_ variables."""
    for name in [n for n in os.environ if n.startswith("MTS_")]:
        monkeypatch.delenv(name)
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(GOOD)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_minimal_environment_gives_defaults() -> None:
    settings = load_settings(GOOD)
    assert settings == Settings(
        database_url=GOOD["MTS_DATABASE_URL"],
        nats_url=GOOD["MTS_NATS_URL"],
        service_name="halt",
        http_host="127.0.0.1",
        http_port=8000,
        funds_file=None,
        audit_signing_key=None,
    )


def test_every_variable_is_read(tmp_path: Path) -> None:
    funds = tmp_path / "funds.yaml"
    funds.write_text("funds: []\n")
    key = tmp_path / "audit.key"
    key.write_bytes(b"\x01" * 32)
    settings = load_settings(
        _env(
            MTS_DATABASE_URL="  postgres://u@localhost/db  ",
            MTS_NATS_URL="nats://a:4222, tls://b:4222",
            MTS_SERVICE_NAME="audit",
            MTS_HTTP_HOST="0.0.0.0",
            MTS_HTTP_PORT="8102",
            MTS_FUNDS_FILE=str(funds),
            MTS_AUDIT_SIGNING_KEY=str(key),
        )
    )
    assert settings.database_url == "postgres://u@localhost/db"
    assert settings.nats_url == "nats://a:4222, tls://b:4222"
    assert settings.service_name == "audit"
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8102)
    assert settings.funds_file == funds
    assert settings.audit_signing_key == key


def test_service_name_argument_is_the_default_and_the_variable_wins() -> None:
    assert load_settings(_env(MTS_SERVICE_NAME=None), service_name="watchdogs").service_name == "watchdogs"
    assert load_settings(GOOD, service_name="watchdogs").service_name == "halt"


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("MTS_DATABASE_URL", None, "is required but not set"),
        ("MTS_DATABASE_URL", "   ", "is required but not set"),
        ("MTS_DATABASE_URL", "mysql://u@h/db", "must be a URL starting with postgresql://, postgres://"),
        ("MTS_DATABASE_URL", "db.internal:5432", "must be a URL starting with"),
        ("MTS_DATABASE_URL", "postgresql:///mts", "has no host"),
        ("MTS_DATABASE_URL", "postgresql://h:99999/db", "has a malformed port"),
        ("MTS_DATABASE_URL", "postgresql://h:abc/db", "has a malformed port"),
        ("MTS_NATS_URL", None, "is required but not set"),
        ("MTS_NATS_URL", "http://nats:4222", "must be a URL starting with nats://"),
        ("MTS_NATS_URL", "nats://a:4222,redis://b:6379", "must be a URL starting with nats://"),
        ("MTS_NATS_URL", "nats://a:4222,", "has an empty server"),
        ("MTS_NATS_URL", "nats://:4222", "has no host"),
        ("MTS_NATS_URL", "nats://a:42x2", "has a malformed port"),
        ("MTS_SERVICE_NAME", None, "is required but not set"),
        ("MTS_SERVICE_NAME", "halt.v2", "is not a valid subject token"),
        ("MTS_SERVICE_NAME", "my service", "is not a valid subject token"),
        ("MTS_HTTP_PORT", "http", "must be an integer port (got 'http')"),
        ("MTS_HTTP_PORT", "8080.5", "must be an integer port"),
        ("MTS_HTTP_PORT", "65536", "must be between 0 and 65535 (got 65536)"),
        ("MTS_HTTP_PORT", "-1", "must be between 0 and 65535"),
        ("MTS_FUNDS_FILE", "/nonexistent/funds.yaml", "names a file that does not exist"),
        ("MTS_AUDIT_SIGNING_KEY", "/nonexistent/audit.key", "names a file that does not exist"),
    ],
)
def test_bad_setting_is_named(variable: str, value: str | None, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env(**{variable: value}))
    assert caught.value.variable == variable
    assert problem in caught.value.problem
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_a_directory_is_not_a_funds_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^MTS_FUNDS_FILE: names a file that does not exist"):
        load_settings(_env(MTS_FUNDS_FILE=str(tmp_path)))


def test_client_defaults_match_the_dev_stack() -> None:
    settings = load_client_settings({})
    assert settings == ClientSettings()
    assert [
        settings.halt_url,
        settings.audit_url,
        settings.watchdogs_url,
        settings.compliance_url,
        settings.marketdata_url,
    ] == [f"http://127.0.0.1:{port}" for port in (8101, 8102, 8103, 8104, 8105)]
    assert settings.nats_url == "nats://127.0.0.1:14222"
    assert settings.token is None


def test_client_variables_are_read() -> None:
    settings = load_client_settings(
        {
            "MTS_HALT_URL": "https://halt.mts.example",
            "MTS_AUDIT_URL": "http://audit:8102",
            "MTS_WATCHDOGS_URL": "http://watchdogs:8103",
            "MTS_COMPLIANCE_URL": "http://compliance:8104",
            "MTS_MARKETDATA_URL": "http://marketdata:8105",
            "MTS_NATS_URL": "nats://nats:4222",
            "MTS_TOKEN": " s3cret ",
        }
    )
    assert settings.halt_url == "https://halt.mts.example"
    assert settings.audit_url == "http://audit:8102"
    assert settings.watchdogs_url == "http://watchdogs:8103"
    assert settings.compliance_url == "http://compliance:8104"
    assert settings.marketdata_url == "http://marketdata:8105"
    assert settings.nats_url == "nats://nats:4222"
    assert settings.token == "s3cret"


@pytest.mark.parametrize(
    "variable",
    ["MTS_HALT_URL", "MTS_AUDIT_URL", "MTS_WATCHDOGS_URL", "MTS_COMPLIANCE_URL", "MTS_MARKETDATA_URL"],
)
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("halt:8101", "must be a URL starting with http://, https://"),
        ("ftp://h/x", "must be a URL starting with"),
        ("http://", "has no host"),
        ("http://h:port", "has a malformed port"),
    ],
)
def test_bad_client_url_is_named(variable: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_client_settings({variable: value})
    assert caught.value.variable == variable
    assert problem in str(caught.value)


def test_bad_client_nats_url_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^MTS_NATS_URL: must be a URL starting with nats://"):
        load_client_settings({"MTS_NATS_URL": "localhost:4222"})


def test_load_settings_reads_the_process_environment(process_env: pytest.MonkeyPatch) -> None:
    process_env.setenv("MTS_HTTP_PORT", "8105")
    assert load_settings().http_port == 8105


def test_load_settings_or_exit_returns_settings(process_env: pytest.MonkeyPatch) -> None:
    assert load_settings_or_exit("halt").service_name == "halt"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MTS_DATABASE_URL", None), ("MTS_NATS_URL", "redis://x"), ("MTS_HTTP_PORT", "eighty")],
)
def test_load_settings_or_exit_prints_one_line_and_exits_2(
    process_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str | None
) -> None:
    if value is None:
        process_env.delenv(variable)
    else:
        process_env.setenv(variable, value)
    with pytest.raises(SystemExit) as caught:
        load_settings_or_exit("halt")
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"mts1b-halt: configuration error: {variable}: ")
