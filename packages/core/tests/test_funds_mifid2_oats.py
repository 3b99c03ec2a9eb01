"""The MiFID II and OATS fields of a fund's compliance setup: defaults, and checks naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mts1b_operations.core.funds import FundCompliance, FundsFileError, load_funds

EXECUTING_LEI = "7LTWFZYICNSX8D621K86"  # Deutsche Bank AG
CLIENT_LEI = "5493001KJTIIGC8Y1R12"  # Bloomberg Finance L.P.


def _load_error(tmp_path: Path, compliance: str) -> FundsFileError:
    path = tmp_path / "funds.yaml"
    path.write_text(f"funds:\n  - fund_id: eu\n    mode: live\n    compliance: {compliance}\n")
    with pytest.raises(FundsFileError) as caught:
        load_funds(path)
    assert str(caught.value).startswith(f"{path}: funds[0].compliance.")
    return caught.value


def test_defaults() -> None:
    setup = FundCompliance()
    assert setup.mifid2_trading_capacity == "DEAL"
    assert setup.mifid2_timestamp_granularity == "millisecond"
    assert setup.mifid2_submitting_entity_lei is None
    assert setup.mifid2_buyer_seller_lei is None
    assert setup.mifid2_branch_country is None
    assert setup.mifid2_competent_authority is None
    assert setup.mifid2_investment_decision_algo is None
    assert setup.mifid2_execution_algo is None
    assert (setup.oats_account_type_code, setup.oats_receiving_department_id, setup.oats_capacity_code) == (
        "P",
        "T",
        "P",
    )
    assert setup.oats_reporting_oso_id is None


def test_a_full_setup_loads(tmp_path: Path) -> None:
    path = tmp_path / "funds.yaml"
    path.write_text(
        "funds:\n  - fund_id: eu\n    mode: live\n    compliance:\n"
        f"      mifid2_enabled: true\n      mifid2_executing_entity_lei: {EXECUTING_LEI}\n"
        f"      mifid2_submitting_entity_lei: {CLIENT_LEI}\n      mifid2_buyer_seller_lei: {CLIENT_LEI}\n"
        "      mifid2_branch_country: DE\n      mifid2_competent_authority: DE\n"
        "      mifid2_investment_decision_algo: STATARB1\n      mifid2_execution_algo: SOR2\n"
        "      mifid2_trading_capacity: AOTC\n      mifid2_timestamp_granularity: microsecond\n"
        "      oats_enabled: true\n      oats_firm_mpid: ABCD\n      oats_reporting_oso_id: CLEAR01\n"
        "      oats_account_type_code: A\n      oats_receiving_department_id: A\n"
        "      oats_capacity_code: A\n"
    )
    setup = load_funds(path).fund("eu").compliance
    assert setup.mifid2_trading_capacity == "AOTC"
    assert setup.mifid2_timestamp_granularity == "microsecond"
    assert setup.mifid2_buyer_seller_lei == CLIENT_LEI
    assert setup.oats_reporting_oso_id == "CLEAR01"


@pytest.mark.parametrize("field", ["mifid2_submitting_entity_lei", "mifid2_buyer_seller_lei"])
def test_an_lei_with_bad_check_digits_names_the_field(tmp_path: Path, field: str) -> None:
    error = _load_error(tmp_path, f"{{{field}: 7LTWFZYICNSX8D621K87}}")
    assert error.field == f"funds[0].compliance.{field}"
    assert "ISO 17442" in error.problem


@pytest.mark.parametrize(
    ("compliance", "field"),
    [
        ("{mifid2_branch_country: deu}", "mifid2_branch_country"),
        ("{mifid2_competent_authority: D}", "mifid2_competent_authority"),
        ("{mifid2_investment_decision_algo: stat-arb-1}", "mifid2_investment_decision_algo"),
        ("{mifid2_execution_algo: ''}", "mifid2_execution_algo"),
        ("{mifid2_trading_capacity: PRIN}", "mifid2_trading_capacity"),
        ("{mifid2_timestamp_granularity: nanosecond}", "mifid2_timestamp_granularity"),
        ("{oats_account_type_code: Z}", "oats_account_type_code"),
        ("{oats_reporting_oso_id: 'a b'}", "oats_reporting_oso_id"),
    ],
)
def test_malformed_values_name_the_field(tmp_path: Path, compliance: str, field: str) -> None:
    assert _load_error(tmp_path, compliance).field == f"funds[0].compliance.{field}"


def test_agency_trading_needs_the_clients_lei(tmp_path: Path) -> None:
    error = _load_error(tmp_path, "{mifid2_trading_capacity: AOTC}")
    assert error.field == "funds[0].compliance.mifid2_buyer_seller_lei"
    assert "AOTC" in error.problem
