"""OATS record layouts: the fields of each record type, in the delimited format's field order.

Source: FINRA, *OATS Reporting Technical Specifications*, chapter 5 "Data Reporting Formats" and
appendix C "Order Report Formats". The full specification text was not available to this
project; what was checked against FINRA's published excerpts is marked below, the rest follows
the specification's field names in the order of its 2004+ editions and is documented as such in
``docs/operations/compliance-oats-mifid2.md`` (OATS was retired in 2021 in favour of CAT).

- Verified (FINRA OATS Report, July 9, 2004, New Order Report format): every ROE starts with
  Record Type ``#OE#``, Order Event Type Code, Action Type Code, Firm ROE ID,
  Correction/Deletion Timestamp, Rejected ROE Resubmit Flag, Order Receiving Firm MPID,
  Order Receiving Firm Order Received Date, Order Receiving Firm Order ID; then (New Order)
  Routing Firm MPID.
- Verified (FINRA OATS Report, November 2, 1999): a Route record ends with Routing Method Code
  and Bunched Order Indicator, and a record must not end with an extra delimiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CANCEL",
    "EXECUTION",
    "HEADER",
    "LAYOUTS",
    "NEW_ORDER",
    "ROUTE",
    "TRAILER",
    "FieldKind",
    "OatsField",
    "RecordLayout",
]

FieldKind = Literal["alphanumeric", "numeric", "timestamp", "date", "price", "quantity"]


@dataclass(frozen=True, slots=True)
class OatsField:
    """One field: its name in the specification, its data type, maximum length and M/C status."""

    name: str
    kind: FieldKind
    length: int
    mandatory: bool


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """A record type: its Order Event Type Code (``NW``...), its name and its fields in order."""

    code: str
    name: str
    fields: tuple[OatsField, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> OatsField | None:
        return next((f for f in self.fields if f.name == name), None)


def _m(name: str, kind: FieldKind, length: int) -> OatsField:
    return OatsField(name, kind, length, mandatory=True)


def _c(name: str, kind: FieldKind, length: int) -> OatsField:
    return OatsField(name, kind, length, mandatory=False)


_TS: Final = 17
"""YYYYMMDDHHMMSSCCC: Eastern Time to the millisecond (the granularity FINRA required from 2017)."""

_ROE_PREFIX: Final = (
    _m("Record Type", "alphanumeric", 4),
    _m("Order Event Type Code", "alphanumeric", 2),
    _m("Action Type Code", "alphanumeric", 1),
    _c("Firm ROE ID", "alphanumeric", 12),
    _c("Correction/Deletion Timestamp", "timestamp", _TS),
    _c("Rejected ROE Resubmit Flag", "alphanumeric", 1),
    # Conditional in the spec (it may come from the header); always sent here, so required.
    _m("Order Receiving Firm MPID", "alphanumeric", 4),
    _m("Order Receiving Firm Order Received Date", "timestamp", _TS),
    _m("Order Receiving Firm Order ID", "alphanumeric", 20),
)

NEW_ORDER: Final = RecordLayout(
    "NW",
    "New Order Report",
    (
        *_ROE_PREFIX,
        _c("Routing Firm MPID", "alphanumeric", 4),
        _c("Routed Order ID", "alphanumeric", 20),
        _m("Issue Symbol ID", "alphanumeric", 14),
        _m("Buy/Sell Code", "alphanumeric", 2),
        _m("Shares Quantity", "quantity", 18),
        _c("Limit Price", "price", 18),
        _c("Stop Price", "price", 18),
        _c("Time in Force Code", "alphanumeric", 14),
        _c("Expiration Date", "date", 8),
        _c("Do Not Reduce/Do Not Increase Code", "alphanumeric", 3),
        _c("Special Handling Code 1", "alphanumeric", 3),
        _c("Special Handling Code 2", "alphanumeric", 3),
        _c("Special Handling Code 3", "alphanumeric", 3),
        _c("Special Handling Code 4", "alphanumeric", 3),
        _c("Special Handling Code 5", "alphanumeric", 3),
        _c("Receiving Terminal ID", "alphanumeric", 12),
        _m("Receiving Department ID", "alphanumeric", 1),
        _c("Originating Department ID", "alphanumeric", 1),
        _m("Account Type Code", "alphanumeric", 1),
        _m("Program Trading Code", "alphanumeric", 1),
        _m("Arbitrage Code", "alphanumeric", 1),
    ),
)

ROUTE: Final = RecordLayout(
    "RT",
    "Route Report",
    (
        *_ROE_PREFIX,
        _m("Sent to Firm MPID", "alphanumeric", 4),
        _m("Routed Order ID", "alphanumeric", 20),
        _m("Issue Symbol ID", "alphanumeric", 14),
        _m("Order Sent Timestamp", "timestamp", _TS),
        _m("Routed Shares Quantity", "quantity", 18),
        _m("Routing Method Code", "alphanumeric", 1),
        _c("Bunched Order Indicator", "alphanumeric", 1),
    ),
)

EXECUTION: Final = RecordLayout(
    "EX",
    "Execution Report",
    (
        *_ROE_PREFIX,
        _m("Execution Timestamp", "timestamp", _TS),
        _c("Branch/Sequence Number", "alphanumeric", 8),
        _m("Execution Quantity", "quantity", 18),
        _c("Trader Terminal ID", "alphanumeric", 12),
        _m("Issue Symbol ID", "alphanumeric", 14),
        _m("Execution Price", "price", 18),
        _m("Capacity Code", "alphanumeric", 1),
    ),
)

CANCEL: Final = RecordLayout(
    "CL",
    "Cancel Report",
    (
        *_ROE_PREFIX,
        _m("Issue Symbol ID", "alphanumeric", 14),
        _m("Cancel Timestamp", "timestamp", _TS),
        _m("Cancel Type Flag", "alphanumeric", 1),
        _c("Canceled Quantity", "quantity", 18),
        _c("Canceled By Flag", "alphanumeric", 1),
    ),
)

HEADER: Final = RecordLayout(
    "HD",
    "Header Record",
    (
        _m("Record Type", "alphanumeric", 4),
        _m("Version Description", "alphanumeric", 20),
        _m("Generation Date", "date", 8),
        _m("Submission Number", "numeric", 6),
        _c("User ID", "alphanumeric", 8),
        _c("Password", "alphanumeric", 12),
        _c("Reporting OSO ID", "alphanumeric", 12),
        _m("Order Receiving Firm MPID", "alphanumeric", 4),
    ),
)

TRAILER: Final = RecordLayout(
    "TR",
    "Trailer Record",
    (
        _m("Record Type", "alphanumeric", 4),
        _m("Order Event Count", "numeric", 8),
    ),
)

LAYOUTS: Final = {layout.code: layout for layout in (NEW_ORDER, ROUTE, EXECUTION, CANCEL)}
"""The order event records, by Order Event Type Code."""
