"""What an :class:`~mts1b_operations.audit.AuditChain` reads from the environment, on first use.

MTS_DATABASE_URL (required when no dsn or pool is given), MTS_NATS_URL (optional: the
module-level ``audit_chain`` then also relays its outbox to NATS), MTS_AUDIT_SIGNING_KEY
(optional: the Ed25519 seed file that signs checkpoints) and MTS_AUDIT_RETIRED_PUBLIC_KEYS
(optional: comma-separated files of the verifier keys that signed checkpoints before a
rotation; see docs/decisions/0006-audit-retired-keys.md). A bad value raises
:class:`~mts1b_operations.core.settings.SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mts1b_operations.core.bus import split_servers
from mts1b_operations.core.settings import SettingsError

from .domain import NoteError, SigningKeyError, key_id, load_signing_key, parse_verifier_key

__all__ = [
    "DATABASE_URL_VARIABLE",
    "NATS_URL_VARIABLE",
    "RETIRED_KEYS_VARIABLE",
    "SIGNING_KEY_VARIABLE",
    "check_dsn",
    "database_url_from_env",
    "nats_url_from_env",
    "retired_keys_from_env",
    "signing_key_from_env",
]

DATABASE_URL_VARIABLE = "MTS_DATABASE_URL"
NATS_URL_VARIABLE = "MTS_NATS_URL"
SIGNING_KEY_VARIABLE = "MTS_AUDIT_SIGNING_KEY"
RETIRED_KEYS_VARIABLE = "MTS_AUDIT_RETIRED_PUBLIC_KEYS"
_MAX_KEY_FILE_BYTES = 64 * 1024


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


def retired_keys_from_env(
    env: Mapping[str, str] | None = None, *, key_name: str
) -> tuple[Ed25519PublicKey, ...]:
    """The retired public keys of MTS_AUDIT_RETIRED_PUBLIC_KEYS (unset or blank: none).

    The value is a comma-separated list of files; each holds one or more verifier key strings
    (``<key_name>+<hex key ID>+<base64 key>``, as ``GET /v1/audit/checkpoints/latest`` serves
    them), one a line, blank lines ignored. Every key must be a key of ``key_name``.
    """
    env = os.environ if env is None else env
    raw = env.get(RETIRED_KEYS_VARIABLE, "")
    if not raw.strip():
        return ()
    names = [part.strip() for part in raw.split(",")]
    if not all(names):
        raise SettingsError(
            RETIRED_KEYS_VARIABLE, f"has an empty file name in its comma-separated list (got {raw!r})"
        )
    keys: dict[bytes, Ed25519PublicKey] = {}
    for name in names:
        for key in _verifier_keys_in(Path(name), key_name):
            keys.setdefault(key_id(key_name, key), key)
    return tuple(keys.values())


def _verifier_keys_in(path: Path, key_name: str) -> list[Ed25519PublicKey]:
    # The file's content is never echoed: pointed at a private seed by mistake, it must not reach a log.
    expected = "expected verifier keys <name>+<key id>+<base64 key>, one a line"
    try:
        content = path.read_bytes()[: _MAX_KEY_FILE_BYTES + 1]
    except OSError as exc:
        raise SettingsError(
            RETIRED_KEYS_VARIABLE, f"{path}: cannot read the retired public keys ({exc.strerror or exc})"
        ) from None
    if len(content) > _MAX_KEY_FILE_BYTES:
        raise SettingsError(RETIRED_KEYS_VARIABLE, f"{path}: over {_MAX_KEY_FILE_BYTES} bytes; {expected}")
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise SettingsError(
            RETIRED_KEYS_VARIABLE, f"{path}: not text ({expected}; a private seed file is not one)"
        ) from None
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        vkey = line.strip()
        if not vkey:
            continue
        try:
            name, public = parse_verifier_key(vkey)
        except NoteError as exc:
            problem = str(exc).removeprefix(f"verifier key {vkey!r}: ")
            raise SettingsError(RETIRED_KEYS_VARIABLE, f"{path} line {number}: {problem}") from None
        if name != key_name:
            raise SettingsError(
                RETIRED_KEYS_VARIABLE,
                f"{path} line {number}: a key of {name!r}, not of {key_name!r} (the checkpoints' key name)",
            )
        keys.append(public)
    if not keys:
        raise SettingsError(RETIRED_KEYS_VARIABLE, f"{path}: holds no key; {expected}")
    return keys
