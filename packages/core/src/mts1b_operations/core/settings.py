"""Process settings, read once from the environment into one msgspec Struct.

A missing or malformed variable raises :class:`SettingsError`, whose message is one line
naming the variable; :func:`load_settings_or_exit` turns that into a clean exit for
service start-up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import msgspec

from mts1b_operations.core.subjects import InvalidSubjectTokenError, token_of

__all__ = [
    "ClientSettings",
    "Settings",
    "SettingsError",
    "load_client_settings",
    "load_settings",
    "load_settings_or_exit",
]


class SettingsError(ValueError):
    """A setting is missing or malformed; ``variable`` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service process needs, named as in the architecture contract."""

    database_url: str
    nats_url: str
    service_name: str
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    funds_file: Path | None = None
    audit_signing_key: Path | None = None
    # Copies of every JetStream stream and KV bucket the service creates: 1 on one server, 3 on a
    # 3-node cluster (a stream survives losing a node only with R3).
    nats_stream_replicas: int = 1


class ClientSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the SDK and CLI find each service, and who they are."""

    halt_url: str = "http://127.0.0.1:8101"
    audit_url: str = "http://127.0.0.1:8102"
    watchdogs_url: str = "http://127.0.0.1:8103"
    compliance_url: str = "http://127.0.0.1:8104"
    marketdata_url: str = "http://127.0.0.1:8105"
    nats_url: str = "nats://127.0.0.1:14222"
    token: str | None = None


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(name, "is required but not set")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...], default: str | None = None) -> str:
    value = env.get(name, "").strip() or default
    if value is None:
        raise SettingsError(name, "is required but not set")
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise SettingsError(name, f"must be a URL starting with {allowed} (got {value!r})")
    if not parts.hostname:
        raise SettingsError(name, f"has no host (got {value!r})")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise SettingsError(name, f"has a malformed port (got {value!r})") from None
    return value


def _nats_urls(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, "").strip() or default
    if value is None:
        raise SettingsError(name, "is required but not set")
    for server in value.split(","):
        if not server.strip():
            raise SettingsError(name, f"has an empty server in its comma-separated list (got {value!r})")
        _url({name: server.strip()}, name, ("nats", "tls", "ws", "wss"))
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be an integer port (got {raw!r})") from None
    if not 0 <= port <= 65535:
        raise SettingsError(name, f"must be between 0 and 65535 (got {port})")
    return port


def _int_between(env: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be an integer from {low} to {high} (got {raw!r})") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be an integer from {low} to {high} (got {value})")
    return value


def _existing_file(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(name, f"names a file that does not exist ({raw})")
    return path


def load_settings(env: Mapping[str, str] | None = None, *, service_name: str | None = None) -> Settings:
    """Read the service settings; ``service_name`` is the default for MTS_SERVICE_NAME."""
    env = os.environ if env is None else env
    name = env.get("MTS_SERVICE_NAME", "").strip() or service_name
    if not name:
        raise SettingsError("MTS_SERVICE_NAME", "is required but not set")
    try:
        token_of("MTS_SERVICE_NAME", name)  # it is a token of the heartbeat subject
    except InvalidSubjectTokenError as exc:
        raise SettingsError("MTS_SERVICE_NAME", str(exc).removeprefix("MTS_SERVICE_NAME: ")) from None
    return Settings(
        database_url=_url(env, "MTS_DATABASE_URL", ("postgresql", "postgres")),
        nats_url=_nats_urls(env, "MTS_NATS_URL"),
        service_name=name,
        http_host=env.get("MTS_HTTP_HOST", "").strip() or "127.0.0.1",
        http_port=_port(env, "MTS_HTTP_PORT", 8000),
        funds_file=_existing_file(env, "MTS_FUNDS_FILE"),
        audit_signing_key=_existing_file(env, "MTS_AUDIT_SIGNING_KEY"),
        nats_stream_replicas=_int_between(env, "MTS_NATS_STREAM_REPLICAS", 1, 5, 1),
    )


def load_client_settings(env: Mapping[str, str] | None = None) -> ClientSettings:
    """Read the SDK/CLI settings; every URL has a local default matching `mts dev up`."""
    env = os.environ if env is None else env
    defaults = ClientSettings()
    http = ("http", "https")
    return ClientSettings(
        halt_url=_url(env, "MTS_HALT_URL", http, defaults.halt_url),
        audit_url=_url(env, "MTS_AUDIT_URL", http, defaults.audit_url),
        watchdogs_url=_url(env, "MTS_WATCHDOGS_URL", http, defaults.watchdogs_url),
        compliance_url=_url(env, "MTS_COMPLIANCE_URL", http, defaults.compliance_url),
        marketdata_url=_url(env, "MTS_MARKETDATA_URL", http, defaults.marketdata_url),
        nats_url=_nats_urls(env, "MTS_NATS_URL", defaults.nats_url),
        token=env.get("MTS_TOKEN", "").strip() or None,
    )


def load_settings_or_exit(service_name: str) -> Settings:
    """Start-up helper: on a bad setting print one line naming it and exit with status 2."""
    try:
        return load_settings(service_name=service_name)
    except SettingsError as exc:
        _exit(f"mts1b-{service_name}: configuration error: {exc}")


def _exit(line: str) -> NoReturn:
    print(line, file=sys.stderr)
    raise SystemExit(2)
