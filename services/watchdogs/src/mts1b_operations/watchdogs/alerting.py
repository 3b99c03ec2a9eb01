"""Alert discipline, borrowed from Prometheus and Alertmanager; pure, no I/O.

A runner turns its inputs into one :class:`Evaluation` per subject (a symbol, fund, strategy,
upstream...) and :meth:`AlertBook.apply` decides what to notify:

- ``for``: the fire condition must hold on ``for`` evaluations in a row before the alert fires
  (a pending count, reset by any evaluation where it does not hold);
- hysteresis: once firing, the alert resolves only when the clear condition holds (below the
  clear level, which sits under the fire level), so a value hovering at the threshold does not
  flap; between the two levels it stays firing;
- deduplication per (watchdog, subject): one ``firing`` notification per episode (plus, if
  ``repeat_interval`` > 0, a repeat that often while it lasts) and one ``resolved`` when it clears;
- silence (a time-boxed pause of the watchdog) and inhibition (a dependency it relies on is down)
  mute notifications without stopping evaluation: the episode still starts and is notified when
  the mute ends if it still fires. A resolution is always notified when its firing was, so a
  downstream consumer (the auto-halt policy) never waits forever on an alert that has cleared;
  an episode that started and ended under a mute is never notified at all.

Every notification has its own ``alert_id`` (the NATS message id: a repeat or a resolution must
not be dropped by JetStream's deduplication as a copy of the firing one); they share the episode.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "AlertBook",
    "AlertPolicy",
    "Evaluation",
    "Notification",
    "SubjectState",
    "breach_ratio_evaluation",
    "flag_evaluation",
    "inhibited",
    "is_silenced",
    "level_evaluation",
    "step",
]

IdFactory = Callable[[], str]


def _new_episode() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """``for_evaluations`` >= 1; ``repeat_interval`` seconds (0: no repeats)."""

    for_evaluations: int = 1
    repeat_interval: float = 0.0

    def __post_init__(self) -> None:
        if self.for_evaluations < 1:
            raise ValueError(f"for_evaluations: must be >= 1 (got {self.for_evaluations})")
        if self.repeat_interval < 0:
            raise ValueError(f"repeat_interval: must be >= 0 seconds (got {self.repeat_interval})")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One subject's verdict at one evaluation.

    ``breached``: the fire condition holds; ``cleared``: the clear condition holds (a firing
    alert resolves). Both false means "between the levels": firing stays firing, pending stays.
    """

    subject_id: str
    value: float | None
    threshold: float | None
    breached: bool
    cleared: bool
    message: str
    window_start: datetime | None = None
    window_end: datetime | None = None

    def __post_init__(self) -> None:
        if self.breached and self.cleared:
            raise ValueError(f"{self.subject_id}: an evaluation cannot be both breached and cleared")


