"""From an order event to an OATS record: field values, checks and the delimited line.

Values are strings keyed by the specification's field names; an operator's overrides use the
same names and win. Nothing raises for missing data: each gap is a :class:`FieldProblem`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

from .._model import FieldProblem
from ._layouts import LAYOUTS, OatsField, RecordLayout

__all__ = [
    "DELIMITER",
    "EASTERN",
    "EVENT_CODES",
    "Record",
    "build_record",
    "check_value",
    "eastern_timestamp",
    "firm_roe_id",
    "render_line",
]

Record = dict[str, str]

DELIMITER: Final = ","
EASTERN: Final = ZoneInfo("America/New_York")
EVENT_CODES: Final = {"new": "NW", "routed": "RT", "filled": "EX", "canceled": "CL"}
"""Order event → Order Event Type Code; ``accepted`` and ``modified`` have no record here."""

_BUY_SELL: Final = {"buy": "B", "sell": "SL", "sell_short": "SS"}


def eastern_timestamp(ts: datetime) -> str:
    """YYYYMMDDHHMMSSCCC in Eastern Time, truncated to the millisecond."""
    local = ts.astimezone(EASTERN)
    return f"{local:%Y%m%d%H%M%S}{local.microsecond // 1000:03d}"


def firm_roe_id(event: OrderEvent, code: str) -> str:
    """12 characters of base32 SHA-256 over fund, event and record type: the same event, the same id."""
    digest = hashlib.sha256(f"oats\x1f{event.fund_id}\x1f{event.event_id}\x1f{code}".encode()).digest()
    return base64.b32encode(digest).decode()[:12]


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _time_in_force(event: OrderEvent) -> tuple[str | None, list[str]]:
    """The Time in Force Code and the special handling codes that carry the rest of the instruction."""
    market = event.order_type == "market"
    match event.time_in_force:
        case "day":
            return f"DAY={event.ts.astimezone(EASTERN):%Y%m%d}", []
        case "gtc":
            return "GTC", []
        case "ioc":
            return None, ["IOC"]
        case "fok":
            return None, ["FOK"]
        case "opg":
            return None, ["MKO" if market else "LOO"]
        case "cls":
            return None, ["MOC" if market else "LOC"]
    return None, []


def _derive(event: OrderEvent, fund: Fund, layout: RecordLayout) -> dict[str, str | None]:
    setup = fund.compliance
    when = eastern_timestamp(event.ts)
    values: dict[str, str | None] = {
        "Record Type": "#OE#",
        "Order Event Type Code": layout.code,
        "Action Type Code": "N",
        "Firm ROE ID": firm_roe_id(event, layout.code),
        "Order Receiving Firm MPID": setup.oats_firm_mpid,
        # The order's receipt time: exact on the New Order; later events carry only their own time.
        "Order Receiving Firm Order Received Date": when,
        "Order Receiving Firm Order ID": event.order_id,
        "Issue Symbol ID": event.symbol,
    }
    if layout.code == "NW":
        tif, handling = _time_in_force(event)
        values |= {
            "Buy/Sell Code": _BUY_SELL[event.side],
            "Shares Quantity": _decimal(event.quantity),
            "Limit Price": _decimal(event.limit_price) if event.limit_price is not None else None,
            "Time in Force Code": tif,
            "Receiving Department ID": setup.oats_receiving_department_id,
            "Account Type Code": setup.oats_account_type_code,
            "Program Trading Code": "N",
            "Arbitrage Code": "N",
        }
        values |= {f"Special Handling Code {i}": code for i, code in enumerate(handling, start=1)}
    elif layout.code == "RT":
        venue = event.venue
        values |= {
            "Sent to Firm MPID": venue if venue is not None and re.fullmatch(r"[A-Z]{4}", venue) else None,
            "Routed Order ID": event.order_id,
            "Order Sent Timestamp": when,
            "Routed Shares Quantity": _decimal(event.quantity),
            "Routing Method Code": "E",
        }
    elif layout.code == "EX":
        values |= {
            "Execution Timestamp": when,
            "Execution Quantity": _decimal(event.fill_quantity) if event.fill_quantity is not None else None,
            "Execution Price": _decimal(event.fill_price) if event.fill_price is not None else None,
            "Capacity Code": setup.oats_capacity_code,
        }
    elif layout.code == "CL":
        values |= {"Cancel Timestamp": when, "Cancel Type Flag": "F", "Canceled By Flag": "F"}
    return values


_NUMBER: Final = re.compile(r"[0-9]+(\.[0-9]+)?")


def check_value(spec: OatsField, value: str) -> str | None:
    """What is wrong with ``value`` for ``spec``, or ``None``."""
    if DELIMITER in value or "\n" in value or "\r" in value:
        return f"{value!r} contains the delimiter or an end of record"
    if not value.isascii() or not value.isprintable():
        return f"{value!r} is not printable ASCII"
    if spec.kind == "timestamp":
        ok = re.fullmatch(r"[0-9]{14}|[0-9]{17}", value) is not None
        return None if ok else f"{value!r} is not YYYYMMDDHHMMSS[CCC] (Eastern Time)"
    if spec.kind == "date":
        return None if re.fullmatch(r"[0-9]{8}", value) else f"{value!r} is not YYYYMMDD"
    if spec.kind == "numeric":
        ok = value.isdigit() and len(value) <= spec.length
        return None if ok else f"{value!r} is not a number of at most {spec.length} digits"
    if spec.kind in ("price", "quantity"):
        if not _NUMBER.fullmatch(value) or Decimal(value) <= 0:
            return f"{value!r} is not a positive decimal number"
        whole, _, fraction = value.partition(".")
        if len(whole) > spec.length - 8 or len(fraction) > 8:
            return f"{value!r} exceeds Numeric({spec.length},8)"
        return None
    if len(value) > spec.length:
        return f"{value!r} is longer than {spec.length} characters"
    return None


def build_record(
    event: OrderEvent, fund: Fund, overrides: Mapping[str, Any]
) -> tuple[RecordLayout, Record, list[FieldProblem]] | None:
    """The record for ``event`` (``None`` for events OATS has no record for) and its problems."""
    code = EVENT_CODES.get(event.event)
    if code is None:
        return None
    layout = LAYOUTS[code]
    values = _derive(event, fund, layout)
    problems: list[FieldProblem] = []
    for name, value in overrides.items():
        if layout.field(str(name)) is None:
            problems.append(FieldProblem(str(name), f"not a field of the OATS {layout.name}"))
        elif value is not None and not isinstance(value, str):
            problems.append(FieldProblem(name, f"must be a string, got {type(value).__name__}"))
        else:
            values[name] = value
    record: Record = {}
    for spec in layout.fields:
        value = values.get(spec.name)
        if value is None or value == "":
            if spec.mandatory:
                problems.append(FieldProblem(spec.name, f"is required in the OATS {layout.name}"))
            continue
        if (problem := check_value(spec, value)) is not None:
            problems.append(FieldProblem(spec.name, problem))
        record[spec.name] = value
    return layout, record, problems


def render_line(layout: RecordLayout, record: Mapping[str, str]) -> str:
    """The delimited record: every field of the layout in order, blanks for absent ones.

    Trailing blank fields are kept as delimiters (the spec allows them) but never one extra
    delimiter after the last field, which OATS rejects.
    """
    return DELIMITER.join(record.get(name, "") for name in layout.names)
