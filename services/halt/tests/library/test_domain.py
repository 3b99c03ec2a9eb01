"""The pure rules: validation against the registry, scopes, resume rules, wire payloads, KV keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.operators import Operator
from mts1b_operations.halt import HaltRequest, HaltValidationError, ResumeRefusedError, escape_id, kv_key
from mts1b_operations.halt.domain import (
    FIRM,
    ActorCheck,
    Halt,
    Refusal,
    Scope,
    check_actor_is_operator,
    check_cosigners,
    check_force,
    preflight_report,
    requested_event,
    resolve_scope,
    resumed_event,
    validate_request,
)

from .conftest import LIVE, LIVE_FLATTENABLE, ODD, PAPER, make_funds

FUNDS = make_funds()
NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def req(**fields: object) -> HaltRequest:
    base: dict[str, object] = {
        "severity": "FUND_HALT",
        "fund_id": PAPER,
        "reason": "daily PL -3.2% breached -3.0%",
        "requested_by": "mts1b-riskengine",
    }
    base.update(fields)
    return HaltRequest(**base)  # type: ignore[arg-type]


def field_of(request: HaltRequest) -> tuple[str, str]:
    with pytest.raises(HaltValidationError) as caught:
        validate_request(request, FUNDS)
    assert str(caught.value).startswith(f"{caught.value.field}: ")
    return caught.value.field, caught.value.problem


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"fund_id": "no-such-fund"}, "fund_id", "unknown fund 'no-such-fund'"),
        ({"fund_id": None}, "fund_id", "is required for a FUND_HALT"),
        ({"reason": ""}, "reason", "is required"),
        ({"reason": "   "}, "reason", "must not be blank"),
        ({"reason": None}, "reason", "is required"),
        ({"reason": "x" * 8193}, "reason", "at most 8192"),
        ({"requested_by": ""}, "requested_by", "is required"),
        ({"requested_by": "two words"}, "requested_by", "whitespace"),
        ({"severity": "WORLD_HALT"}, "severity", "expected one of"),
        ({"mode": "panic"}, "mode", "expected one of"),
        ({"strategy_id": "mom-us-eq"}, "strategy_id", "must be null for a FUND_HALT"),
        ({"severity": "FIRM_HALT"}, "fund_id", "must be null for a FIRM_HALT"),
        ({"severity": "STRATEGY_HALT", "fund_id": None}, "strategy_id", "is required for a STRATEGY_HALT"),
        (
            {"severity": "STRATEGY_HALT", "fund_id": None, "strategy_id": "ghost"},
            "strategy_id",
            "unknown strategy 'ghost'",
        ),
        (
            {"severity": "STRATEGY_HALT", "fund_id": LIVE, "strategy_id": "mom-us-eq"},
            "fund_id",
            "belongs to fund 'paper-momentum', not 'live-equities'",
        ),
        ({"fund_id": LIVE, "mode": "flatten"}, "mode", "live fund 'live-equities'"),
        (
            {"severity": "STRATEGY_HALT", "fund_id": None, "strategy_id": "stat-arb-1", "mode": "flatten"},
            "mode",
            "allow_live_flatten",
        ),
        ({"triggered_by_watchdog": "astrology"}, "triggered_by_watchdog", "not a watchdog kind"),
        ({"watchdog_subject_id": "x"}, "watchdog_subject_id", "without triggered_by_watchdog"),
        (
            {"severity": "FIRM_HALT", "fund_id": None, "triggered_by_watchdog": "dependency"},
            "watchdog_subject_id",
            "is required for a FIRM_HALT",
        ),
    ],
)
def test_a_bad_request_names_its_field(fields: dict[str, object], field: str, problem: str) -> None:
    got_field, got_problem = field_of(req(**fields))
    assert got_field == field
    assert problem in got_problem


def test_something_else_than_a_request_is_refused() -> None:
    with pytest.raises(HaltValidationError, match=r"^request: expected a HaltRequest, got dict"):
        validate_request({"severity": "FIRM_HALT"}, FUNDS)


def test_a_strategy_halt_gets_its_fund_from_the_registry() -> None:
    valid = validate_request(req(severity="STRATEGY_HALT", fund_id=None, strategy_id="mom-eu-eq"), FUNDS)
    assert valid.scope == Scope.strategy("mom-eu-eq", PAPER)
    assert valid.scope.key == "strategy.mom-eu-eq"
    assert valid.scope.severity == "STRATEGY_HALT"


def test_flatten_is_for_paper_funds_and_live_funds_that_allow_it() -> None:
    assert validate_request(req(mode="flatten"), FUNDS).mode == "flatten"
    assert validate_request(req(fund_id=LIVE_FLATTENABLE, mode="flatten"), FUNDS).mode == "flatten"
    firm = validate_request(req(severity="FIRM_HALT", fund_id=None, mode="flatten"), FUNDS)
    assert firm.scope == FIRM


def test_text_is_stripped_and_the_watchdog_normalised() -> None:
    valid = validate_request(
        req(reason="  breached  ", requested_by=" watchdog:vol_dd ", triggered_by_watchdog="watchdog:vol_dd"),
        FUNDS,
    )
    assert (valid.reason, valid.requested_by) == ("breached", "watchdog:vol_dd")
    assert (valid.triggered_by_watchdog, valid.watchdog_subject_id) == ("vol_dd", PAPER)


def test_scopes_cover_downwards_from_the_firm() -> None:
    strategy = Scope.strategy("mom-us-eq", PAPER)
    assert strategy.covering_keys() == ["firm", f"fund.{PAPER}", "strategy.mom-us-eq"]
    assert Scope.fund(LIVE).covering_keys() == ["firm", f"fund.{LIVE}"]
    assert FIRM.covering_keys() == ["firm"]
    with pytest.raises(ValueError, match="names its strategy"):
        Scope("strategy", PAPER)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "fund_id"),
        ({"firm": True, "fund_id": PAPER}, "firm"),
        ({"firm": "yes"}, "firm"),
        ({"fund_id": "nope"}, "fund_id"),
        ({"strategy_id": "nope"}, "strategy_id"),
        ({"fund_id": LIVE, "strategy_id": "mom-us-eq"}, "fund_id"),
    ],
)
def test_resolving_a_target_names_the_bad_argument(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(HaltValidationError) as caught:
        resolve_scope(FUNDS, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_status_of_nothing_is_the_firm() -> None:
    assert resolve_scope(FUNDS, default_firm=True) == FIRM
    assert resolve_scope(FUNDS, strategy_id="s~1=x") == Scope.strategy("s~1=x", ODD)


def test_kv_keys_keep_plain_ids_and_escape_the_rest() -> None:
    assert kv_key("firm") == "firm"
    assert kv_key(f"fund.{PAPER}") == "fund.paper-momentum"
    assert kv_key(f"fund.{ODD}") == "fund.desk=3Aeu=401"
    assert kv_key("strategy.s~1=x") == "strategy.s=7E1=3Dx"
    assert escape_id("a=b") != escape_id("a:b")


# ---------------------------------------------------------------- resume rules

ALICE = ActorCheck("operator:alice", True)
BOB = ActorCheck("operator:bob", True)
SERVICE = ActorCheck("service:risk", False, "'service:risk' is not an operator")


def test_any_resume_needs_an_operator_cosign() -> None:
    with pytest.raises(ResumeRefusedError) as caught:
        check_cosigners(Scope.fund(PAPER), cosigner=SERVICE, requester=None)
    assert caught.value.code == "cosigner_not_operator"
    assert caught.value.field == "cosigned_by"
    assert "only a registered operator" in caught.value.reason
    check_cosigners(Scope.fund(PAPER), cosigner=ALICE, requester=None)
    check_cosigners(Scope.fund(PAPER), cosigner=ALICE, requester=SERVICE)


@pytest.mark.parametrize(
    ("requester", "code"),
    [
        (None, "second_operator_required"),
        (ALICE, "second_operator_required"),
        (SERVICE, "requester_not_operator"),
    ],
)
def test_a_firm_resume_needs_two_distinct_operators(requester: ActorCheck | None, code: str) -> None:
    with pytest.raises(ResumeRefusedError) as caught:
        check_cosigners(FIRM, cosigner=ALICE, requester=requester)
    assert caught.value.code == code
    check_cosigners(FIRM, cosigner=ALICE, requester=BOB)


def _operator(role: str = "operator", **fields: object) -> Operator:
    return Operator(name="alice", role=role, created_at=NOW - timedelta(days=1), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actor", "found", "form", "problem"),
    [
        ("service:risk", None, False, "is not an operator (services, watchdogs"),
        ("watchdog:vol_dd", None, False, "is not an operator"),
        ("operator:Not Valid", None, False, "is not a valid operator name"),
        ("operator:alice", None, True, "is not a registered operator"),
        ("operator:alice", _operator(revoked_at=NOW - timedelta(hours=1)), True, "is revoked"),
        ("operator:alice", _operator(expires_at=NOW - timedelta(hours=1)), True, "is expired"),
        ("operator:alice", _operator("viewer"), True, "has role 'viewer'"),
    ],
)
def test_why_an_actor_cannot_cosign(actor: str, found: Operator | None, form: bool, problem: str) -> None:
    check = check_actor_is_operator(actor, registered=None, found=found, is_operator_form=form, now=NOW)
    assert not check.is_operator
    assert check.problem is not None
    assert problem in check.problem


def halt(**fields: object) -> Halt:
    base: dict[str, object] = {
        "halt_id": "h-1",
        "scope": f"fund.{PAPER}",
        "severity": "FUND_HALT",
        "mode": "block_new",
        "fund_id": PAPER,
        "strategy_id": None,
        "reason": "vol",
        "requested_by": "watchdog:vol_dd",
        "requested_at": NOW,
        "triggered_by_watchdog": "vol_dd",
        "watchdog_subject_id": PAPER,
    }
    base.update(fields)
    return Halt(**base)  # type: ignore[arg-type]


def test_preflight_demands_force_and_a_reason_while_the_watchdog_alerts() -> None:
    report = preflight_report(Scope.fund(PAPER), halt(), [], firing=True)
    assert report.needs_force
    assert report.watchdog_firing
    assert "vol_dd is still alerting" in report.message
    with pytest.raises(ResumeRefusedError) as no_force:
        check_force(report, force=False, reason="fixed")
    assert (no_force.value.code, no_force.value.field) == ("watchdog_alerting", "force")
    with pytest.raises(ResumeRefusedError) as no_reason:
        check_force(report, force=True, reason=None)
    assert no_reason.value.field == "reason"
    assert check_force(report, force=True, reason=" vol model was wrong ") == "vol model was wrong"
    calm = preflight_report(Scope.fund(PAPER), halt(), [], firing=False)
    assert not calm.needs_force
    assert check_force(calm, force=False, reason=None) is None


def test_preflight_reports_inherited_halts_and_the_firm_rule() -> None:
    firm = halt(halt_id="f-1", scope="firm", severity="FIRM_HALT", fund_id=None, triggered_by_watchdog=None)
    report = preflight_report(Scope.fund(PAPER), None, [firm], firing=False)
    assert report.halt is None
    assert report.inherited == [firm]
    assert "nothing to resume" in report.message
    assert "stays halted by FIRM_HALT f-1" in report.message
    assert preflight_report(FIRM, firm, [], firing=False).needs_two_operators


# ---------------------------------------------------------------- wire payloads


def test_events_decode_as_the_contract_types_and_keep_their_extras() -> None:
    h = halt(request_count=3)
    requested = requested_event(h, request_no=2, requested_by="svc:b", reason="again", requested_at=NOW)
    data = schemas.encode(requested)
    core = schemas.decode(data, schemas.HaltRequested)
    assert (core.halt_id, core.requested_by, core.reason, core.mode) == ("h-1", "svc:b", "again", "block_new")
    raw = msgspec.json.decode(data)
    assert raw["type"] == "HaltRequested"
    assert raw["request_no"] == 2
    assert raw["triggered_by_watchdog"] == "vol_dd"

    resumed = halt(
        active=False,
        resumed_at=NOW + timedelta(minutes=5),
        resumed_by="operator:alice",
        cosigned_by="operator:alice",
        resume_reason="fixed",
    )
    refusal = Refusal(
        refusal_id=1,
        action="resume",
        halt_id="h-1",
        scope=f"fund.{PAPER}",
        requested_by=None,
        cosigned_by="service:risk",
        code="cosigner_not_operator",
        field="cosigned_by",
        problem="not an operator",
        refused_at=NOW + timedelta(minutes=1),
    )
    data = schemas.encode(resumed_event(resumed, [refusal]))
    core_resumed = schemas.decode(data, schemas.HaltResumed)
    assert core_resumed.resumed_by == "operator:alice"
    assert core_resumed.cosigned_by is None
    raw = msgspec.json.decode(data)
    assert raw["type"] == "HaltResumed"
    assert raw["resume_reason"] == "fixed"
    assert [r["cosigned_by"] for r in raw["refusals"]] == ["service:risk"]
    with pytest.raises(ValueError, match="not resumed"):
        resumed_event(h)
