"""The halt library's errors: one tree under :class:`HaltError`, each naming what was wrong."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "HaltError",
    "HaltValidationError",
    "NotHaltedError",
    "RefusalCode",
    "ResumeRefusedError",
]

RefusalCode = Literal[
    "cosigner_not_operator",
    "requester_not_operator",
    "second_operator_required",
    "watchdog_alerting",
]


class HaltError(Exception):
    """Base of every error the halt library raises on purpose."""


class HaltValidationError(HaltError, ValueError):
    """A request or resume is malformed or names something the funds registry does not know.

    ``field`` is the argument or request field at fault (``fund_id``, ``mode``, ``cosigned_by``).
    """

    code = "invalid"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ResumeRefusedError(HaltError):
    """A resume broke a rule of the sticky halt (who may cosign, two operators, a firing watchdog).

    ``code`` says which rule, ``reason`` says it in words; ``field`` is the argument to change.
    """

    def __init__(self, code: RefusalCode, reason: str, *, field: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.field = field
        super().__init__(reason)


class NotHaltedError(HaltError, LookupError):
    """A resume named a scope that has no halt of its own in force (there is nothing to resume)."""

    code = "not_halted"

    def __init__(self, scope: str, message: str) -> None:
        self.scope = scope
        self.message = message
        super().__init__(message)
