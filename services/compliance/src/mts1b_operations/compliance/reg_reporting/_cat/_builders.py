"""Build one CAT event record from an order event, the fund's CAT setup and an operator's overrides.

Each builder fills the event's fields in the spec's order from three sources: the order event
(ids, symbol, side, prices, quantities, timestamps), the fund's registry entry (reporter IMID
and CRD, deptType, accountHolderType, FDID, capacity, trading session, route destinations) and
fixed values for what this trading system never does (manual orders, solicited orders,
representative orders, ISOs, multi-leg orders). A value that cannot be derived is recorded as
a problem naming the CAT field and left out; ``overrides`` (spec field names) then win, so a
repair can supply exactly the missing or wrong fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from mts1b_operations.core.funds import Fund
from mts1b_operations.core.schemas import OrderEvent

from .._model import FieldProblem
from . import _spec as spec
from ._formats import EASTERN, cat_date, decimal_problem, digest, eastern_date, firm_roe_id, nanos, plain
from .validate import MEMBER_ID_PATTERN

__all__ = ["EVENT_CODES", "EVENT_NAMES", "Built", "build_event", "coerce", "ordered", "resolve_destination"]

EVENT_CODES: Final[Mapping[str, str]] = {
    "newOrderEvent": "MENO",
    "orderRoute": "MEOR",
    "orderAccepted": "MEOA",
    "orderModified": "MEOM",
    "orderCanceled": "MEOC",
    "trade": "MEOT",
    "orderFulfillment": "MEOF",
}
"""The spec's event names and their message type codes."""
EVENT_NAMES: Final[Mapping[str, str]] = {code: name for name, code in EVENT_CODES.items()}

_SIDES: Final = {"buy": "B", "sell": "SL", "sell_short": "SS"}
_ORDER_TYPES: Final = {"market": "MKT", "limit": "LMT"}
_MIC_TO_EXCHANGE: Final = {
    "XNYS": "NYSE",
    "XNAS": "NSDQ",
    "XASE": "AMER",
    "ARCX": "ARCA",
    "BATS": "BZX",
    "BATY": "BYX",
    "EDGA": "EDGA",
    "EDGX": "EDGX",
    "IEXG": "IEX",
    "MEMX": "MEMX",
    "XBOS": "BX",
    "XPSX": "PSX",
    "XCIS": "NSX",
    "XCHI": "CHX",
    "LTSE": "LTSE",
    "EPRL": "PEARLEQ",
}
"""ISO 10383 market identifier codes of US equity exchanges and their CAT Exchange IDs."""


@dataclass(slots=True)
class Built:
    """A record as far as it could be built, and why it is incomplete."""

    record: dict[str, Any]
    problems: list[FieldProblem] = field(default_factory=list)


