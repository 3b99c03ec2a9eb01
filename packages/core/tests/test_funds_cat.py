"""The CAT setup of a fund: defaults that report a proprietary fund, choices checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from mts1b_operations.core.funds import FundCompliance, FundsFileError, load_funds

_FUND = """\
funds:
  - fund_id: live-equities
    mode: live
    compliance:
      cat_enabled: true
      cat_subscriber_id: "ABCD12345"
{extra}"""


_AT = "funds[0].compliance."


def _load(tmp_path: Path, extra: str) -> FundCompliance:
    path = tmp_path / "funds.yaml"
    path.write_text(_FUND.format(extra=extra))
    return load_funds(path).fund("live-equities").compliance


def test_cat_defaults_describe_a_proprietary_fund() -> None:
    compliance = FundCompliance()
    assert (compliance.cat_dept_type, compliance.cat_account_holder_type) == ("T", "P")
    assert (compliance.cat_capacity, compliance.cat_initiator) == ("P", "F")
    assert compliance.cat_trading_session == "REG"
    assert compliance.cat_firm_designated_id is None
    assert compliance.cat_destinations == {}
    assert compliance.cat_route_session is None
    assert compliance.cat_file_group is None


def test_cat_setup_loads_from_yaml(tmp_path: Path) -> None:
    compliance = _load(
        tmp_path,
        "      cat_reporter_imid: FIRM\n"
        "      cat_reporter_crd: 12345\n"
        "      cat_dept_type: A\n"
        "      cat_account_holder_type: A\n"
        "      cat_firm_designated_id: FDID-0001\n"
        "      cat_destinations: {PAPER: NYSE, BROKER: '67890:BRKR'}\n"
        "      cat_route_session: SESS1\n"
        "      cat_file_group: Equities1\n",
    )
    assert compliance.cat_dept_type == "A"
    assert compliance.cat_firm_designated_id == "FDID-0001"
    assert compliance.cat_destinations == {"PAPER": "NYSE", "BROKER": "67890:BRKR"}
    assert compliance.cat_file_group == "Equities1"


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ("      cat_dept_type: Z\n", _AT + "cat_dept_type", "Expected 'A' | 'ATS'"),
        ("      cat_account_holder_type: Q\n", _AT + "cat_account_holder_type", "got 'Q'"),
        ("      cat_capacity: X\n", _AT + "cat_capacity", "got 'X'"),
        ("      cat_trading_session: LUNCH\n", _AT + "cat_trading_session", "got 'LUNCH'"),
        ("      cat_initiator: Z\n", _AT + "cat_initiator", "got 'Z'"),
        ("      cat_firm_designated_id: 'has space'\n", _AT + "cat_firm_designated_id", "regex"),
        (f"      cat_firm_designated_id: {'F' * 41}\n", _AT + "cat_firm_designated_id", "regex"),
        ("      cat_destinations: {PAPER: 'New York'}\n", _AT + "cat_destinations", "regex"),
        ("      cat_destinations: {PAPER: '12:x'}\n", _AT + "cat_destinations", "regex"),
        (f"      cat_route_session: {'S' * 41}\n", _AT + "cat_route_session", "length"),
        ("      cat_file_group: 'a_b'\n", _AT + "cat_file_group", "regex"),
    ],
)
def test_cat_setup_errors_name_the_field(tmp_path: Path, extra: str, field: str, fragment: str) -> None:
    with pytest.raises(FundsFileError) as caught:
        _load(tmp_path, extra)
    assert caught.value.field.startswith(field)
    assert fragment in caught.value.problem
