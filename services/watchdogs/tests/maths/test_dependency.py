"""Dependency health: the failure threshold counts consecutive failures only."""

from __future__ import annotations

import pytest

from mts1b_operations.watchdogs.maths.dependency import HealthTracker, transitions


def test_reference_sequence_fires_only_at_the_last_probe() -> None:
    tracker = HealthTracker()
    changes = [tracker.observe(ok) for ok in [True, False, False, True, False, False, False]]
    assert changes == [None, None, None, None, None, None, "down"]
    assert tracker.state == "down"
    assert tracker.consecutive_failures == 3


def test_one_success_recovers_with_the_default_success_threshold() -> None:
    assert transitions([False, False, False, True]) == [(2, "down"), (3, "up")]


def test_a_higher_success_threshold_needs_consecutive_successes() -> None:
    assert transitions([False, False, True, False, True, True], failure_threshold=2, success_threshold=2) == [
        (1, "down"),
        (5, "up"),
    ]


def test_flapping_below_the_threshold_never_changes_state() -> None:
    assert transitions([False, False, True] * 10) == []


def test_staying_down_does_not_refire() -> None:
    assert transitions([False] * 10) == [(2, "down")]


def test_starting_down_reports_the_recovery() -> None:
    assert transitions([True], initial="down") == [(0, "up")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"success_threshold": True}, "success_threshold"),
        ({"initial": "red"}, "initial"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HealthTracker(**kwargs)  # type: ignore[arg-type]


def test_non_bool_probe_result_is_refused() -> None:
    with pytest.raises(ValueError, match="ok must be a bool"):
        HealthTracker().observe(1)  # type: ignore[arg-type]