@dataclass(slots=True)
class _Builder:
    code: str
    order: OrderEvent
    fund: Fund
    venue: str | None
    overrides: Mapping[str, Any]
    record: dict[str, Any] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)

    def put(self, name: str, value: Any) -> None:
        self.record[name] = value

    def missing(self, name: str, problem: str) -> None:
        self.problems.append(FieldProblem(name, problem))

    # ------------------------------------------------------------ shared values

    @property
    def compliance(self) -> Any:
        return self.fund.compliance

    @property
    def event_day_start(self) -> int:
        day = eastern_date(self.order.ts)
        return nanos(datetime.combine(day, time(0), tzinfo=EASTERN))

    def member_id(self, name: str) -> str | None:
        """This firm as an Industry Member ID (``CRD:IMID``), or a problem on ``name``."""
        crd, imid = self.compliance.cat_reporter_crd, self.compliance.cat_reporter_imid
        if crd is None or imid is None:
            self.missing(
                name, "needs the fund's compliance.cat_reporter_crd and cat_reporter_imid (CRD:IMID)"
            )
            return None
        return f"{crd}:{imid}"

    def header(self, key_date: str, key_id: str, key_value: str) -> None:
        self.put("actionType", "NEW")
        self.put(
            "firmROEID",
            firm_roe_id(self.code, self.order.fund_id, self.order.event_id, eastern_date(self.order.ts)),
        )
        self.put("type", self.code)
        imid = self.compliance.cat_reporter_imid
        if imid is None:
            self.missing("CATReporterIMID", "the fund's compliance.cat_reporter_imid is not configured")
        else:
            self.put("CATReporterIMID", imid)
        self.put(key_date, self.event_day_start if key_date == "orderKeyDate" else nanos(self.order.ts))
        self.text(key_id, key_value, 64)
        self.text("symbol", self.order.symbol, 22)

    def text(self, name: str, value: str, max_length: int) -> None:
        if len(value) > max_length:
            self.missing(name, f"{value!r} is longer than the {max_length} characters CAT allows")
        else:
            self.put(name, value)

    def number(
        self, name: str, value: Decimal | None, *, integer_digits: int, scale: int, source: str
    ) -> None:
        if value is None:
            self.missing(name, f"is required and the order event has no {source}")
            return
        problem = decimal_problem(value, integer_digits=integer_digits, scale=scale)
        if problem is not None:
            self.missing(name, f"{source} {problem}")
        else:
            self.put(name, plain(value))

    def price(self, name: str = "price") -> None:
        if self.order.order_type == "limit":
            self.number(name, self.order.limit_price, integer_digits=10, scale=8, source="limit_price")

    def quantity(self, name: str, value: Decimal | None, source: str) -> None:
        self.number(name, value, integer_digits=12, scale=6, source=source)

    def flags(self, *names: str, value: bool = False) -> None:
        for name in names:
            self.put(name, value)

    def order_terms(self) -> None:
        """side .. tradingSession: what the order asks for."""
        self.put("side", _SIDES[self.order.side])
        self.price()
        self.quantity("quantity", self.order.quantity, "quantity")
        self.put("orderType", _ORDER_TYPES[self.order.order_type])
        time_in_force, _ = _time_in_force(self.order)
        self.put("timeInForce", time_in_force)
        self.put("tradingSession", self.compliance.cat_trading_session)

    def handling_instructions(self) -> None:
        _, instructions = _time_in_force(self.order)
        if instructions:
            self.put("handlingInstructions", instructions)

    def firm_designated_id(self) -> None:
        fdid = self.compliance.cat_firm_designated_id
        if fdid is not None:
            self.put("firmDesignatedID", fdid)
        elif len(self.order.fund_id) <= 40 and self.order.fund_id.replace("-", "").replace("_", "").isalnum():
            self.put("firmDesignatedID", self.order.fund_id)
        else:
            self.missing(
                "firmDesignatedID",
                f"fund_id {self.order.fund_id!r} cannot be the FDID (at most 40 letters, digits, - or _); "
                "set the fund's compliance.cat_firm_designated_id",
            )

    def side_details(self, name: str) -> None:
        """``name`` (buyDetails, sellDetails, clientDetails): the one side this order is on."""
        details: dict[str, Any] = {"orderKeyDate": self.event_day_start}
        if len(self.order.order_id) <= 64:
            details["orderID"] = self.order.order_id
        else:
            self.missing(
                f"{name}[0].orderID", f"order_id {self.order.order_id!r} is longer than 64 characters"
            )
        details["side"] = _SIDES[self.order.side]
        self.put(name, [details])


def _event_key(order: OrderEvent) -> str:
    """A trade's or fulfillment's id: the fill event's id (a digest of it when over 64 characters)."""
    return order.event_id if len(order.event_id) <= 64 else digest(order.event_id)[:64]


