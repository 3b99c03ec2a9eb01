"""The auto-halt policy as pure functions: counting alerts and deciding halts; the policy file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from mts1b_operations.core.schemas import WatchdogAlert
from mts1b_operations.halt.policy import (
    DEFAULT_RULES,
    POLICY_FILE_VARIABLE,
    AlertTrack,
    HaltAction,
    HaltPolicy,
    PolicyError,
    PolicyRule,
    decide,
    load_policy,
    load_policy_from_env,
    parse_policy,
    track,
)

T0 = datetime(2025, 3, 1, 14, 30, tzinfo=UTC)


def alert(watchdog: str, subject_id: str, status: str = "firing", n: int = 0) -> WatchdogAlert:
    return WatchdogAlert(
        alert_id=str(uuid.uuid4()),
        watchdog=watchdog,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        subject_id=subject_id,
        value=0.31,
        threshold=0.2,
        message="realised vol above target",
        fired_at=T0 + timedelta(seconds=n),
    )


def run(
    alerts: list[WatchdogAlert], rules: list[PolicyRule] | tuple[PolicyRule, ...] = DEFAULT_RULES
) -> tuple[AlertTrack | None, list[list[HaltAction]]]:
    """Feed alerts through track/decide as the consumer does (acted rules recorded); all actions."""
    state: AlertTrack | None = None
    actions: list[list[HaltAction]] = []
    for a in alerts:
        state = track(state, a)
        decided = decide(rules, a, state)
        if decided:
            state = msgspec.structs.replace(state, acted=state.acted + tuple(d.rule for d in decided))
        actions.append(decided)
    return state, actions


def test_vol_dd_halts_the_fund_at_the_first_firing_alert_in_block_new() -> None:
    _, actions = run([alert("vol_dd", "paper-momentum")])
    [[action]] = actions
    assert action.severity == "FUND_HALT"
    assert action.fund_id == "paper-momentum"
    assert action.strategy_id is None
    assert action.mode == "block_new"
    assert action.requested_by == "watchdog:portfolio_vol_dd"
    assert action.triggered_by_watchdog == "vol_dd"
    assert "realised vol above target" in action.reason
    assert "value 0.31" in action.reason


THIRD_IN_A_ROW = (
    PolicyRule(
        name="strategy_watchdog",
        watchdog="strategy",
        severity="STRATEGY_HALT",
        mode="cancel_open",
        consecutive=3,
    ),
)


def test_the_default_strategy_rule_acts_on_the_first_alert_the_watchdog_debounced() -> None:
    _, actions = run([alert("strategy", "mom-us-eq", n=0)])
    assert [len(a) for a in actions] == [1]


def test_strategy_alerts_act_at_the_third_in_a_row_and_a_resolve_resets_the_count() -> None:
    alerts = [
        alert("strategy", "mom-us-eq", n=0),
        alert("strategy", "mom-us-eq", n=1),
        alert("strategy", "mom-us-eq", "resolved", n=2),
        alert("strategy", "mom-us-eq", n=3),
        alert("strategy", "mom-us-eq", n=4),
        alert("strategy", "mom-us-eq", n=5),
    ]
    state, actions = run(alerts, THIRD_IN_A_ROW)
    assert [len(a) for a in actions] == [0, 0, 0, 0, 0, 1]
    action = actions[-1][0]
    assert (action.severity, action.strategy_id, action.fund_id) == ("STRATEGY_HALT", "mom-us-eq", None)
    assert action.requested_by == "watchdog:strategy_watchdog"
    assert state is not None
    assert state.consecutive == 3
    assert state.since == T0 + timedelta(seconds=3)


def test_a_rule_acts_once_per_firing_episode_and_again_after_a_resolve() -> None:
    alerts = [alert("vol_dd", "f", n=i) for i in range(3)]
    alerts += [alert("vol_dd", "f", "resolved", n=3), alert("vol_dd", "f", n=4)]
    _, actions = run(alerts)
    assert [len(a) for a in actions] == [1, 0, 0, 0, 1]


def test_dependency_alerts_halt_the_firm_only_for_the_oms() -> None:
    _, actions = run([alert("dependency", "postgres")])
    assert actions == [[]]
    for subject in ("oms", "paper-oms", "oms-primary"):
        _, actions = run([alert("dependency", subject)])
        [[action]] = actions
        assert (action.severity, action.fund_id, action.strategy_id) == ("FIRM_HALT", None, None)
        assert action.mode == "block_new"
        assert action.alert_subject_id == subject


def test_resolved_alerts_and_other_watchdogs_never_halt() -> None:
    assert run([alert("vol_dd", "f", "resolved")])[1] == [[]]
    assert run([alert("vpin", "AAPL")])[1] == [[]]


def test_disabled_rules_do_not_act() -> None:
    rules = [PolicyRule(name="off", watchdog="vol_dd", severity="FUND_HALT", enabled=False)]
    assert run([alert("vol_dd", "f")], rules)[1] == [[]]


def test_two_rules_on_one_watchdog_count_the_same_alerts() -> None:
    rules = [
        PolicyRule(name="soft", watchdog="vol_dd", severity="FUND_HALT", consecutive=1),
        PolicyRule(name="hard", watchdog="vol_dd", severity="FIRM_HALT", consecutive=2, mode="cancel_open"),
    ]
    _, actions = run([alert("vol_dd", "f", n=0), alert("vol_dd", "f", n=1)], rules)
    assert [[a.rule for a in step] for step in actions] == [["soft"], ["hard"]]


def test_the_default_policy_is_used_without_a_file() -> None:
    assert load_policy_from_env({}) == HaltPolicy()
    assert [r.name for r in HaltPolicy().rules] == ["portfolio_vol_dd", "strategy_watchdog", "dependency_oms"]
    assert HaltPolicy().oms.expected_responders == []


def test_a_policy_file_replaces_the_rules_and_sets_the_oms_responders(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - name: strategy_watchdog\n"
        "    watchdog: strategy\n"
        "    severity: STRATEGY_HALT\n"
        "    consecutive: 5\n"
        "oms:\n"
        "  expected_responders: [paper-oms]\n"
        "  ack_timeout: 2.5\n"
    )
    policy = load_policy_from_env({POLICY_FILE_VARIABLE: str(path)})
    assert [(r.name, r.consecutive, r.mode) for r in policy.rules] == [("strategy_watchdog", 5, "block_new")]
    assert policy.oms.expected_responders == ["paper-oms"]
    assert policy.oms.ack_timeout == 2.5


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rules:\n  - name: x\n    watchdog: vol_dd\n    severity: PANIC\n", "rules[0].severity"),
        ("rules:\n  - name: x\n    watchdog: volume\n    severity: FUND_HALT\n", "rules[0].watchdog"),
        (
            "rules:\n  - name: x\n    watchdog: vol_dd\n    severity: FUND_HALT\n    consecutive: 0\n",
            "rules[0].consecutive",
        ),
        (
            "rules:\n  - {name: a, watchdog: vol_dd, severity: FUND_HALT}\n"
            "  - {name: a, watchdog: db, severity: FIRM_HALT}\n",
            "rules[1].name",
        ),
        ("rules:\n  - {name: a, watchdog: vol_dd, severity: FUND_HALT, colour: red}\n", "rules[0].colour"),
        ("oms:\n  ack_timeout: -1\n", "oms.ack_timeout"),
    ],
)
def test_a_bad_policy_file_names_the_variable_the_file_and_the_field(
    tmp_path: Path, text: str, field: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy_from_env({POLICY_FILE_VARIABLE: str(path)})
    assert info.value.field == field
    assert str(info.value).startswith(f"{POLICY_FILE_VARIABLE}={path}: {field}: ")


def test_an_unreadable_or_malformed_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="Expected `object`"):
        parse_policy(["not", "a", "mapping"])
