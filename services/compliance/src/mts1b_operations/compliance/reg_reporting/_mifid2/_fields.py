"""The RTS 22 fields this adapter fills, named by their auth.016.001.01 element path, and their checks.

Naming convention (used in records, problems and operator overrides alike): the XML element path
below ``Tx/New`` (or ``Tx/Cxl``) joined with dots, an attribute after ``@``; e.g. ``FinInstrm.Id``
(RTS 22 field 41, the ISIN), ``Tx.Pric.Pric.MntryVal.Amt@Ccy`` (field 34, the price currency).
One name, one place in the XML: an operator reading a rejection knows what to supply and where
it will land.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from mts1b_operations.core.funds import Mifid2TimestampGranularity

from .._identifiers import is_valid_country, is_valid_currency, is_valid_isin, is_valid_lei, is_valid_mic

__all__ = [
    "CANCEL_FIELDS",
    "NEW_FIELDS",
    "RtsField",
    "format_decimal",
    "format_trade_time",
]

Check = Callable[[str], str | None]
"""Returns what is wrong with a value, or ``None`` when it is well-formed."""


def _pattern(regex: str, what: str) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else f"{value!r} is not {what}"

    return check


def _lei(value: str) -> str | None:
    return None if is_valid_lei(value) else f"{value!r} is not a valid LEI (ISO 17442, 20 characters, mod 97)"


def _isin(value: str) -> str | None:
    return None if is_valid_isin(value) else f"{value!r} is not a valid ISIN (ISO 6166 check digit)"


def _mic(value: str) -> str | None:
    return None if is_valid_mic(value) else f"{value!r} is not a MIC (ISO 10383, 4 letters or digits)"


def _country(value: str) -> str | None:
    return None if is_valid_country(value) else f"{value!r} is not an ISO 3166-1 alpha-2 country code"


def _currency(value: str) -> str | None:
    return None if is_valid_currency(value) else f"{value!r} is not an ISO 4217 currency code"


def _one_of(*allowed: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in allowed else f"{value!r} is not one of {', '.join(allowed)}"

    return check


def _decimal(total_digits: int, fraction_digits: int) -> Check:
    """ISO 20022 decimal facets: no exponent, no sign, at most so many digits (and after the point)."""

    def check(value: str) -> str | None:
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
            return f"{value!r} is not a plain positive decimal number"
        try:
            number = Decimal(value)
        except InvalidOperation:
            return f"{value!r} is not a decimal number"
        if number <= 0:
            return f"{value!r} must be greater than zero"
        whole, _, fraction = value.partition(".")
        digits = len(whole.lstrip("0")) + len(fraction)
        if digits > total_digits or len(fraction) > fraction_digits:
            return f"{value!r} has more than {total_digits} digits or {fraction_digits} decimals"
        return None

    return check


_UTC_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def _utc_time(value: str) -> str | None:
    if not _UTC_TIME.fullmatch(value):
        return f"{value!r} is not an ISO 8601 UTC date time (YYYY-MM-DDThh:mm:ss[.ffffff]Z)"
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f"{value!r} is not a valid date time"
    return None


@dataclass(frozen=True, slots=True)
class RtsField:
    """One field: its element path, its RTS 22 Annex I number and name, and its format check."""

    path: str
    number: int
    name: str
    check: Check

    def missing(self) -> str:
        return f"is required (RTS 22 field {self.number}, {self.name})"


def _fields(*fields: RtsField) -> dict[str, RtsField]:
    return {f.path: f for f in fields}


_BOOL: Final = _one_of("true", "false")

NEW_FIELDS: Final = _fields(
    RtsField("TxId", 2, "transaction reference number", _pattern(r"[A-Z0-9]{1,52}", "1-52 of A-Z and 0-9")),
    RtsField("ExctgPty", 4, "executing entity identification code", _lei),
    RtsField("InvstmtPtyInd", 5, "investment firm covered by Directive 2014/65/EU", _BOOL),
    RtsField("SubmitgPty", 6, "submitting entity identification code", _lei),
    RtsField("Buyr.AcctOwnr.Id.LEI", 7, "buyer identification code", _lei),
    RtsField("Buyr.AcctOwnr.Id.MIC", 7, "buyer identification code", _mic),
    RtsField("Sellr.AcctOwnr.Id.LEI", 16, "seller identification code", _lei),
    RtsField("Sellr.AcctOwnr.Id.MIC", 16, "seller identification code", _mic),
    RtsField("OrdrTrnsmssn.TrnsmssnInd", 25, "transmission of order indicator", _BOOL),
    RtsField("Tx.TradDt", 28, "trading date time", _utc_time),
    RtsField("Tx.TradgCpcty", 29, "trading capacity", _one_of("DEAL", "MTCH", "AOTC")),
    RtsField("Tx.Qty.Unit", 30, "quantity", _decimal(18, 17)),
    RtsField("Tx.Pric.Pric.MntryVal.Amt", 33, "price", _decimal(18, 13)),
    RtsField("Tx.Pric.Pric.MntryVal.Amt@Ccy", 34, "price currency", _currency),
    RtsField("Tx.TradVn", 36, "venue", _mic),
    RtsField("Tx.CtryOfBrnch", 37, "country of the branch membership", _country),
    RtsField("FinInstrm.Id", 41, "instrument identification code (ISIN)", _isin),
    RtsField(
        "InvstmtDcsnPrsn.Algo",
        57,
        "investment decision within firm",
        _pattern(r"[A-Z0-9]{1,50}", "1-50 of A-Z and 0-9"),
    ),
    RtsField(
        "ExctgPrsn.Algo",
        59,
        "execution within firm",
        _pattern(r"[A-Z0-9]{1,50}", "1-50 of A-Z and 0-9"),
    ),
    RtsField(
        "AddtlAttrbts.ShrtSellgInd", 62, "short selling indicator", _one_of("SESH", "SSEX", "SELX", "UNDI")
    ),
    RtsField("AddtlAttrbts.SctiesFincgTxInd", 65, "securities financing transaction indicator", _BOOL),
)
"""In schema order: building the XML in this order yields the sequence auth.016.001.01 requires."""

CANCEL_FIELDS: Final = _fields(NEW_FIELDS["TxId"], NEW_FIELDS["ExctgPty"])


def format_decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros (``100``, ``190.5``): ISO 20022 has no exponents."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_trade_time(ts: datetime, granularity: Mifid2TimestampGranularity) -> str:
    """UTC, truncated (never rounded into the future) to the RTS 25 granularity."""
    utc = ts.astimezone(UTC)
    base = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if granularity == "microsecond":
        return f"{base}.{utc.microsecond:06d}Z"
    if granularity == "millisecond":
        return f"{base}.{utc.microsecond // 1000:03d}Z"
    return f"{base}Z"
