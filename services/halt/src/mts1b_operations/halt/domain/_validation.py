"""Checks of requests and resume targets against the funds registry; errors name the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, get_args

from mts1b_operations.core import subjects
from mts1b_operations.core.funds import Fund, FundsRegistry, UnknownStrategyError
from mts1b_operations.core.schemas import HaltMode, HaltSeverity

from ._errors import HaltValidationError
from ._model import HaltRequest
from ._scope import FIRM, Scope

__all__ = [
    "MAX_ACTOR_LENGTH",
    "MAX_TEXT_LENGTH",
    "ValidRequest",
    "check_actor",
    "check_text",
    "resolve_scope",
    "validate_request",
]

MAX_TEXT_LENGTH: Final = 8192
MAX_ACTOR_LENGTH: Final = 256
_SEVERITIES: Final = get_args(HaltSeverity)
_MODES: Final = get_args(HaltMode)
_WATCHDOG_PREFIX: Final = "watchdog:"


@dataclass(frozen=True, slots=True)
class ValidRequest:
    """A request that passed every check, with its scope resolved through the registry."""

    scope: Scope
    mode: HaltMode
    reason: str
    requested_by: str
    triggered_by_watchdog: str | None
    watchdog_subject_id: str | None


def check_text(field: str, value: object, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """A required free text (a reason): non-blank, at most ``max_length`` characters; returned stripped."""
    if value is None:
        raise HaltValidationError(field, "is required")
    if not isinstance(value, str):
        raise HaltValidationError(field, f"must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise HaltValidationError(field, "is required and must not be blank")
    if len(text) > max_length:
        raise HaltValidationError(field, f"is {len(text)} characters long; at most {max_length} are allowed")
    if "\x00" in text:
        raise HaltValidationError(field, "must not contain NUL characters")
    return text


def check_actor(field: str, value: object) -> str:
    """Who acts (``operator:<name>``, ``service:<name>``, ``mts1b-riskengine``): one line, no spaces."""
    actor = check_text(field, value, max_length=MAX_ACTOR_LENGTH)
    if any(ch.isspace() for ch in actor):
        raise HaltValidationError(field, f"must not contain whitespace (got {actor!r})")
    return actor


def _id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise HaltValidationError(field, f"must be a non-empty string, got {value!r}")
    return value


def _fund(funds: FundsRegistry, fund_id: object) -> Fund:
    fund_id = _id("fund_id", fund_id)
    if fund_id not in funds:
        known = ", ".join(sorted(f.fund_id for f in funds)) or "none"
        raise HaltValidationError("fund_id", f"unknown fund {fund_id!r} (funds in the registry: {known})")
    return funds.fund(fund_id)


def _strategy_scope(funds: FundsRegistry, strategy_id: object, fund_id: object) -> Scope:
    strategy_id = _id("strategy_id", strategy_id)
    try:
        owner = funds.fund_of_strategy(strategy_id)
    except UnknownStrategyError:
        raise HaltValidationError(
            "strategy_id", f"unknown strategy {strategy_id!r}: no fund in the registry runs it"
        ) from None
    if fund_id is not None and fund_id != owner.fund_id:
        raise HaltValidationError(
            "fund_id", f"strategy {strategy_id!r} belongs to fund {owner.fund_id!r}, not {fund_id!r}"
        )
    return Scope.strategy(strategy_id, owner.fund_id)


def _request_scope(req: HaltRequest, funds: FundsRegistry) -> Scope:
    if req.severity == "FIRM_HALT":
        if req.fund_id is not None:
            raise HaltValidationError("fund_id", "must be null for a FIRM_HALT (it covers every fund)")
        if req.strategy_id is not None:
            raise HaltValidationError(
                "strategy_id", "must be null for a FIRM_HALT (it covers every strategy)"
            )
        return FIRM
    if req.severity == "FUND_HALT":
        if req.fund_id is None:
            raise HaltValidationError("fund_id", "is required for a FUND_HALT")
        if req.strategy_id is not None:
            raise HaltValidationError(
                "strategy_id", "must be null for a FUND_HALT (to halt one strategy, ask for a STRATEGY_HALT)"
            )
        return Scope.fund(_fund(funds, req.fund_id).fund_id)
    if req.strategy_id is None:
        raise HaltValidationError("strategy_id", "is required for a STRATEGY_HALT")
    if req.fund_id is not None:
        _fund(funds, req.fund_id)
    return _strategy_scope(funds, req.strategy_id, req.fund_id)


def _check_flatten(scope: Scope, funds: FundsRegistry) -> None:
    # A firm-wide flatten is accepted: it closes positions of the funds that may be flattened
    # (paper ones, and live ones that allow it) and only blocks and cancels on the others.
    if scope.fund_id is None:
        return
    fund = funds.fund(scope.fund_id)
    if fund.is_live and not fund.allow_live_flatten:
        raise HaltValidationError(
            "mode",
            f"flatten closes positions and is for paper funds only; live fund {fund.fund_id!r} "
            "does not set allow_live_flatten in the funds registry (ask for cancel_open or block_new)",
        )


def _watchdog(req: HaltRequest, scope: Scope) -> tuple[str | None, str | None]:
    if req.triggered_by_watchdog is None:
        if req.watchdog_subject_id is not None:
            raise HaltValidationError("watchdog_subject_id", "is given without triggered_by_watchdog")
        return None, None
    raw = _id("triggered_by_watchdog", req.triggered_by_watchdog)
    kind = raw.removeprefix(_WATCHDOG_PREFIX)
    if kind not in subjects.WATCHDOG_KINDS:
        raise HaltValidationError(
            "triggered_by_watchdog",
            f"{raw!r} is not a watchdog kind ({', '.join(subjects.WATCHDOG_KINDS)})",
        )
    subject = req.watchdog_subject_id
    if subject is None:
        subject = scope.strategy_id or scope.fund_id
        if subject is None:
            raise HaltValidationError(
                "watchdog_subject_id",
                "is required for a FIRM_HALT triggered by a watchdog: name what the watchdog watches",
            )
    return kind, check_actor("watchdog_subject_id", subject)


def validate_request(req: object, funds: FundsRegistry) -> ValidRequest:
    """Check ``req`` completely (fields, registry, mode rules) or raise :class:`HaltValidationError`."""
    if not isinstance(req, HaltRequest):
        raise HaltValidationError("request", f"expected a HaltRequest, got {type(req).__name__}")
    if req.severity not in _SEVERITIES:
        raise HaltValidationError(
            "severity", f"expected one of {', '.join(_SEVERITIES)}, got {req.severity!r}"
        )
    if req.mode not in _MODES:
        raise HaltValidationError("mode", f"expected one of {', '.join(_MODES)}, got {req.mode!r}")
    reason = check_text("reason", req.reason)
    requested_by = check_actor("requested_by", req.requested_by)
    scope = _request_scope(req, funds)
    if req.mode == "flatten":
        _check_flatten(scope, funds)
    watchdog, subject = _watchdog(req, scope)
    return ValidRequest(
        scope=scope,
        mode=req.mode,
        reason=reason,
        requested_by=requested_by,
        triggered_by_watchdog=watchdog,
        watchdog_subject_id=subject,
    )


def resolve_scope(
    funds: FundsRegistry,
    *,
    fund_id: object = None,
    strategy_id: object = None,
    firm: object = False,
    default_firm: bool = False,
) -> Scope:
    """The scope named by a resume, pre-flight or status call.

    Exactly one of ``firm=True``, ``strategy_id`` (optionally with its ``fund_id``) or ``fund_id``.
    With ``default_firm`` naming nothing means the firm (status); otherwise it is an error.
    """
    if not isinstance(firm, bool):
        raise HaltValidationError("firm", f"must be true or false, got {firm!r}")
    if firm:
        if fund_id is not None or strategy_id is not None:
            raise HaltValidationError("firm", "firm=True names no fund_id or strategy_id")
        return FIRM
    if strategy_id is not None:
        if fund_id is not None:
            _fund(funds, fund_id)
        return _strategy_scope(funds, strategy_id, fund_id)
    if fund_id is not None:
        return Scope.fund(_fund(funds, fund_id).fund_id)
    if default_firm:
        return FIRM
    raise HaltValidationError("fund_id", "name a fund_id or a strategy_id, or pass firm=True")
