"""Operator identities: the people allowed to act on the operations plane.

An operator has a token-safe ``name`` (``operator:<name>`` as an actor in audit entries and
halts), a :data:`Role` (viewer < operator < admin) and one bearer token, shown once at
registration; only its SHA-256 is stored. :func:`authenticate` turns a bearer token into the
active :class:`Operator` or raises :class:`AuthenticationError`; services guard their routes with
``mts1b_operations.core.runtime.requires_role``. ``mts operators add|list|revoke`` manages them.
"""

from ._errors import (
    AuthenticationError,
    AuthenticationFailure,
    OperatorError,
    OperatorExistsError,
    OperatorNotFoundError,
    OperatorValidationError,
)
from ._model import (
    ACTOR_PREFIX,
    ROLES,
    Operator,
    OperatorStatus,
    Role,
    actor_of,
    check_name,
    check_role,
    is_role,
    name_of_actor,
    role_at_least,
)
from ._store import (
    Database,
    add_operator,
    authenticate,
    get_operator,
    is_registered_operator,
    list_operators,
    revoke_operator,
)
from ._tokens import TOKEN_PREFIX, hash_token

__all__ = [
    "ACTOR_PREFIX",
    "ROLES",
    "TOKEN_PREFIX",
    "AuthenticationError",
    "AuthenticationFailure",
    "Database",
    "Operator",
    "OperatorError",
    "OperatorExistsError",
    "OperatorNotFoundError",
    "OperatorStatus",
    "OperatorValidationError",
    "Role",
    "actor_of",
    "add_operator",
    "authenticate",
    "check_name",
    "check_role",
    "get_operator",
    "hash_token",
    "is_registered_operator",
    "is_role",
    "list_operators",
    "name_of_actor",
    "revoke_operator",
    "role_at_least",
]
