"""The errors of operator identities: one tree under :class:`OperatorError`."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "AuthenticationError",
    "AuthenticationFailure",
    "OperatorError",
    "OperatorExistsError",
    "OperatorNotFoundError",
    "OperatorValidationError",
]

AuthenticationFailure = Literal[
    "token_missing", "token_malformed", "token_unknown", "token_revoked", "token_expired"
]


class OperatorError(Exception):
    """Base of every operator-identity error."""


class OperatorValidationError(OperatorError, ValueError):
    """An argument is not acceptable; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class OperatorExistsError(OperatorError):
    """An operator of that name is already registered (names are never reused, even once revoked)."""

    def __init__(self, name: str, *, revoked: bool) -> None:
        self.name = name
        self.revoked = revoked
        state = "a revoked operator" if revoked else "an operator"
        super().__init__(
            f"name: {state} named {name!r} already exists; names are never reused, "
            "so every audit entry names one person"
        )


class OperatorNotFoundError(OperatorError, LookupError):
    """No operator of that name is registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no operator named {name!r}")


class AuthenticationError(OperatorError):
    """A bearer token does not identify an active operator (HTTP 401); ``code`` says why."""

    def __init__(self, code: AuthenticationFailure, message: str) -> None:
        self.code: AuthenticationFailure = code
        self.message = message
        super().__init__(message)