def level_evaluation(
    subject_id: str,
    value: float,
    *,
    threshold: float,
    clear: float,
    message: str,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Evaluation:
    """Fires at ``value >= threshold``, clears at ``value < clear`` (``clear <= threshold``)."""
    return Evaluation(
        subject_id=subject_id,
        value=value,
        threshold=threshold,
        breached=value >= threshold,
        cleared=value < clear,
        message=message,
        window_start=window_start,
        window_end=window_end,
    )


def breach_ratio_evaluation(
    subject_id: str,
    ratio: float,
    *,
    clear_ratio: float,
    message: str,
    value: float | None = None,
    threshold: float | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Evaluation:
    """Fires when ``ratio`` (how far past its limit: 1 is at it) exceeds 1; clears below ``clear_ratio``.

    ``value`` and ``threshold`` are what the alert reports (default: the ratio and 1).
    """
    return Evaluation(
        subject_id=subject_id,
        value=ratio if value is None else value,
        threshold=1.0 if threshold is None else threshold,
        breached=ratio > 1.0,
        cleared=ratio < clear_ratio,
        message=message,
        window_start=window_start,
        window_end=window_end,
    )


def flag_evaluation(
    subject_id: str,
    bad: bool,
    *,
    message: str,
    value: float | None = None,
    threshold: float | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Evaluation:
    """A yes/no condition (upstream down, a finding): fires while ``bad``, clears when not."""
    return Evaluation(
        subject_id=subject_id,
        value=value,
        threshold=threshold,
        breached=bad,
        cleared=not bad,
        message=message,
        window_start=window_start,
        window_end=window_end,
    )


@dataclass(frozen=True, slots=True)
class SubjectState:
    """What the discipline remembers of one subject."""

    pending: int = 0
    firing: bool = False
    episode: str | None = None
    since: datetime | None = None
    notified: bool = False
    notified_at: datetime | None = None
    repeats: int = 0
    value: float | None = None
    threshold: float | None = None
    message: str | None = None

    @property
    def idle(self) -> bool:
        return not self.firing and self.pending == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "since": self.since.isoformat() if self.since else None,
            "notified": self.notified,
            "notified_at": self.notified_at.isoformat() if self.notified_at else None,
            "repeats": self.repeats,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubjectState:
        """A firing subject as stored by :meth:`to_json`."""

        def when(key: str) -> datetime | None:
            raw = data.get(key)
            return datetime.fromisoformat(raw) if isinstance(raw, str) else None

        return cls(
            firing=True,
            episode=data.get("episode"),
            since=when("since"),
            notified=bool(data.get("notified")),
            notified_at=when("notified_at"),
            repeats=int(data.get("repeats") or 0),
            value=data.get("value"),
            threshold=data.get("threshold"),
            message=data.get("message"),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """An alert to publish: ``firing`` (first or a repeat) or ``resolved``."""

    status: Literal["firing", "resolved"]
    alert_id: str
    episode: str
    subject_id: str
    since: datetime
    evaluation: Evaluation
    repeat: int = 0


def step(
    state: SubjectState,
    evaluation: Evaluation,
    *,
    policy: AlertPolicy,
    now: datetime,
    muted: bool = False,
    new_episode: IdFactory = _new_episode,
) -> tuple[SubjectState, Notification | None]:
    """The subject's next state after ``evaluation``, and the notification it calls for (if any)."""
    seen = replace(state, value=evaluation.value, threshold=evaluation.threshold, message=evaluation.message)
    if not state.firing:
        if not evaluation.breached:
            return replace(seen, pending=0), None
        pending = state.pending + 1
        if pending < policy.for_evaluations:
            return replace(seen, pending=pending), None
        fired = replace(seen, pending=0, firing=True, episode=new_episode(), since=now, repeats=0)
        if muted:
            return replace(fired, notified=False, notified_at=None), None
        return _notify_firing(fired, evaluation, now, repeat=False)
    assert state.episode is not None
    assert state.since is not None
    if evaluation.cleared:
        resolved = SubjectState(
            value=evaluation.value, threshold=evaluation.threshold, message=evaluation.message
        )
        if not state.notified:
            return resolved, None
        return resolved, Notification(
            status="resolved",
            alert_id=f"{state.episode}-resolved",
            episode=state.episode,
            subject_id=evaluation.subject_id,
            since=state.since,
            evaluation=evaluation,
        )
    if muted:
        return seen, None
    if not state.notified:
        return _notify_firing(seen, evaluation, now, repeat=False)
    due = (
        state.notified_at is not None and (now - state.notified_at).total_seconds() >= policy.repeat_interval
    )
    if policy.repeat_interval > 0 and due:
        return _notify_firing(seen, evaluation, now, repeat=True)
    return seen, None


def _notify_firing(
    state: SubjectState, evaluation: Evaluation, now: datetime, *, repeat: bool
) -> tuple[SubjectState, Notification]:
    assert state.episode is not None
    assert state.since is not None
    repeats = state.repeats + 1 if repeat else 0
    alert_id = f"{state.episode}-firing" if not repeat else f"{state.episode}-repeat-{repeats}"
    notified = replace(state, notified=True, notified_at=now, repeats=repeats)
    return notified, Notification(
        status="firing",
        alert_id=alert_id,
        episode=state.episode,
        subject_id=evaluation.subject_id,
        since=state.since,
        evaluation=evaluation,
        repeat=repeats,
    )


_EMPTY: Final[dict[str, SubjectState]] = {}


@dataclass(frozen=True, slots=True)
class AlertBook:
    """The states of one watchdog's subjects (only those pending or firing are kept). Immutable."""

    subjects: Mapping[str, SubjectState] = field(default_factory=lambda: _EMPTY)

    def get(self, subject_id: str) -> SubjectState:
        return self.subjects.get(subject_id) or SubjectState()

    @property
    def firing(self) -> dict[str, SubjectState]:
        return {subject: state for subject, state in self.subjects.items() if state.firing}

    def apply(
        self,
        evaluations: Iterable[Evaluation],
        *,
        policy: AlertPolicy,
        now: datetime,
        muted: Callable[[str], bool] = lambda _subject: False,
        new_episode: IdFactory = _new_episode,
    ) -> tuple[AlertBook, list[Notification]]:
        """Fold ``evaluations`` in; returns the new book and the notifications, in evaluation order."""
        states = dict(self.subjects)
        notifications: list[Notification] = []
        for evaluation in evaluations:
            subject = evaluation.subject_id
            state, notification = step(
                states.get(subject) or SubjectState(),
                evaluation,
                policy=policy,
                now=now,
                muted=muted(subject),
                new_episode=new_episode,
            )
            if state.idle:
                states.pop(subject, None)
            else:
                states[subject] = state
            if notification is not None:
                notifications.append(notification)
        return AlertBook(states), notifications

    def firing_json(self) -> dict[str, dict[str, Any]]:
        return {subject: state.to_json() for subject, state in self.firing.items()}

    @classmethod
    def from_firing_json(cls, data: Mapping[str, Mapping[str, Any]]) -> AlertBook:
        return cls({subject: SubjectState.from_json(state) for subject, state in data.items()})


def is_silenced(paused_until: datetime | None, now: datetime) -> bool:
    """A pause silences until ``paused_until`` (exclusive); expired or absent, nothing is silenced."""
    return paused_until is not None and now < paused_until


def inhibited(subject_id: str, patterns: Iterable[str], dependencies_down: Iterable[str]) -> bool:
    """Whether an alert on ``subject_id`` is muted because a dependency it relies on is down.

    ``patterns`` are fnmatch patterns of dependency names; ``{subject}`` in a pattern stands for
    ``subject_id`` (``engine-{subject}``: each strategy's own engine).
    """
    down = list(dependencies_down)
    if not down:
        return False
    for pattern in patterns:
        concrete = pattern.replace("{subject}", subject_id)
        if any(fnmatch.fnmatchcase(name, concrete) for name in down):
            return True
    return False
