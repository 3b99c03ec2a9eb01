"""The funds registry: the example file loads, and every rule names the file and the field."""

from __future__ import annotations

import string
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mts1b_operations.core.funds import (
    EXAMPLE_FUNDS_FILE,
    Fund,
    FundCompliance,
    FundsError,
    FundsFileError,
    FundsRegistry,
    UnknownFundError,
    UnknownStrategyError,
    is_valid_lei,
    load_funds,
)

VALID_LEI = "5493001KJTIIGC8Y1R12"  # a published LEI (Bloomberg Finance L.P.)


def _lei(prefix: str) -> str:
    """Append ISO 7064 mod 97-10 check digits to an 18-character prefix."""
    remainder = int("".join(str(int(ch, 36)) for ch in prefix + "00")) % 97
    return f"{prefix}{98 - remainder:02d}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "funds.yaml"
    path.write_text(text)
    return path


def _load_error(tmp_path: Path, text: str) -> FundsFileError:
    path = _write(tmp_path, text)
    with pytest.raises(FundsFileError) as caught:
        load_funds(path)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


# ---------------------------------------------------------------- the example registry


def test_example_file_loads() -> None:
    registry = load_funds(EXAMPLE_FUNDS_FILE)
    assert [f.fund_id for f in registry] == ["paper-momentum", "paper-meanrev", "live-equities"]
    assert [f.fund_id for f in registry.paper_funds()] == ["paper-momentum", "paper-meanrev"]
    assert [f.fund_id for f in registry.live_funds()] == ["live-equities"]
    assert registry.all_strategies() == ("mom-us-eq", "mom-eu-eq", "mr-us-eq", "stat-arb-1")

    momentum = registry.fund("paper-momentum")
    assert momentum.mode == "paper"
    assert momentum.is_paper
    assert not momentum.is_live
    assert momentum.vol_target == 0.12
    assert momentum.compliance == FundCompliance()

    live = registry.fund_of_strategy("stat-arb-1")
    assert live.fund_id == "live-equities"
    assert live.is_live
    assert live.allow_live_flatten is False
    assert live.compliance.cat_enabled is True
    assert live.compliance.cat_subscriber_id == "ABCD12345"
    assert live.compliance.oats_enabled is False
    assert live.compliance.mifid2_enabled is False


def test_lookups() -> None:
    registry = load_funds(EXAMPLE_FUNDS_FILE)
    assert registry.fund_of_strategy("mr-us-eq") is registry.fund("paper-meanrev")
    assert "live-equities" in registry
    assert "live-futures" not in registry
    assert len(registry) == 3
    with pytest.raises(UnknownFundError) as unknown_fund:
        registry.fund("live-futures")
    assert unknown_fund.value.fund_id == "live-futures"
    assert str(unknown_fund.value) == "unknown fund 'live-futures'"
    assert isinstance(unknown_fund.value, KeyError)
    with pytest.raises(UnknownStrategyError, match="no fund runs strategy 'vol-carry'") as unknown_strategy:
        registry.fund_of_strategy("vol-carry")
    assert isinstance(unknown_strategy.value, KeyError)


def test_defaults_turn_everything_off() -> None:
    compliance = FundCompliance()
    assert compliance.cat_enabled is False
    assert compliance.oats_enabled is False
    assert compliance.mifid2_enabled is False
    assert compliance.cat_subscriber_id is None
    fund = msgspec.convert({"fund_id": "f", "mode": "live"}, Fund)
    assert fund.strategies == []
    assert fund.vol_target is None
    assert fund.drawdown_limit is None
    assert fund.allow_live_flatten is False
    assert fund.compliance == FundCompliance()


def test_empty_registry(tmp_path: Path) -> None:
    for registry in (FundsRegistry.empty(), load_funds(_write(tmp_path, "funds: []\n"))):
        assert len(registry) == 0
        assert registry.paper_funds() == ()
        assert registry.live_funds() == ()
        assert registry.all_strategies() == ()
        with pytest.raises(UnknownFundError):
            registry.fund("paper-momentum")
    assert FundsRegistry.empty() == FundsRegistry()


def test_a_registry_built_in_code_is_validated() -> None:
    good = FundsRegistry([Fund(fund_id="a", mode="paper", strategies=["s1"])])
    assert good.fund_of_strategy("s1").fund_id == "a"
    with pytest.raises(FundsError) as caught:
        FundsRegistry([Fund(fund_id="a", mode="paper"), Fund(fund_id="b", mode="demo")])  # type: ignore[arg-type]
    assert caught.value.field == "funds[1].mode"
    assert str(caught.value) == "funds[1].mode: Expected 'paper' | 'live', got 'demo'"
    with pytest.raises(FundsError, match=r"^funds\[1\]\.fund_id: duplicate fund_id 'a' \(also funds\[0\]\)"):
        FundsRegistry([Fund(fund_id="a", mode="paper"), Fund(fund_id="a", mode="live")])


