"""Database watchdog decisions: chain size vs head vs checkpoints, outbox age, slow queries."""

from __future__ import annotations

from typing import Any

import pytest

from mts1b_operations.watchdogs.maths.db_checks import (
    ActivityStats,
    ChainStats,
    DbThresholds,
    OutboxStats,
    StatementStats,
    check_activity,
    check_chain,
    check_outbox,
    check_statements,
    evaluate,
)


def _kinds(findings: list[Any]) -> list[str]:
    return [finding.kind for finding in findings]


def test_a_consistent_chain_has_no_findings() -> None:
    assert (
        check_chain(ChainStats(entry_count=10, max_sequence=9, next_sequence=10, checkpoint_sizes=(4, 10)))
        == []
    )
    assert check_chain(ChainStats(entry_count=0, max_sequence=None, next_sequence=0)) == []


def test_missing_rows_are_a_count_mismatch_and_a_gap() -> None:
    findings = check_chain(
        ChainStats(entry_count=9, max_sequence=9, next_sequence=10, checkpoint_sizes=(10,))
    )
    assert _kinds(findings) == ["chain_count_mismatch", "chain_gap", "chain_behind_checkpoint"]
    mismatch = findings[0]
    assert (mismatch.subject_id, mismatch.value, mismatch.threshold) == ("audit_entries", 9, 10)
    assert "holds 9 rows but the head expects 10" in mismatch.message
    assert (findings[2].value, findings[2].threshold) == (9, 10)


def test_truncated_tail_behind_a_signed_checkpoint() -> None:
    # rows 0..6 present and consistent with a head rolled back to 7, but a checkpoint signed 9
    findings = check_chain(
        ChainStats(entry_count=7, max_sequence=6, next_sequence=7, checkpoint_sizes=(5, 9))
    )
    assert _kinds(findings) == ["chain_behind_checkpoint"]
    assert "signs 9 entries but only 7 are present" in findings[0].message


def test_checkpoint_lag_only_when_configured() -> None:
    stats = ChainStats(entry_count=1_500, max_sequence=1_499, next_sequence=1_500, checkpoint_sizes=(1_000,))
    assert check_chain(stats) == []
    assert check_chain(stats, max_checkpoint_lag=500) == []
    lagging = check_chain(stats, max_checkpoint_lag=499)
    assert _kinds(lagging) == ["checkpoint_lag"]
    assert (lagging[0].value, lagging[0].threshold) == (500, 499)
    unsigned = check_chain(ChainStats(entry_count=3, max_sequence=2, next_sequence=3), max_checkpoint_lag=2)
    assert _kinds(unsigned) == ["checkpoint_lag"]


def test_outbox_backlog_by_age_or_length() -> None:
    outboxes = [
        OutboxStats("halt", backlog=0, oldest_age_seconds=None),
        OutboxStats("audit", backlog=3, oldest_age_seconds=75.0),
        OutboxStats("watchdogs", backlog=5_000, oldest_age_seconds=2.0),
    ]
    assert [f.subject_id for f in check_outbox(outboxes)] == ["outbox:audit"]
    findings = check_outbox(outboxes, max_backlog=1_000)
    assert [(f.subject_id, f.value, f.threshold) for f in findings] == [
        ("outbox:audit", 75.0, 60.0),
        ("outbox:watchdogs", 5_000, 1_000),
    ]


def test_slow_statements_need_enough_calls() -> None:
    statements = [
        StatementStats("11", "SELECT 1", calls=1_000, mean_ms=0.1),
        StatementStats("22", "SELECT * FROM   audit_entries\n WHERE x", calls=50, mean_ms=2_500.0),
        StatementStats("33", "VACUUM", calls=1, mean_ms=90_000.0),
    ]
    findings = check_statements(statements)
    assert [(f.subject_id, f.value) for f in findings] == [("queryid:22", 2_500.0)]
    assert findings[0].message.endswith("SELECT * FROM audit_entries WHERE x")
    assert len(check_statements(statements, min_calls=1)) == 2


def test_long_running_backends_that_hold_something() -> None:
    activity = [
        ActivityStats(101, "active", "SELECT pg_sleep(1000)", seconds=900.0),
        ActivityStats(102, "idle", "COMMIT", seconds=86_400.0),
        ActivityStats(103, "idle in transaction", "UPDATE t SET x = 1", seconds=301.0),
        ActivityStats(104, "active", "SELECT 1", seconds=3.0),
    ]
    assert [f.subject_id for f in check_activity(activity)] == ["pid:101", "pid:103"]
    long_query = ActivityStats(105, "active", "SELECT " + "x, " * 200, seconds=1_000.0)
    assert len(check_activity([long_query])[0].message) < 300


def test_evaluate_gathers_everything_with_thresholds() -> None:
    findings = evaluate(
        chain=ChainStats(entry_count=4, max_sequence=4, next_sequence=5),
        outboxes=[OutboxStats("audit", backlog=1, oldest_age_seconds=20.0)],
        statements=[StatementStats("1", "SELECT 1", calls=10, mean_ms=150.0)],
        activity=[ActivityStats(7, "active", "SELECT 1", seconds=61.0)],
        thresholds=DbThresholds(max_outbox_age_seconds=10, slow_query_mean_ms=100, long_running_seconds=60),
    )
    assert _kinds(findings) == [
        "chain_count_mismatch",
        "chain_gap",
        "outbox_backlog",
        "slow_query",
        "long_running_query",
    ]
    assert evaluate() == []


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ChainStats(entry_count=-1, max_sequence=None, next_sequence=0), "entry_count"),
        (
            lambda: ChainStats(entry_count=1, max_sequence=0, next_sequence=1, checkpoint_sizes=(0,)),
            "checkpoint_sizes",
        ),
        (lambda: OutboxStats("a", backlog=1, oldest_age_seconds=-2.0), "oldest_age_seconds"),
        (lambda: StatementStats("1", "q", calls=1, mean_ms=float("nan")), "mean_ms"),
        (lambda: ActivityStats(0, "active", "q", seconds=1.0), "pid"),
        (lambda: DbThresholds(slow_query_min_calls=0), "slow_query_min_calls"),
        (lambda: DbThresholds(max_outbox_age_seconds=0), "max_outbox_age_seconds"),
        (lambda: check_outbox([], max_age_seconds=-1), "max_age_seconds"),
    ],
)
def test_bad_numbers_are_refused_naming_them(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
