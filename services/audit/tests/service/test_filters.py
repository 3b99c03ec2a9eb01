"""The recorder's consumers: default filters, MTS_AUDIT_EXTRA_SUBJECTS, and the subject algebra."""

from __future__ import annotations

import pytest

from mts1b_operations.audit.entrypoints._filters import (
    DEFAULT_FILTERS,
    ConsumerPlan,
    covers,
    overlaps,
    parse_extra_subjects,
    plan_consumers,
)
from mts1b_operations.core.bus import DEFAULT_STREAMS
from mts1b_operations.core.settings import SettingsError

STREAMS = {spec.name: spec.subjects for spec in DEFAULT_STREAMS}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.*.c", "a.b.c", True),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("a.*", "a.b.c", False),
        ("a.*.c", "a.b.*", True),
        ("a.b", "a.c", False),
        (">", "x.y", True),
    ],
)
def test_overlaps(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


@pytest.mark.parametrize(
    ("general", "specific", "expected"),
    [
        ("a.>", "a.b.c", True),
        ("a.>", "a.*", True),
        ("a.*", "a.>", False),
        ("a.*.c", "a.b.c", True),
        ("a.b.c", "a.*.c", False),
        ("a.*", "a.*", True),
        ("a.b", "a.b.c", False),
    ],
)
def test_covers(general: str, specific: str, expected: bool) -> None:
    assert covers(general, specific) is expected


def test_by_default_one_consumer_records_halts_watchdogs_commands_and_compliance_facts() -> None:
    assert plan_consumers(STREAMS) == [ConsumerPlan("OPERATIONS", "mts1b-audit", DEFAULT_FILTERS)]
    assert DEFAULT_FILTERS == (
        "mts.v1.operations.halt.>",
        "mts.v1.operations.watchdog.*",
        "mts.v1.operations.cmd.>",
        "mts.v1.operations.compliance.>",
    )


def test_extra_subjects_get_a_consumer_on_the_stream_that_captures_them() -> None:
    extras = parse_extra_subjects(" mts.v1.oms.order.* , mts.v1.portfolio.position.*")
    plans = plan_consumers(STREAMS, extras)
    assert plans == [
        ConsumerPlan("OPERATIONS", "mts1b-audit", DEFAULT_FILTERS),
        ConsumerPlan("OMS", "mts1b-audit-OMS", ("mts.v1.oms.order.*",)),
        ConsumerPlan("PORTFOLIO", "mts1b-audit-PORTFOLIO", ("mts.v1.portfolio.position.*",)),
    ]


def test_an_extra_subject_already_covered_by_the_defaults_is_dropped() -> None:
    plans = plan_consumers(STREAMS, parse_extra_subjects("mts.v1.operations.halt.requested"))
    assert plans == [ConsumerPlan("OPERATIONS", "mts1b-audit", DEFAULT_FILTERS)]


def test_an_unset_or_blank_variable_means_no_extras() -> None:
    assert parse_extra_subjects(None) == ()
    assert parse_extra_subjects("  ") == ()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("mts.v1.oms.order.*,,mts.v1.news.>", "empty subject"),
        ("mts.v1..x", "empty token"),
        ("mts.v1.>.x", "'>' may only be the last token"),
        ("mts.v1.oms*", "must be whole tokens"),
        ("mts.v1.operations.audit.appended", "never audited"),
        ("mts.v1.>", "never audited"),
        ("mts.v1.operations.service.heartbeat.halt", "never audited"),
    ],
)
def test_a_bad_extra_subject_is_refused_naming_the_variable(raw: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_extra_subjects(raw)
    assert caught.value.variable == "MTS_AUDIT_EXTRA_SUBJECTS"
    assert str(caught.value).startswith("MTS_AUDIT_EXTRA_SUBJECTS: ")
    assert problem in str(caught.value)


def test_a_subject_no_stream_captures_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"'elsewhere\.x' is not captured by any JetStream stream"):
        plan_consumers(STREAMS, parse_extra_subjects("elsewhere.x"))


def test_partly_overlapping_extras_are_refused() -> None:
    extras = parse_extra_subjects("mts.v1.strategy.*.s-1,mts.v1.strategy.pnl.*")
    with pytest.raises(SettingsError, match="overlap on stream STRATEGY"):
        plan_consumers(STREAMS, extras)
