"""The watchdogs' parameters: the defaults of issue 6, validation naming the parameter, partial updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mts1b_operations.watchdogs.config import (
    KIND_OF,
    PARAMS_TYPES,
    WATCHDOG_NAMES,
    ConfigError,
    DependencyParams,
    UnknownWatchdogError,
    check_name,
    default_params,
    effective_params,
    merge_overrides,
    parameter_docs,
    parse_upstreams,
)
from mts1b_operations.watchdogs.runners import RUNNER_TYPES, names_from_env


def test_every_watchdog_has_a_kind_parameters_and_a_runner() -> None:
    assert len(WATCHDOG_NAMES) == 10
    assert set(KIND_OF) == set(PARAMS_TYPES) == set(RUNNER_TYPES) == set(WATCHDOG_NAMES)
    assert sorted(KIND_OF.values()) == sorted(
        ["health", "drift", "vpin", "news", "position", "db", "strategy", "theta", "dependency", "vol_dd"]
    )


def test_the_defaults_are_those_of_the_issue() -> None:
    vpin = default_params("vpin")
    assert (vpin.threshold, vpin.window, vpin.bar_seconds) == (0.4, 50, 60)  # type: ignore[attr-defined]
    assert default_params("news_spike").threshold == 5.0  # type: ignore[attr-defined]
    assert default_params("position_anomaly").threshold == 3.5  # type: ignore[attr-defined]
    assert default_params("strategy_watchdog").alpha == 0.01  # type: ignore[attr-defined]
    assert default_params("predictive_health").alpha == 0.01  # type: ignore[attr-defined]
    drift = default_params("drift_monitor")
    assert (drift.k, drift.h) == (0.5, 5.0)  # type: ignore[attr-defined]
    dependency = default_params("dependency_watchdog", {})
    assert (dependency.failure_threshold, dependency.success_threshold) == (3, 1)  # type: ignore[attr-defined]
    vol_dd = default_params("portfolio_vol_dd")
    assert (vol_dd.vol_multiple, vol_dd.periods_per_year) == (1.5, 252.0)  # type: ignore[attr-defined]
    assert all(default_params(name).for_ == 1 for name in WATCHDOG_NAMES)


def test_upstreams_come_from_the_environment_and_a_bad_one_names_the_variable() -> None:
    env = {"MTS_WATCHDOG_UPSTREAMS": "oms=http://oms:8080/healthz; halt=http://halt:8101/v1/healthz"}
    params = default_params("dependency_watchdog", env)
    assert isinstance(params, DependencyParams)
    assert params.upstreams == {"oms": "http://oms:8080/healthz", "halt": "http://halt:8101/v1/healthz"}
    assert parse_upstreams("") == {}
    assert parse_upstreams(None) == {}
    for raw, words in (
        ("oms", "is not name=url"),
        ("oms=ftp://x", "not an http:// or https:// URL"),
        ("o.ms=http://x", "upstream name"),
        ("oms=http://a;oms=http://b", "listed twice"),
    ):
        with pytest.raises(ValueError, match="MTS_WATCHDOG_UPSTREAMS") as caught:
            parse_upstreams(raw)
        assert words in str(caught.value)


def test_names_from_the_environment() -> None:
    assert names_from_env({}) == WATCHDOG_NAMES
    assert names_from_env({"MTS_WATCHDOGS": "vpin, news_spike,vpin"}) == ("vpin", "news_spike")
    with pytest.raises(ValueError, match="MTS_WATCHDOGS: unknown watchdog 'vpn'; the watchdogs are: "):
        names_from_env({"MTS_WATCHDOGS": "vpn"})
    with pytest.raises(UnknownWatchdogError):
        check_name("VPIN")


def test_a_partial_update_keeps_the_rest_and_null_resets_to_the_default() -> None:
    overrides, params = merge_overrides("vpin", {"window": 30}, {"threshold": 0.5})
    assert overrides == {"window": 30, "threshold": 0.5}
    assert (params.threshold, params.window, params.clear) == (0.5, 30, 0.35)  # type: ignore[attr-defined]
    overrides, params = merge_overrides("vpin", overrides, {"window": None})
    assert overrides == {"threshold": 0.5}
    assert params.window == 50  # type: ignore[attr-defined]
    overrides, _ = merge_overrides("vpin", {}, {"threshold": 1})
    assert overrides == {"threshold": 1.0}
    assert isinstance(overrides["threshold"], float), "stored normalised"
    _, params = merge_overrides("news_spike", {}, {"for": 3})
    assert params.for_ == 3


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        ("vpin", {"threshold": 0}, "threshold"),
        ("vpin", {"clear": 0.5}, "clear"),
        ("vpin", {"bar_seconds": 0}, "bar_seconds"),
        ("news_spike", {"timezone": "Mars/Olympus"}, "timezone"),
        ("news_spike", {"slot_minutes": 7}, "slot_minutes"),
        ("news_spike", {"min_history_bins": 5000}, "min_history_bins"),
        ("position_anomaly", {"threshold": -1}, "threshold"),
        ("predictive_health", {"alpha": 0.5}, "alpha"),
        ("strategy_watchdog", {"alpha": 0}, "alpha"),
        ("strategy_watchdog", {"inhibited_by": "oms"}, "inhibited_by"),
        ("theta_watchdog", {"limit": 0}, "limit"),
        ("dependency_watchdog", {"failure_threshold": 0}, "failure_threshold"),
        ("dependency_watchdog", {"upstreams": {"oms": "ftp://host/x"}}, "upstreams.oms"),
        ("dependency_watchdog", {"upstreams": {"o ms": "http://host/x"}}, "upstreams"),
        ("db_watchdog", {"max_outbox_backlog": -1}, "max_outbox_backlog"),
        ("drift_monitor", {"reference_days": 500}, "reference_days"),
        ("drift_monitor", {"bar_interval": "2m"}, "bar_interval"),
        ("portfolio_vol_dd", {"estimator": "garch"}, "estimator"),
        ("portfolio_vol_dd", {"window": 1000}, "window"),
        ("portfolio_vol_dd", {"repeat_interval": -1}, "repeat_interval"),
        ("vpin", {"nope": 1}, "nope"),
    ],
)
def test_a_bad_value_names_its_parameter(name: str, changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        merge_overrides(name, {}, changes)
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")


def test_stored_overrides_are_checked_again_when_applied() -> None:
    with pytest.raises(ConfigError) as caught:
        effective_params("vpin", {"threshold": 7})
    assert caught.value.field == "threshold"


def test_the_operations_doc_lists_every_parameter_with_its_default() -> None:
    doc = (Path(__file__).parents[4] / "docs" / "operations" / "watchdogs.md").read_text()
    for name in WATCHDOG_NAMES:
        section = doc.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for param in parameter_docs(name):
            assert f"| `{param.name}` |" in section, f"{name}.{param.name} is missing from the doc"
            assert f"| `{json.dumps(param.default)}` |" in section, f"{name}.{param.name}: default differs"


def test_every_parameter_is_documented() -> None:
    for name in WATCHDOG_NAMES:
        docs = parameter_docs(name)
        assert [d.name for d in docs][:2] == ["for", "repeat_interval"]
        missing = [d.name for d in docs if not d.description]
        assert missing == [], f"{name}: undocumented {missing}"
