"""ISIN, LEI, MIC, country and currency checks against real identifiers and corrupted ones."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mts1b_operations.compliance.reg_reporting._identifiers import (
    is_valid_country,
    is_valid_currency,
    is_valid_isin,
    is_valid_lei,
    is_valid_mic,
    isin_check_digit,
)

REAL_ISINS = {
    "US0378331005": "Apple Inc.",
    "US5949181045": "Microsoft Corporation",
    "US67066G1040": "NVIDIA Corporation",
    "US88160R1014": "Tesla Inc.",
    "US78462F1030": "SPDR S&P 500 ETF Trust",
    "DE0007164600": "SAP SE",
    "GB0002634946": "BAE Systems plc",
    "FR0000120271": "TotalEnergies SE",
    "NL0010273215": "ASML Holding N.V.",
}

REAL_LEIS = {
    "HWUPKR0MPOU8FGXBT394": "Apple Inc.",
    "INR2EJN1ERAN0W5ZP974": "Microsoft Corporation",
    "7LTWFZYICNSX8D621K86": "Deutsche Bank AG",
    "5493001KJTIIGC8Y1R12": "Bloomberg Finance L.P.",
}


@pytest.mark.parametrize("isin", sorted(REAL_ISINS))
def test_real_isins_are_valid(isin: str) -> None:
    assert is_valid_isin(isin)
    assert isin_check_digit(isin[:11]) == int(isin[11])


@pytest.mark.parametrize("isin", sorted(REAL_ISINS))
def test_every_other_check_digit_is_refused(isin: str) -> None:
    wrong = [isin[:11] + d for d in string.digits if d != isin[11]]
    assert len(wrong) == 9
    assert not any(is_valid_isin(candidate) for candidate in wrong)


@pytest.mark.parametrize(
    "isin",
    [
        "US0378331006",  # Apple with the wrong check digit
        "US0387331005",  # two digits transposed
        "us0378331005",  # lower case
        "US037833100",  # too short
        "US03783310055",  # too long
        "1S0378331005",  # country code must be letters
        "US037833100X",  # check digit must be a digit
        "US 378331005",
        "",
    ],
)
def test_corrupted_isins_are_refused(isin: str) -> None:
    assert not is_valid_isin(isin)


@given(
    body=st.text(alphabet=string.digits, min_size=9, max_size=9),
    position=st.integers(min_value=2, max_value=10),
    shift=st.integers(min_value=1, max_value=9),
)
def test_the_check_digit_catches_any_single_digit_error(body: str, position: int, shift: int) -> None:
    isin = f"US{body}"
    full = f"{isin}{isin_check_digit(isin)}"
    assert is_valid_isin(full)
    corrupted_digit = str((int(full[position]) + shift) % 10)
    corrupted = full[:position] + corrupted_digit + full[position + 1 :]
    assert not is_valid_isin(corrupted)


@pytest.mark.parametrize("lei", sorted(REAL_LEIS))
def test_real_leis_are_valid(lei: str) -> None:
    assert is_valid_lei(lei)


@pytest.mark.parametrize("lei", sorted(REAL_LEIS))
def test_corrupted_leis_are_refused(lei: str) -> None:
    last = lei[-1]
    assert not is_valid_lei(lei[:-1] + ("0" if last != "0" else "1"))
    assert not is_valid_lei(lei[:-1])
    assert not is_valid_lei(lei.lower())
    assert not is_valid_lei(lei[1] + lei[0] + lei[2:])


@pytest.mark.parametrize(
    ("mic", "valid"),
    [
        ("XNAS", True),
        ("XOFF", True),
        ("XXXX", True),
        ("ARCX", True),
        ("xnas", False),
        ("XNA", False),
        ("PAPER", False),
        ("XN-S", False),
    ],
)
def test_mic_format(mic: str, valid: bool) -> None:
    assert is_valid_mic(mic) is valid


def test_country_and_currency_formats() -> None:
    assert is_valid_country("DE")
    assert is_valid_country("US")
    assert not is_valid_country("DEU")
    assert not is_valid_country("de")
    assert not is_valid_country("D1")
    assert is_valid_currency("USD")
    assert is_valid_currency("EUR")
    assert not is_valid_currency("US")
    assert not is_valid_currency("usd")
    assert not is_valid_currency("US1")
