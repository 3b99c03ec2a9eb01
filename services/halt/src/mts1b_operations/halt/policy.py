"""The auto-halt policy: which watchdog alerts halt which scope, in which mode, after how many in a row.

Pure: no I/O. :func:`track` folds one alert into the state of its (watchdog, subject) pair and
:func:`decide` turns that state into the halts to request. The service's alert consumer stores
the state (so a restart keeps the counts) and requests the halts.

Defaults (:data:`DEFAULT_RULES`), replaced as a whole by the ``rules:`` list of the YAML file
named by ``MTS_HALT_POLICY_FILE`` (see docs/operations/halt-policy.md):

- ``portfolio_vol_dd``: ``vol_dd`` alerts -> FUND_HALT of the alert's fund, block_new, at the
  first firing alert;
- ``strategy_watchdog``: ``strategy`` alerts -> STRATEGY_HALT of the alert's strategy,
  cancel_open, at the third firing alert in a row;
- ``dependency_oms``: ``dependency`` alerts whose subject is the OMS (``oms``, ``*-oms``,
  ``oms-*``) -> FIRM_HALT, block_new, at the first firing alert.

Semantics:

- An alert's ``subject_id`` is the scope: the fund of a FUND_HALT, the strategy of a
  STRATEGY_HALT; a FIRM_HALT ignores it (``subject_ids`` patterns, matched with ``fnmatch``,
  narrow which subjects a rule reacts to).
- ``consecutive``: the rule acts once the (watchdog, subject) pair has fired that many alerts in
  a row; a ``resolved`` alert resets the count.
- A rule acts once per firing episode: further firing alerts of the same episode do not
  request again, so an operator's forced resume stands until the alert resolves and fires anew.
- The halt is requested by ``watchdog:<rule name>`` with ``triggered_by_watchdog`` set, so the
  resume pre-flight check can say whether the alert still fires.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final

import msgspec
import yaml

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.schemas import HaltMode, HaltSeverity, WatchdogAlert

from .oms_commands import DEFAULT_ACK_TIMEOUT, MAX_ACK_TIMEOUT

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_RULES",
    "POLICY_FILE_VARIABLE",
    "AlertTrack",
    "HaltAction",
    "HaltPolicy",
    "OmsPolicy",
    "PolicyError",
    "PolicyRule",
    "decide",
    "load_policy",
    "load_policy_from_env",
    "parse_policy",
    "track",
]

POLICY_FILE_VARIABLE: Final = "MTS_HALT_POLICY_FILE"
_MAX_REASON: Final = 8192

_RuleName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_\-]{0,63}\Z")]
_Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Consecutive = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
_AckTimeout = Annotated[float, msgspec.Meta(gt=0, le=MAX_ACK_TIMEOUT)]
_Responder = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class PolicyError(ValueError):
    """The policy is invalid; ``field`` is the path of the offending field (``rules[1].mode``)."""

    def __init__(self, field: str, problem: str, *, file: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.file = file
        super().__init__(": ".join(part for part in (file, field, problem) if part))


class PolicyRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rule: alerts of ``watchdog`` (on subjects matching ``subject_ids``) halt ``severity``."""

    name: _RuleName
    """The watchdog's name as recorded: the halt's ``requested_by`` is ``watchdog:<name>``."""
    watchdog: subjects.WatchdogKind
    """The alert kind (the last token of mts.v1.operations.watchdog.<kind>)."""
    severity: HaltSeverity
    mode: HaltMode = "block_new"
    consecutive: _Consecutive = 1
    subject_ids: list[_Pattern] = []
    """``fnmatch`` patterns of the alert's subject_id; empty matches every subject."""
    enabled: bool = True

    def matches(self, alert: WatchdogAlert) -> bool:
        if not self.enabled or alert.watchdog != self.watchdog:
            return False
        return not self.subject_ids or any(
            fnmatch.fnmatchcase(alert.subject_id, pattern) for pattern in self.subject_ids
        )


class OmsPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who must ack a cancel_all / flatten command, and how long to wait for them."""

    expected_responders: list[_Responder] = []
    ack_timeout: _AckTimeout = DEFAULT_ACK_TIMEOUT


DEFAULT_RULES: Final[tuple[PolicyRule, ...]] = (
    PolicyRule(name="portfolio_vol_dd", watchdog="vol_dd", severity="FUND_HALT", mode="block_new"),
    PolicyRule(
        name="strategy_watchdog",
        watchdog="strategy",
        severity="STRATEGY_HALT",
        mode="cancel_open",
        # The watchdog already debounces with its own `for` and sends one alert per episode
        # (repeats only with its repeat_interval), so one firing alert is the persistent breach.
        consecutive=1,
    ),
    PolicyRule(
        name="dependency_oms",
        watchdog="dependency",
        severity="FIRM_HALT",
        mode="block_new",
        subject_ids=["oms", "*-oms", "oms-*"],
    ),
)


class HaltPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole policy file: the rules (defaults when absent) and the OMS command settings."""

    rules: list[PolicyRule] = msgspec.field(default_factory=lambda: list(DEFAULT_RULES))
    oms: OmsPolicy = msgspec.field(default_factory=OmsPolicy)

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            first = seen.setdefault(rule.name, i)
            if first != i:
                raise schemas.FieldValueError(
                    f"rules[{i}].name", f"{rule.name!r} is used twice (also rules[{first}])"
                )


