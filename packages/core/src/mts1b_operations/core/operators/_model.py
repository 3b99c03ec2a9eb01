"""Roles, operator names and the :class:`Operator` record (no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal, TypeGuard, get_args

import msgspec

from ._errors import OperatorValidationError

__all__ = [
    "ACTOR_PREFIX",
    "ROLES",
    "Operator",
    "OperatorStatus",
    "Role",
    "actor_of",
    "check_name",
    "check_role",
    "is_role",
    "name_of_actor",
    "role_at_least",
]

Role = Literal["viewer", "operator", "admin"]
OperatorStatus = Literal["active", "revoked", "expired"]

#: Every role, least to most privileged: a role may do everything the ones before it may.
ROLES: tuple[Role, ...] = get_args(Role)
_RANK = {role: rank for rank, role in enumerate(ROLES)}

ACTOR_PREFIX = "operator:"

# Safe as a NATS subject token, a URL path segment, a log field and a shell word.
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def is_role(value: object) -> TypeGuard[Role]:
    return isinstance(value, str) and value in _RANK


def check_role(value: object, field: str = "role") -> Role:
    """``value`` as a :data:`Role`, else :class:`OperatorValidationError` naming ``field``."""
    if not is_role(value):
        raise OperatorValidationError(field, f"must be one of {', '.join(ROLES)} (got {value!r})")
    return value


def role_at_least(role: Role, minimum: Role) -> bool:
    """Whether ``role`` may do what ``minimum`` may (viewer < operator < admin)."""
    return _RANK[role] >= _RANK[minimum]


def check_name(value: object, field: str = "name") -> str:
    """``value`` as an operator name, else :class:`OperatorValidationError` naming ``field``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise OperatorValidationError(
            field,
            "must be 1 to 64 characters of lowercase letters, digits, '-' or '_', "
            f"starting with a letter (got {value!r})",
        )
    return value


def actor_of(name: str) -> str:
    """The actor string of an operator in audit entries and halts: ``operator:<name>``."""
    return ACTOR_PREFIX + check_name(name)


def name_of_actor(actor: str) -> str | None:
    """The operator name in ``operator:<name>``; ``None`` for any other actor (a service, a watchdog)."""
    if not isinstance(actor, str) or not actor.startswith(ACTOR_PREFIX):
        return None
    name = actor.removeprefix(ACTOR_PREFIX)
    return name if _NAME.fullmatch(name) else None


class Operator(msgspec.Struct, frozen=True, kw_only=True):
    """A registered operator. Carries no token: only its hash is stored, and that stays in Postgres."""

    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: str = ""
    token_prefix: str = ""

    @property
    def actor(self) -> str:
        return ACTOR_PREFIX + self.name

    def status(self, now: datetime | None = None) -> OperatorStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"

    def has_role(self, minimum: Role) -> bool:
        return role_at_least(self.role, minimum)