def test_a_fund_id_is_checked_on_construction() -> None:
    with pytest.raises(ValueError, match=r"^fund_id: 'a b' is not a valid subject token"):
        Fund(fund_id="a b", mode="paper")


# ---------------------------------------------------------------- a bad file names the file and the field


def test_the_contract_example_message(tmp_path: Path) -> None:
    error = _load_error(
        tmp_path,
        "funds:\n  - {fund_id: a, mode: paper}\n  - {fund_id: b, mode: demo}\n",
    )
    assert str(error) == f"{tmp_path / 'funds.yaml'}: funds[1].mode: Expected 'paper' | 'live', got 'demo'"
    assert error.field == "funds[1].mode"
    assert isinstance(error, FundsError)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("funds:\n  - {mode: paper}\n", "funds[0].fund_id", "required field is missing"),
        ("funds:\n  - {fund_id: a}\n", "funds[0].mode", "required field is missing"),
        ("funds:\n  - {fund_id: 17, mode: paper}\n", "funds[0].fund_id", "Expected `str`, got `int`"),
        (
            "funds:\n  - {fund_id: a.b, mode: paper}\n",
            "funds[0].fund_id",
            "'a.b' is not a valid subject token",
        ),
        ("funds:\n  - {fund_id: '', mode: paper}\n", "funds[0].fund_id", "is not a valid subject token"),
        (
            "funds:\n  - {fund_id: a, mode: paper, strategies: [ok, 'not ok']}\n",
            "funds[0].strategies[1]",
            "'not ok' is not a valid subject token",
        ),
        (
            "funds:\n  - {fund_id: a, mode: paper, strategies: s1}\n",
            "funds[0].strategies",
            "Expected `array`",
        ),
        (
            "funds:\n  - {fund_id: a, mode: paper, strategies: [s1, s2, s1]}\n",
            "funds[0].strategies[2]",
            "'s1' is listed twice",
        ),
        (
            "funds:\n  - {fund_id: a, mode: paper}\n  - {fund_id: b, mode: live}\n"
            "  - {fund_id: a, mode: live}\n",
            "funds[2].fund_id",
            "duplicate fund_id 'a' (also funds[0])",
        ),
        (
            "funds:\n  - {fund_id: a, mode: paper, strategies: [s1]}\n"
            "  - {fund_id: b, mode: live, strategies: [s2, s1]}\n",
            "funds[1].strategies[1]",
            "strategy 's1' already belongs to fund 'a'",
        ),
        ("funds:\n  - {fund_id: a, mode: paper, vol_target: 12}\n", "funds[0].vol_target", "<= 1.0"),
        ("funds:\n  - {fund_id: a, mode: paper, vol_target: 0}\n", "funds[0].vol_target", "> 0.0"),
        ("funds:\n  - {fund_id: a, mode: paper, drawdown_limit: -0.1}\n", "funds[0].drawdown_limit", "> 0.0"),
        (
            "funds:\n  - {fund_id: a, mode: live, allow_live_flatten: maybe}\n",
            "funds[0].allow_live_flatten",
            "Expected `bool`, got `str`",
        ),
        (
            "funds:\n  - {fund_id: a, mode: paper, volume_target: 0.1}\n",
            "funds[0].volume_target",
            "unknown field",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {cat_enable: true}}\n",
            "funds[0].compliance.cat_enable",
            "unknown field",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {cat_enabled: true}}\n",
            "funds[0].compliance.cat_subscriber_id",
            "is required when cat_enabled is true",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: "
            "{cat_enabled: true, cat_subscriber_id: ab-12}}\n",
            "funds[0].compliance.cat_subscriber_id",
            "matching regex",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {cat_reporter_imid: TOOLONG1}}\n",
            "funds[0].compliance.cat_reporter_imid",
            "matching regex",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {cat_reporter_crd: 0}}\n",
            "funds[0].compliance.cat_reporter_crd",
            ">= 1",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {oats_enabled: true}}\n",
            "funds[0].compliance.oats_firm_mpid",
            "is required when oats_enabled is true",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {oats_enabled: true, oats_firm_mpid: AB1}}\n",
            "funds[0].compliance.oats_firm_mpid",
            "matching regex",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {mifid2_enabled: true}}\n",
            "funds[0].compliance.mifid2_executing_entity_lei",
            "is required when mifid2_enabled is true",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: "
            "{mifid2_enabled: true, mifid2_executing_entity_lei: 5493001KJTIIGC8Y1R13}}\n",
            "funds[0].compliance.mifid2_executing_entity_lei",
            "'5493001KJTIIGC8Y1R13' is not a valid LEI",
        ),
        (
            "funds:\n  - {fund_id: a, mode: live, compliance: {mifid2_executing_entity_lei: SHORT}}\n",
            "funds[0].compliance.mifid2_executing_entity_lei",
            "is not a valid LEI",
        ),
        ("funds:\n  - {fund_id: a, mode: paper}\nextra: 1\n", "extra", "unknown field"),
        ("fund:\n  - {fund_id: a, mode: paper}\n", "fund", "unknown field"),
        ("{}\n", "funds", "required field is missing"),
        ("funds: {fund_id: a, mode: paper}\n", "funds", "Expected `array`, got `object`"),
        ("- {fund_id: a, mode: paper}\n", "", "Expected `object`, got `array`"),
    ],
)
def test_bad_file_names_the_field(tmp_path: Path, text: str, field: str, problem: str) -> None:
    error = _load_error(tmp_path, text)
    assert error.field == field
    assert problem in error.problem
    prefix = f"{tmp_path / 'funds.yaml'}: {field}: " if field else f"{tmp_path / 'funds.yaml'}: "
    assert str(error).startswith(prefix)
    assert "\n" not in str(error)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(FundsFileError) as caught:
        load_funds(path)
    assert str(caught.value) == f"{path}: cannot read the funds file: No such file or directory"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    error = _load_error(tmp_path, "funds:\n  - fund_id: a\n    mode: [paper\n")
    assert "not valid YAML: line 4" in str(error)