DEFAULT_POLICY: Final = HaltPolicy()


def parse_policy(raw: object, *, file: str | None = None) -> HaltPolicy:
    """Validate already-parsed YAML/JSON into a :class:`HaltPolicy`; errors name the field."""
    if raw is None:
        return HaltPolicy()
    try:
        return schemas.convert(raw, HaltPolicy)
    except schemas.SchemaError as exc:
        raise PolicyError(exc.path.removeprefix("$").removeprefix("."), exc.problem, file=file) from None
    except schemas.FieldValueError as exc:
        raise PolicyError(exc.field, exc.problem, file=file) from None


def load_policy(path: str | os.PathLike[str]) -> HaltPolicy:
    """Read and validate a policy YAML file; any problem raises :class:`PolicyError` naming it."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError("", f"cannot read the policy file: {problem}", file=name) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError("", f"not valid YAML: {exc}", file=name) from None
    return parse_policy(raw, file=name)


def load_policy_from_env(env: dict[str, str] | None = None) -> HaltPolicy:
    """The policy of ``MTS_HALT_POLICY_FILE``, or the defaults when it is unset.

    Errors start with the variable's name, so start-up fails with one line naming it.
    """
    env = dict(os.environ) if env is None else env
    path = env.get(POLICY_FILE_VARIABLE, "").strip()
    if not path:
        return HaltPolicy()
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise PolicyError(exc.field, exc.problem, file=f"{POLICY_FILE_VARIABLE}={exc.file}") from None


# ---------------------------------------------------------------- alert tracking


class AlertTrack(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of one (watchdog, subject) pair after its latest alert."""

    watchdog: str
    subject_id: str
    firing: bool
    consecutive: int
    """Firing alerts in a row in the current episode (0 once resolved)."""
    acted: tuple[str, ...] = ()
    """Rules that requested a halt in the current episode."""
    alert_id: str
    message: str
    value: float | None = None
    threshold: float | None = None
    fired_at: datetime
    since: datetime | None = None
    """When the current firing episode began (None while resolved)."""


def track(previous: AlertTrack | None, alert: WatchdogAlert) -> AlertTrack:
    """The pair's state after ``alert``: a firing alert counts up, a resolved one resets."""
    firing = alert.status == "firing"
    if firing:
        continuing = previous is not None and previous.firing
        consecutive = previous.consecutive + 1 if continuing and previous is not None else 1
        acted = previous.acted if continuing and previous is not None else ()
        since = previous.since if continuing and previous is not None else alert.fired_at
    else:
        consecutive, acted, since = 0, (), None
    return AlertTrack(
        watchdog=alert.watchdog,
        subject_id=alert.subject_id,
        firing=firing,
        consecutive=consecutive,
        acted=acted,
        alert_id=alert.alert_id,
        message=alert.message,
        value=alert.value,
        threshold=alert.threshold,
        fired_at=alert.fired_at,
        since=since,
    )


class HaltAction(msgspec.Struct, frozen=True, kw_only=True):
    """A halt the policy asks for; the service turns it into a library ``HaltRequest``."""

    rule: str
    severity: HaltSeverity
    mode: HaltMode
    fund_id: str | None
    strategy_id: str | None
    reason: str
    requested_by: str
    triggered_by_watchdog: str
    alert_subject_id: str


def _reason(rule: PolicyRule, alert: WatchdogAlert, state: AlertTrack) -> str:
    count = f"{state.consecutive} consecutive firing alert{'s' if state.consecutive != 1 else ''}"
    figures = ""
    if alert.value is not None and alert.threshold is not None:
        figures = f" (value {alert.value:g}, threshold {alert.threshold:g})"
    text = (
        f"auto-halt by rule {rule.name}: {alert.watchdog} watchdog on {alert.subject_id!r}: "
        f"{alert.message}{figures}; {count}"
    )
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def decide(rules: Sequence[PolicyRule], alert: WatchdogAlert, state: AlertTrack) -> list[HaltAction]:
    """The halts ``alert`` triggers, given the pair's state after it (see :func:`track`)."""
    if not state.firing:
        return []
    actions: list[HaltAction] = []
    for rule in rules:
        if not rule.matches(alert) or state.consecutive < rule.consecutive or rule.name in state.acted:
            continue
        actions.append(
            HaltAction(
                rule=rule.name,
                severity=rule.severity,
                mode=rule.mode,
                fund_id=alert.subject_id if rule.severity == "FUND_HALT" else None,
                strategy_id=alert.subject_id if rule.severity == "STRATEGY_HALT" else None,
                reason=_reason(rule, alert, state),
                requested_by=f"watchdog:{rule.name}",
                triggered_by_watchdog=alert.watchdog,
                alert_subject_id=alert.subject_id,
            )
        )
    return actions
