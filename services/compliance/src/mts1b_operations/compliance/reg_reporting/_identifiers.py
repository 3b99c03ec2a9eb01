"""Checks for the identifiers regulators key reports on: ISIN, LEI, MIC, country and currency codes.

A report with a mistyped identifier is rejected by the regulator days later; checking the check
digits here turns that into a rejected report the operator sees (and repairs) at once.
"""

from __future__ import annotations

import re
from typing import Final

from mts1b_operations.core.funds import is_valid_lei

__all__ = [
    "is_valid_country",
    "is_valid_currency",
    "is_valid_isin",
    "is_valid_lei",
    "is_valid_mic",
    "isin_check_digit",
]

_ISIN: Final = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]\Z")
_MIC: Final = re.compile(r"[A-Z0-9]{4}\Z")
_COUNTRY: Final = re.compile(r"[A-Z]{2}\Z")
_CURRENCY: Final = re.compile(r"[A-Z]{3}\Z")


def isin_check_digit(body: str) -> int:
    """The ISO 6166 check digit of an 11-character ISIN body (country code and NSIN).

    Letters become two digits (A=10 ... Z=35), then the Luhn algorithm runs over the digit string:
    from the right, every other digit starting with the rightmost is doubled.
    """
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return (10 - total % 10) % 10


def is_valid_isin(isin: str) -> bool:
    """ISO 6166: two letters, nine alphanumerics and a Luhn check digit over letters-as-numbers."""
    if not isinstance(isin, str) or not isin.isascii() or not _ISIN.match(isin):
        return False
    return isin_check_digit(isin[:11]) == int(isin[11])


def is_valid_mic(mic: str) -> bool:
    """ISO 10383 format: four upper-case letters or digits (``XOFF``/``XXXX`` included)."""
    return isinstance(mic, str) and mic.isascii() and _MIC.match(mic) is not None


def is_valid_country(code: str) -> bool:
    """ISO 3166-1 alpha-2 format: two upper-case letters."""
    return isinstance(code, str) and code.isascii() and _COUNTRY.match(code) is not None


def is_valid_currency(code: str) -> bool:
    """ISO 4217 format: three upper-case letters."""
    return isinstance(code, str) and code.isascii() and _CURRENCY.match(code) is not None
