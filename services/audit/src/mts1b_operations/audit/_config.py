"""What an :class:`~mts1b_operations.audit.AuditChain` reads from the environment, on first use.

MTS_DATABASE_URL (required when no dsn or pool is given), MTS_NATS_URL (optional: the
module-level ``audit_chain`` then also relays its outbox to NATS) and MTS_AUDIT_SIGNING_KEY
(optional: the Ed25519 seed file that signs checkpoints). A bad value raises
:class:`~mts1b_operations.core.settings.SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mts1b_operations.core.bus import split_servers
from mts1b_operations.core.settings import SettingsError

from .domain import SigningKeyError, load_signing_key

__all__ = [
    "DATABASE_URL_VARIABLE",
    "NATS_URL_VARIABLE",
    "SIGNING_KEY_VARIABLE",
    "check_dsn",
    "database_url_from_env",
    "nats_url_from_env",
    "signing_key_from_env",
]

DATABASE_URL_VARIABLE = "MTS_DATABASE_URL"
NATS_URL_VARIABLE = "MTS_NATS_URL"
SIGNING_KEY_VARIABLE = "MTS_AUDIT_SIGNING_KEY"


def check_dsn(dsn: object, *, name: str = "dsn") -> str:
    """``dsn`` if it is a postgresql:// URL with a host, else ValueError naming ``name``."""
    if not isinstance(dsn, str) or urlsplit(dsn).scheme not in ("postgresql", "postgres"):
        raise ValueError(f"{name}: must be a postgresql:// URL")
    if not urlsplit(dsn).hostname:
        raise ValueError(f"{name}: the URL has no host")
    return dsn


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = env.get(DATABASE_URL_VARIABLE, "").strip()
    if not value:
        raise SettingsError(DATABASE_URL_VARIABLE, "is required but not set (or pass dsn= to AuditChain)")
    try:
        return check_dsn(value, name=DATABASE_URL_VARIABLE)
    except ValueError as exc:
        raise SettingsError(DATABASE_URL_VARIABLE, str(exc).partition(": ")[2]) from None


def nats_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    value = env.get(NATS_URL_VARIABLE, "").strip()
    if not value:
        return None
    try:
        split_servers(value)
    except ValueError as exc:
        raise SettingsError(NATS_URL_VARIABLE, str(exc).removeprefix("url: ")) from None
    return value


def signing_key_from_env(env: Mapping[str, str] | None = None) -> Ed25519PrivateKey | None:
    env = os.environ if env is None else env
    value = env.get(SIGNING_KEY_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return load_signing_key(Path(value))
    except SigningKeyError as exc:
        raise SettingsError(SIGNING_KEY_VARIABLE, str(exc)) from None