def test_empty_file(tmp_path: Path) -> None:
    assert "the file is empty" in str(_load_error(tmp_path, "# nothing here\n"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "funds.yaml"
    path.write_bytes(b"funds:\n  - {fund_id: \xff, mode: paper}\n")
    with pytest.raises(FundsFileError, match="cannot read the funds file"):
        load_funds(path)


def test_all_compliance_fields_load(tmp_path: Path) -> None:
    lei = _lei("529900T8BM49AURSDO")
    registry = load_funds(
        _write(
            tmp_path,
            "funds:\n"
            "  - fund_id: live-eu\n"
            "    mode: live\n"
            "    allow_live_flatten: true\n"
            "    drawdown_limit: 0.2\n"
            "    compliance:\n"
            "      cat_enabled: true\n"
            "      cat_subscriber_id: ABCD12345\n"
            "      cat_submitter_id: '140000'\n"
            "      cat_reporter_imid: MTSB\n"
            "      cat_reporter_crd: 123456\n"
            "      oats_enabled: true\n"
            "      oats_firm_mpid: MTSB\n"
            "      mifid2_enabled: true\n"
            f"      mifid2_executing_entity_lei: {lei}\n",
        )
    )
    fund = registry.fund("live-eu")
    assert fund.allow_live_flatten
    assert fund.drawdown_limit == 0.2
    assert fund.compliance == FundCompliance(
        cat_enabled=True,
        cat_subscriber_id="ABCD12345",
        cat_submitter_id="140000",
        cat_reporter_imid="MTSB",
        cat_reporter_crd=123456,
        oats_enabled=True,
        oats_firm_mpid="MTSB",
        mifid2_enabled=True,
        mifid2_executing_entity_lei=lei,
    )


# ---------------------------------------------------------------- LEI check digits

lei_prefixes = st.text(alphabet=string.digits + string.ascii_uppercase, min_size=18, max_size=18)


def test_known_leis() -> None:
    assert is_valid_lei(VALID_LEI)
    assert _lei(VALID_LEI[:18]) == VALID_LEI
    assert not is_valid_lei(VALID_LEI.lower())
    assert not is_valid_lei(VALID_LEI[:19])
    assert not is_valid_lei(VALID_LEI + "0")
    assert not is_valid_lei(VALID_LEI[:18] + "1A")
    assert not is_valid_lei("5493001KJTIIGC8Y1R1٢")  # a non-ASCII digit


@given(lei_prefixes)
def test_computed_check_digits_are_valid(prefix: str) -> None:
    assert is_valid_lei(_lei(prefix))


@given(lei_prefixes, st.integers(min_value=0, max_value=19), st.integers(min_value=0, max_value=25))
def test_a_single_changed_character_is_caught(prefix: str, position: int, pick: int) -> None:
    lei = _lei(prefix)
    # ISO 7064 mod 97-10 catches any substitution of a digit by a digit or a letter by a letter.
    alphabet = string.digits if lei[position].isdigit() else string.ascii_uppercase
    changed = lei[:position] + alphabet[pick % len(alphabet)] + lei[position + 1 :]
    assert is_valid_lei(changed) == (changed == lei)
