"""The alert discipline alone (pure): for, hysteresis, dedup, repeat, silence and its expiry, inhibition."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from mts1b_operations.watchdogs.alerting import (
    AlertBook,
    AlertPolicy,
    Evaluation,
    SubjectState,
    breach_ratio_evaluation,
    flag_evaluation,
    inhibited,
    is_silenced,
    level_evaluation,
)

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def level(value: float, subject: str = "ACME") -> Evaluation:
    return level_evaluation(subject, value, threshold=0.4, clear=0.3, message=f"vpin {value}")


class Book:
    """Feeds evaluations one at a time, a second apart, and records every notification."""

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.book = AlertBook()
        self.policy = policy or AlertPolicy()
        self.now = T0
        self.muted: set[str] = set()
        self.sent: list[tuple[str, str, str]] = []
        ids = itertools.count(1)
        self.new_episode = lambda: f"ep{next(ids)}"

    def feed(self, *evaluations: Evaluation) -> list[str]:
        out: list[str] = []
        for evaluation in evaluations:
            self.now += timedelta(seconds=1)
            self.book, notes = self.book.apply(
                [evaluation],
                policy=self.policy,
                now=self.now,
                muted=lambda s: s in self.muted,
                new_episode=self.new_episode,
            )
            for note in notes:
                self.sent.append((note.status, note.subject_id, note.alert_id))
                out.append(note.status)
        return out


def test_for_needs_that_many_breaches_in_a_row() -> None:
    book = Book(AlertPolicy(for_evaluations=3))
    assert book.feed(level(0.5), level(0.5)) == []
    assert book.book.get("ACME").pending == 2
    assert book.feed(level(0.35)) == [], "between the levels is not a breach: pending starts over"
    assert book.book.get("ACME").pending == 0
    assert book.feed(level(0.5), level(0.5)) == []
    assert book.feed(level(0.5)) == ["firing"]
    assert book.book.get("ACME").since == T0 + timedelta(seconds=6)


def test_hysteresis_keeps_firing_between_the_levels_and_resolves_below_clear() -> None:
    book = Book()
    assert book.feed(level(0.41)) == ["firing"]
    assert book.feed(level(0.39), level(0.31), level(0.45), level(0.30)) == [], "0.30 is not below clear 0.30"
    assert book.book.get("ACME").firing
    assert book.feed(level(0.29)) == ["resolved"]
    assert book.book.subjects == {}, "an idle subject is forgotten"
    assert book.feed(level(0.41)) == ["firing"], "a new episode"
    assert [s[2] for s in book.sent] == ["ep1-firing", "ep1-resolved", "ep2-firing"]


def test_dedup_one_firing_per_subject_and_episode_and_subjects_are_independent() -> None:
    book = Book()
    assert book.feed(level(0.5), level(0.9), level(1.0)) == ["firing"]
    assert book.feed(level(0.5, "OTHER")) == ["firing"]
    assert book.feed(level(0.1)) == ["resolved"]
    assert book.book.get("OTHER").firing
    assert [(s[0], s[1]) for s in book.sent] == [
        ("firing", "ACME"),
        ("firing", "OTHER"),
        ("resolved", "ACME"),
    ]


def test_repeat_interval_resends_a_long_firing_alert_with_a_new_id() -> None:
    book = Book(AlertPolicy(repeat_interval=2.5))
    assert book.feed(level(0.5), level(0.5), level(0.5)) == ["firing"]
    assert book.feed(level(0.5)) == ["firing"], "2.5 s after the first"
    assert book.feed(level(0.5), level(0.5)) == []
    assert book.feed(level(0.5)) == ["firing"]
    assert [s[2] for s in book.sent] == ["ep1-firing", "ep1-repeat-1", "ep1-repeat-2"]


def test_a_muted_episode_is_held_back_and_sent_when_the_mute_ends_if_still_firing() -> None:
    book = Book()
    book.muted.add("ACME")
    assert book.feed(level(0.5), level(0.6)) == []
    state = book.book.get("ACME")
    assert state.firing
    assert not state.notified
    book.muted.clear()
    assert book.feed(level(0.35)) == ["firing"], "still firing (between the levels) once unmuted"
    assert book.feed(level(0.1)) == ["resolved"]


def test_an_episode_that_starts_and_ends_under_a_mute_is_never_sent() -> None:
    book = Book()
    book.muted.add("ACME")
    assert book.feed(level(0.5), level(0.1)) == []
    book.muted.clear()
    assert book.feed(level(0.2)) == []
    assert book.sent == []


def test_a_sent_alert_still_resolves_under_a_mute() -> None:
    book = Book()
    assert book.feed(level(0.5)) == ["firing"]
    book.muted.add("ACME")
    assert book.feed(level(0.5)) == [], "no repeat while muted"
    assert book.feed(level(0.1)) == ["resolved"]


def test_silence_is_time_boxed() -> None:
    until = T0 + timedelta(minutes=30)
    assert is_silenced(until, T0)
    assert is_silenced(until, until - timedelta(microseconds=1))
    assert not is_silenced(until, until), "the pause ends at until"
    assert not is_silenced(None, T0)


def test_inhibition_matches_dependency_patterns_with_the_subject_placeholder() -> None:
    assert inhibited("mom-us-eq", ["oms", "marketdata"], {"oms"})
    assert not inhibited("mom-us-eq", ["oms"], {"pricing"})
    assert not inhibited("mom-us-eq", ["oms"], set())
    assert inhibited("mom-us-eq", ["*-oms"], {"paper-oms"})
    assert inhibited("mom-us-eq", ["engine-{subject}"], {"engine-mom-us-eq"})
    assert not inhibited("mr-us-eq", ["engine-{subject}"], {"engine-mom-us-eq"})


def test_flag_and_ratio_evaluations() -> None:
    assert flag_evaluation("oms", True, message="down").breached
    assert flag_evaluation("oms", False, message="up").cleared
    over = breach_ratio_evaluation("f", 1.2, clear_ratio=0.9, message="m", value=-118.0, threshold=100.0)
    assert (over.breached, over.cleared, over.value, over.threshold) == (True, False, -118.0, 100.0)
    at_limit = breach_ratio_evaluation("f", 1.0, clear_ratio=0.9, message="m")
    assert (at_limit.breached, at_limit.cleared, at_limit.value, at_limit.threshold) == (
        False,
        False,
        1.0,
        1.0,
    )
    assert breach_ratio_evaluation("f", 0.5, clear_ratio=0.9, message="m").cleared
    with pytest.raises(ValueError, match="both breached and cleared"):
        Evaluation(subject_id="x", value=1, threshold=1, breached=True, cleared=True, message="m")


def test_firing_state_round_trips_through_json_for_a_restart() -> None:
    book = Book()
    book.feed(level(0.5))
    book.muted.add("OTHER")
    book.feed(level(0.7, "OTHER"))
    stored = book.book.firing_json()
    restored = AlertBook.from_firing_json(stored)
    assert restored.firing == book.book.firing
    assert restored.get("OTHER") == SubjectState(
        firing=True,
        episode="ep2",
        since=T0 + timedelta(seconds=2),
        notified=False,
        value=0.7,
        threshold=0.4,
        message="vpin 0.7",
    )
    # After the restart: dedup holds (no second firing), and resolution still works.
    book.book = restored
    assert book.feed(level(0.5)) == []
    assert book.feed(level(0.1)) == ["resolved"]


def test_policy_and_levels_are_checked() -> None:
    with pytest.raises(ValueError, match="for_evaluations"):
        AlertPolicy(for_evaluations=0)
    with pytest.raises(ValueError, match="repeat_interval"):
        AlertPolicy(repeat_interval=-1)