def _time_in_force(order: OrderEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """CAT timeInForce and the handling instructions OMS time-in-force values turn into."""
    day = {"DAY": cat_date(eastern_date(order.ts))}
    limit = order.order_type == "limit"
    match order.time_in_force:
        case "gtc":
            return {"GTC": True}, {}
        case "ioc":
            return {"IOC": True}, {}
        case "fok":
            return {"IOC": True}, {"FOK": True}
        case "opg":
            return day, {"LOO" if limit else "MOO": True}
        case "cls":
            return day, {"LOC" if limit else "MOC": True}
        case _:
            return day, {}


def resolve_destination(target: str, fund: Fund) -> tuple[str, str] | str:
    """(destination, destinationType) for an OMS venue, or why it has none.

    The fund's ``cat_destinations`` map wins; then a CAT Exchange ID or the MIC of a US
    exchange; then an Industry Member ``CRD:IMID``.
    """
    candidate = fund.compliance.cat_destinations.get(target, target)
    candidate = _MIC_TO_EXCHANGE.get(candidate.upper(), candidate)
    if candidate.upper() in spec.EXCHANGE_IDS:
        return candidate.upper(), "E"
    if MEMBER_ID_PATTERN.fullmatch(candidate):
        return candidate, "F"
    return (
        f"venue {target!r} is neither a CAT Exchange ID, an exchange MIC nor an Industry Member 'CRD:IMID'; "
        "map it in the fund's compliance.cat_destinations"
    )


# ---------------------------------------------------------------- the events


def _new_order(b: _Builder) -> None:
    b.header("orderKeyDate", "orderID", b.order.order_id)
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag", "electronicDupFlag")
    b.put("deptType", b.compliance.cat_dept_type)
    b.flags("solicitationFlag")
    b.order_terms()
    b.handling_instructions()
    b.flags("custDspIntrFlag")
    b.firm_designated_id()
    b.put("accountHolderType", b.compliance.cat_account_holder_type)
    b.flags("affiliateFlag", "negotiatedTradeFlag")
    b.put("representativeInd", "N")


def _route(b: _Builder) -> None:
    b.header("orderKeyDate", "orderID", b.order.order_id)
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag", "electronicDupFlag")
    target = b.overrides.get("destination") or b.venue or b.order.venue
    if not target:
        b.missing("destination", "the order was routed to no venue (the order event has no venue)")
    else:
        resolved = resolve_destination(str(target), b.fund)
        if isinstance(resolved, str):
            b.missing("destination", resolved)
        else:
            destination, destination_type = resolved
            sender = b.member_id("senderIMID")
            if sender is not None:
                b.put("senderIMID", sender)
            b.put("destination", destination)
            b.put("destinationType", destination_type)
            b.text("routedOrderID", b.order.order_id, 64)
            if destination_type == "E":
                session = b.compliance.cat_route_session
                if session is None:
                    b.missing(
                        "session", "is required for a route to an exchange; set compliance.cat_route_session"
                    )
                else:
                    b.put("session", session)
    b.order_terms()
    b.flags("affiliateFlag")
    b.put("isoInd", "NA")
    b.handling_instructions()
    b.flags("routeRejectedFlag", "dupROIDCond", "multiLegInd")


def _accepted(b: _Builder) -> None:
    b.header("orderKeyDate", "orderID", b.order.order_id)
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag", "electronicDupFlag")
    receiver = b.member_id("receiverIMID")
    if receiver is not None:
        b.put("receiverIMID", receiver)
    sender = b.overrides.get("senderIMID") or b.venue or b.order.venue
    if not sender:
        b.missing("senderIMID", "the order event names no venue the order was received from")
    else:
        resolved = resolve_destination(str(sender), b.fund)
        if isinstance(resolved, str):
            b.missing("senderIMID", resolved)
        else:
            b.put("senderIMID", resolved[0])
            b.put("senderType", resolved[1])
    b.text("routedOrderID", b.order.order_id, 64)
    b.flags("affiliateFlag")
    b.put("deptType", b.compliance.cat_dept_type)
    b.order_terms()
    b.put("isoInd", "NA")
    b.handling_instructions()
    b.flags("custDspIntrFlag", "solicitationFlag")


def _modified(b: _Builder) -> None:
    b.header("orderKeyDate", "orderID", b.order.order_id)
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag", "electronicDupFlag")
    b.put("initiator", b.compliance.cat_initiator)
    b.order_terms()
    # The OMS event carries the order's new terms, not its executions: the whole quantity is open.
    b.quantity("leavesQty", b.order.quantity, "quantity")
    b.put("isoInd", "NA")
    b.handling_instructions()
    b.flags("custDspIntrFlag")
    b.put("representativeInd", "N")


def _canceled(b: _Builder) -> None:
    b.header("orderKeyDate", "orderID", b.order.order_id)
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag")
    # A cancel event cancels what is open (the event's quantity); nothing is left afterwards.
    b.quantity("cancelQty", b.order.quantity, "quantity")
    b.put("leavesQty", Decimal(0))
    b.put("initiator", b.compliance.cat_initiator)


def _trade(b: _Builder) -> None:
    b.header("tradeKeyDate", "tradeID", _event_key(b.order))
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag", "cancelFlag")
    b.quantity("quantity", b.order.fill_quantity, "fill_quantity")
    b.number("price", b.order.fill_price, integer_digits=10, scale=8, source="fill_price")
    b.put("capacity", b.compliance.cat_capacity)
    buying = b.order.side == "buy"
    b.put("sideDetailsInd", "BUY" if buying else "SELL")
    b.side_details("buyDetails" if buying else "sellDetails")
    b.flags("multiLegInd")


def _fulfillment(b: _Builder) -> None:
    b.header("fillKeyDate", "fulfillmentID", _event_key(b.order))
    b.put("eventTimestamp", nanos(b.order.ts))
    b.flags("manualFlag")
    b.put("fulfillmentLinkType", "Y")
    b.flags("cancelFlag")
    b.quantity("quantity", b.order.fill_quantity, "fill_quantity")
    b.number("price", b.order.fill_price, integer_digits=10, scale=8, source="fill_price")
    b.put("capacity", b.compliance.cat_capacity)
    b.side_details("clientDetails")


_BUILDERS: Final[Mapping[str, Callable[[_Builder], None]]] = {
    "MENO": _new_order,
    "MEOR": _route,
    "MEOA": _accepted,
    "MEOM": _modified,
    "MEOC": _canceled,
    "MEOT": _trade,
    "MEOF": _fulfillment,
}


# ---------------------------------------------------------------- overrides and order


def coerce(field_spec: spec.FieldSpec | None, value: Any) -> Any:
    """An override or a stored value in the type the record holds (Decimal for CAT numbers).

    Values that cannot be converted are returned unchanged: the validator names them.
    """
    if field_spec is None or value is None:
        return value
    kind = field_spec.kind
    if kind in (spec.PRICE, spec.REAL_QUANTITY) and isinstance(value, str | int | float | Decimal):
        if isinstance(value, bool):
            return value
        try:
            return plain(Decimal(str(value)))
        except InvalidOperation:
            return value
    if kind in (spec.WHOLE_QUANTITY, spec.UNSIGNED, spec.DATE) and isinstance(value, str) and value.isdigit():
        return int(value)
    if kind == spec.TIMESTAMP and isinstance(value, str) and value.isdigit():
        return int(value)
    if kind == spec.RECORDS and isinstance(value, list):
        elements = {element.name: element for element in field_spec.elements}
        return [
            {k: coerce(elements.get(k), v) for k, v in item.items()} if isinstance(item, Mapping) else item
            for item in value
        ]
    if kind == spec.NAME_VALUE_PAIRS and isinstance(value, Mapping):
        types = (
            spec.TIME_IN_FORCE_TYPES if field_spec.name == "timeInForce" else spec.HANDLING_INSTRUCTION_TYPES
        )
        return {k: coerce(spec.FieldSpec(k, types[k], "O"), v) if k in types else v for k, v in value.items()}
    return value


def apply_overrides(code: str, record: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Set each override (``None`` removes the field); unknown names stay for the validator to name."""
    fields = spec.fields_of(code) if code in spec.EVENT_FIELDS else {}
    for name, value in overrides.items():
        if value is None:
            record.pop(name, None)
        else:
            record[name] = coerce(fields.get(name), value)


def ordered(code: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with its fields in the spec's position order (unknown fields last)."""
    if code not in spec.EVENT_FIELDS:
        return dict(record)
    names = [field_spec.name for field_spec in spec.EVENT_FIELDS[code]]
    known = {name: record[name] for name in dict.fromkeys(names) if name in record}
    return known | {name: value for name, value in record.items() if name not in known}


def build_event(
    code: str,
    order: OrderEvent,
    fund: Fund,
    *,
    venue: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Built:
    """The ``code`` record for ``order``; problems name fields that could not be derived."""
    overrides = overrides or {}
    builder = _Builder(code, order, fund, venue, overrides)
    _BUILDERS[code](builder)
    record = builder.record
    apply_overrides(code, record, overrides)
    problems = [p for p in builder.problems if overrides.get(p.field) is None]
    return Built(ordered(code, record), problems)
