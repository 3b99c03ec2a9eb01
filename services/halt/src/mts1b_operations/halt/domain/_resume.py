"""The rules of a sticky halt: who may cosign a resume, the firm's four eyes, the pre-flight check."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mts1b_operations.core.operators import Operator

from ._errors import HaltValidationError, ResumeRefusedError
from ._model import Halt, Preflight
from ._scope import Scope
from ._validation import check_text

__all__ = [
    "ActorCheck",
    "AlertView",
    "NoAlerts",
    "check_actor_is_operator",
    "check_cosigners",
    "check_force",
    "describe_halts",
    "preflight_report",
]

_COSIGN_RULE = "only a registered operator (operator:<name>, role operator or admin) can cosign a resume"


class AlertView(Protocol):
    """Which watchdogs are alerting now; the halt service feeds one from the watchdog alerts it consumes.

    ``is_firing`` may return a bool or an awaitable of one.
    """

    def is_firing(self, watchdog: str, subject_id: str) -> bool | Awaitable[bool]: ...


class NoAlerts:
    """The default view: no watchdog is alerting."""

    def is_firing(self, watchdog: str, subject_id: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ActorCheck:
    """Whether ``actor`` is an active registered operator with role operator or admin, and if not, why."""

    actor: str
    is_operator: bool
    problem: str | None = None


def check_actor_is_operator(
    actor: str,
    *,
    registered: Operator | None,
    found: Operator | None,
    is_operator_form: bool,
    now: datetime,
) -> ActorCheck:
    """Turn the lookups of ``actor`` into a verdict with a message a person can act on.

    ``registered`` is the active operator with a sufficient role (None if not), ``found`` the
    operator of that name whatever their state, ``is_operator_form`` whether ``actor`` reads
    ``operator:<valid name>``.
    """
    if registered is not None:
        return ActorCheck(actor, True)
    if not is_operator_form:
        if actor.startswith("operator:"):
            problem = f"{actor!r} is not a valid operator name"
        else:
            problem = f"{actor!r} is not an operator (services, watchdogs and other systems never are)"
    elif found is None:
        problem = f"{actor!r} is not a registered operator"
    elif found.status(now) != "active":
        problem = f"{actor!r} is {found.status(now)}"
    else:
        problem = f"{actor!r} has role {found.role!r}, below operator"
    return ActorCheck(actor, False, problem)


def check_cosigners(scope: Scope, *, cosigner: ActorCheck, requester: ActorCheck | None) -> None:
    """Raise :class:`ResumeRefusedError` unless the signatures suffice for resuming ``scope``.

    Any resume needs a cosign by a registered operator. A firm-wide resume needs two distinct
    registered operators: the caller (``requester``) and the cosigner.
    """
    if not cosigner.is_operator:
        raise ResumeRefusedError(
            "cosigner_not_operator", f"cosigned_by: {cosigner.problem}; {_COSIGN_RULE}", field="cosigned_by"
        )
    if scope.kind != "firm":
        return
    if requester is None:
        raise ResumeRefusedError(
            "second_operator_required",
            "requested_by: a firm-wide resume needs two distinct registered operators, "
            "the caller (requested_by) and the cosigner (cosigned_by); requested_by is missing",
            field="requested_by",
        )
    if not requester.is_operator:
        raise ResumeRefusedError(
            "requester_not_operator",
            f"requested_by: {requester.problem}; a firm-wide resume needs two distinct registered operators",
            field="requested_by",
        )
    if requester.actor == cosigner.actor:
        raise ResumeRefusedError(
            "second_operator_required",
            f"cosigned_by: a firm-wide resume needs two distinct operators; {cosigner.actor!r} "
            "cannot cosign their own resume",
            field="cosigned_by",
        )


def describe_halts(halts: Sequence[Halt]) -> str:
    return "; ".join(f"{h.severity} {h.halt_id} ({h.reason})" for h in halts)


def preflight_report(scope: Scope, own: Halt | None, inherited: Sequence[Halt], *, firing: bool) -> Preflight:
    """The pre-flight verdict for resuming ``scope``: what would be lifted and what it needs."""
    watchdog = own.triggered_by_watchdog if own is not None else None
    subject = own.watchdog_subject_id if own is not None else None
    firing = firing and watchdog is not None
    parts: list[str] = []
    if own is None:
        parts.append(f"{scope.label} has no halt of its own in force; there is nothing to resume")
    elif firing:
        parts.append(
            f"watchdog {watchdog} is still alerting on {subject!r}: resuming needs force=True and a reason"
        )
    else:
        parts.append(
            f"{own.severity} {own.halt_id} on {scope.label} can be resumed with an operator's cosign"
        )
    if own is not None and scope.kind == "firm":
        parts.append("a firm-wide resume needs two distinct registered operators")
    if inherited:
        parts.append(f"{scope.label} stays halted by {describe_halts(inherited)}")
    return Preflight(
        scope=scope.key,
        halt=own,
        inherited=list(inherited),
        watchdog=watchdog,
        watchdog_subject_id=subject,
        watchdog_firing=firing,
        needs_force=firing,
        needs_two_operators=scope.kind == "firm",
        message="; ".join(parts),
    )


def check_force(preflight: Preflight, *, force: object, reason: object) -> str | None:
    """The resume reason (stripped) if the pre-flight check lets the resume through; else refuse.

    While the triggering watchdog is alerting, ``force=True`` and a reason are required.
    """
    if not isinstance(force, bool):
        raise HaltValidationError("force", f"must be true or false, got {force!r}")
    text = None if reason is None else check_text("reason", reason)
    if not preflight.needs_force:
        return text
    if not force:
        raise ResumeRefusedError(
            "watchdog_alerting",
            f"force: watchdog {preflight.watchdog} is still alerting on {preflight.watchdog_subject_id!r}, "
            "so the cause of the halt persists; resume with force=True and a reason to override",
            field="force",
        )
    if text is None:
        raise ResumeRefusedError(
            "watchdog_alerting",
            f"reason: resuming while watchdog {preflight.watchdog} is still alerting needs a reason",
            field="reason",
        )
    return text
