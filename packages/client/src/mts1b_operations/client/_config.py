"""Where the services are and who the caller is: :class:`ClientConfig`.

URLs come from MTS_*_URL (defaults match ``mts dev up``). The bearer token comes from
MTS_TOKEN, else from a credentials file: MTS_CREDENTIALS_FILE, else
``$XDG_CONFIG_HOME/mts/credentials`` (``~/.config/mts/credentials``), holding one line
``token = mts_...``. The file must be readable by its owner only (``chmod 600``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args

import msgspec

from mts1b_operations.core.settings import SettingsError, load_client_settings

from ._errors import ConfigurationError

__all__ = [
    "SERVICES",
    "ClientConfig",
    "ServiceName",
    "default_credentials_path",
    "read_credentials",
]

ServiceName = Literal["halt", "audit", "watchdogs", "compliance", "marketdata-api"]
SERVICES: tuple[ServiceName, ...] = get_args(ServiceName)

_URL_FIELD: dict[ServiceName, str] = {
    "halt": "halt_url",
    "audit": "audit_url",
    "watchdogs": "watchdogs_url",
    "compliance": "compliance_url",
    "marketdata-api": "marketdata_url",
}


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Service URLs, the bearer token and the HTTP behaviour of every client built from it."""

    halt_url: str = "http://127.0.0.1:8101"
    audit_url: str = "http://127.0.0.1:8102"
    watchdogs_url: str = "http://127.0.0.1:8103"
    compliance_url: str = "http://127.0.0.1:8104"
    marketdata_url: str = "http://127.0.0.1:8105"
    nats_url: str = "nats://127.0.0.1:14222"
    token: str | None = None
    #: Where the token came from ("MTS_TOKEN" or a file path), for error messages; never the token.
    token_source: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    #: Attempts for an idempotent GET (1 = no retry); other methods are sent once.
    get_attempts: int = 3

    def __repr__(self) -> str:
        token = "None" if self.token is None else "'***'"
        return (
            f"ClientConfig(halt_url={self.halt_url!r}, audit_url={self.audit_url!r}, "
            f"watchdogs_url={self.watchdogs_url!r}, compliance_url={self.compliance_url!r}, "
            f"marketdata_url={self.marketdata_url!r}, nats_url={self.nats_url!r}, token={token}, "
            f"token_source={self.token_source!r})"
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, credentials_file: Path | None = None
    ) -> ClientConfig:
        """Read MTS_*_URL and MTS_TOKEN, falling back to the credentials file for the token.

        ``credentials_file`` overrides MTS_CREDENTIALS_FILE and the default path. Raises
        :class:`ConfigurationError` naming the variable or file at fault.
        """
        env = os.environ if env is None else env
        try:
            settings = load_client_settings(env)
        except SettingsError as exc:
            raise ConfigurationError(exc.variable, exc.problem) from None
        token, source = settings.token, "MTS_TOKEN" if settings.token else None
        if token is None:
            explicit = credentials_file is not None or bool(env.get("MTS_CREDENTIALS_FILE", "").strip())
            path = credentials_file or default_credentials_path(env)
            if explicit or path.exists():
                token, source = read_credentials(path), str(path)
        return cls(
            halt_url=settings.halt_url,
            audit_url=settings.audit_url,
            watchdogs_url=settings.watchdogs_url,
            compliance_url=settings.compliance_url,
            marketdata_url=settings.marketdata_url,
            nats_url=settings.nats_url,
            token=token,
            token_source=source,
        )

    def url_for(self, service: ServiceName) -> str:
        """The base URL of ``service`` (a services/ folder name)."""
        field = _URL_FIELD.get(service)
        if field is None:
            raise ConfigurationError("service", f"must be one of {', '.join(SERVICES)} (got {service!r})")
        return str(getattr(self, field))

    def with_token(self, token: str | None, source: str | None = None) -> ClientConfig:
        return msgspec.structs.replace(self, token=token, token_source=source if token else None)


def default_credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """MTS_CREDENTIALS_FILE, else ``$XDG_CONFIG_HOME/mts/credentials`` (``~/.config/mts/credentials``)."""
    env = os.environ if env is None else env
    explicit = env.get("MTS_CREDENTIALS_FILE", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".config") / "mts" / "credentials"


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            str(path),
            f"is accessible to group or others (mode {mode:04o}); it holds a secret token, "
            f"so restrict it: chmod 600 {path}",
        )


def read_credentials(path: Path) -> str:
    """The token in the credentials file at ``path`` (lines ``token = <token>``; ``#`` comments).

    Raises :class:`ConfigurationError` naming the file when it is missing, readable by group or
    others, or not in that form.
    """
    source = str(path)
    if not path.is_file():
        raise ConfigurationError(source, "credentials file does not exist")
    _check_private(path)
    token: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise ConfigurationError(source, f"line {number}: expected 'token = <token>'")
        if key != "token":
            raise ConfigurationError(source, f"line {number}: unknown key {key!r} (only 'token' is read)")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].strip()
        if not value or any(ch.isspace() for ch in value):
            raise ConfigurationError(source, f"line {number}: the token is empty or contains spaces")
        token = value
    if token is None:
        raise ConfigurationError(source, "has no 'token = <token>' line")
    return token
