"""Where a :class:`HaltManager` built without arguments finds Postgres, NATS and the funds registry.

``MTS_DATABASE_URL``, ``MTS_NATS_URL`` and ``MTS_FUNDS_FILE``, read through core.settings, so a
missing or malformed variable is a :class:`~mts1b_operations.core.settings.SettingsError` naming it.
Arguments given to the manager win over the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mts1b_operations.core.funds import FundsRegistry, load_funds
from mts1b_operations.core.settings import SettingsError, load_settings

__all__ = ["HaltConfig", "resolve_config"]


@dataclass(frozen=True, slots=True)
class HaltConfig:
    dsn: str | None
    """None when the caller hands the manager a pool."""
    nats_url: str | None
    """None when the caller hands the manager a bus."""
    funds: FundsRegistry


def _from_env(env: Mapping[str, str], variable: str) -> str:
    settings = load_settings(
        {
            # Only the variable asked for is checked; the other is filled in so load_settings passes.
            "MTS_DATABASE_URL": "postgresql://unused/x",
            "MTS_NATS_URL": "nats://unused:4222",
            variable: env.get(variable, ""),
        },
        service_name="halt",
    )
    return settings.database_url if variable == "MTS_DATABASE_URL" else settings.nats_url


def _funds(env: Mapping[str, str], funds: FundsRegistry | str | os.PathLike[str] | None) -> FundsRegistry:
    if isinstance(funds, FundsRegistry):
        return funds
    if funds is not None:
        return load_funds(funds)
    raw = env.get("MTS_FUNDS_FILE", "").strip()
    if not raw:
        raise SettingsError(
            "MTS_FUNDS_FILE",
            "is required: halts are checked against the funds registry (or pass funds= to HaltManager)",
        )
    if not Path(raw).is_file():
        raise SettingsError("MTS_FUNDS_FILE", f"names a file that does not exist ({raw})")
    return load_funds(raw)


def resolve_config(
    *,
    dsn: str | None,
    nats_url: str | None,
    funds: FundsRegistry | str | os.PathLike[str] | None,
    need_dsn: bool,
    need_nats: bool,
    env: Mapping[str, str] | None = None,
) -> HaltConfig:
    """Fill in from the environment what the caller did not give and still needs."""
    env = os.environ if env is None else env
    if dsn is None and need_dsn:
        dsn = _from_env(env, "MTS_DATABASE_URL")
    if nats_url is None and need_nats:
        nats_url = _from_env(env, "MTS_NATS_URL")
    return HaltConfig(dsn=dsn, nats_url=nats_url, funds=_funds(env, funds))
