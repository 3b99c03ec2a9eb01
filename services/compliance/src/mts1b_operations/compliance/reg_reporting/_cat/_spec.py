"""The field tables of the CAT events this adapter writes (CAT IM Technical Specifications v4.1.0).

One :class:`FieldSpec` per field, in the spec's position order, with its data type and its
Required / Conditional / Optional flag; the permitted values of every Choice field; the
name/value pair definitions. The validator checks records against these tables, and the
builders emit fields in this order so a line reads like the spec's table.
Transcribed from the v4.0.0 machine-readable schema plus the v4.1.0 additions that touch these
events (MENO's conditional ``BFMMFlag``; the exchanges added to Exchange ID since 4.0.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "ALPHANUMERIC",
    "ARRAY",
    "BOOLEAN",
    "CHOICE",
    "CHOICES",
    "DATE",
    "EVENT_FIELDS",
    "EXCHANGE_IDS",
    "HANDLING_INSTRUCTION_TYPES",
    "MEMBER_ID",
    "MEMBER_OR_EXCHANGE",
    "MESSAGE_TYPE",
    "NAME_VALUE_PAIRS",
    "PRICE",
    "REAL_QUANTITY",
    "RECORDS",
    "REPORTER_IMID",
    "RETIRED",
    "SYMBOL",
    "TEXT",
    "TIMESTAMP",
    "TIME_IN_FORCE_TYPES",
    "UNSIGNED",
    "WHOLE_QUANTITY",
    "FieldSpec",
    "Requirement",
    "fields_of",
]

Requirement = Literal["R", "C", "O"]
"""Required, Conditional (required in some situations the builders and validator know), Optional."""

# Data types (the spec's names in comments).
CHOICE: Final = "choice"  # Choice: a value from CHOICES[field]
TEXT: Final = "text"  # Text (n)
ALPHANUMERIC: Final = "alphanumeric"  # Alphanumeric (n)
RETIRED: Final = "retired"  # Text (0): a retired or reserved position, never populated
MESSAGE_TYPE: Final = "message_type"
REPORTER_IMID: Final = "reporter_imid"  # CAT Reporter IMID, at most 7 characters
MEMBER_ID: Final = "member_id"  # Industry Member ID, "CRD:IMID", at most 16 characters
MEMBER_OR_EXCHANGE: Final = "member_or_exchange"  # Industry Member ID or Exchange ID
SYMBOL: Final = "symbol"  # at most 22 characters
TIMESTAMP: Final = "timestamp"  # nanoseconds since the epoch, or "YYYYMMDD HHMMSS.CCCNNNNNN" ET
DATE: Final = "date"  # YYYYMMDD as a number
BOOLEAN: Final = "boolean"
PRICE: Final = "price"  # 10 integer digits, 8 decimals
REAL_QUANTITY: Final = "real_quantity"  # 12 integer digits, 6 decimals
WHOLE_QUANTITY: Final = "whole_quantity"  # 12 digits
UNSIGNED: Final = "unsigned"  # up to 20 digits
NAME_VALUE_PAIRS: Final = "name_value_pairs"
RECORDS: Final = "records"  # an array of objects (aggregated orders, side details)
ARRAY: Final = "array"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str
    required: Requirement
    max_length: int | None = None
    elements: tuple[FieldSpec, ...] = ()


def _f(
    name: str,
    kind: str,
    required: Requirement,
    *,
    max_length: int | None = None,
    elements: tuple[FieldSpec, ...] = (),
) -> FieldSpec:
    return FieldSpec(name, kind, required, max_length, elements)


_EVENT_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "MENO": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("orderKeyDate", TIMESTAMP, "R"),
        _f("orderID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("electronicDupFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "C"),
        _f("manualOrderKeyDate", TIMESTAMP, "C"),
        _f("manualOrderID", TEXT, "C", max_length=64),
        _f("deptType", CHOICE, "R"),
        _f("solicitationFlag", BOOLEAN, "R"),
        _f("RFQID", TEXT, "C", max_length=64),
        _f("side", CHOICE, "R"),
        _f("price", PRICE, "C"),
        _f("quantity", REAL_QUANTITY, "R"),
        _f("minQty", WHOLE_QUANTITY, "C"),
        _f("orderType", CHOICE, "R"),
        _f("timeInForce", NAME_VALUE_PAIRS, "R"),
        _f("tradingSession", CHOICE, "R"),
        _f("handlingInstructions", NAME_VALUE_PAIRS, "C"),
        _f("custDspIntrFlag", BOOLEAN, "R"),
        _f("firmDesignatedID", TEXT, "R", max_length=40),
        _f("accountHolderType", CHOICE, "R"),
        _f("affiliateFlag", BOOLEAN, "R"),
        _f("infoBarrierID", TEXT, "C", max_length=20),
        _f(
            "aggregatedOrders",
            RECORDS,
            "C",
            elements=(
                _f("orderID", TEXT, "R", max_length=64),
                _f("orderKeyDate", TIMESTAMP, "R"),
                _f("quantity", REAL_QUANTITY, "C"),
                _f("originatingIMID", REPORTER_IMID, "C"),
            ),
        ),
        _f("negotiatedTradeFlag", BOOLEAN, "R"),
        _f("representativeInd", CHOICE, "R"),
        _f("seqNum", ALPHANUMERIC, "C", max_length=40),
        _f("atsDisplayInd", CHOICE, "C"),
        _f("displayPrice", PRICE, "C"),
        _f("workingPrice", PRICE, "C"),
        _f("displayQty", WHOLE_QUANTITY, "C"),
        _f("atsOrderType", ARRAY, "C"),
        _f("nbbPrice", PRICE, "C"),
        _f("nbbQty", WHOLE_QUANTITY, "C"),
        _f("nboPrice", PRICE, "C"),
        _f("nboQty", WHOLE_QUANTITY, "C"),
        _f("nbboSource", CHOICE, "C"),
        _f("nbboTimestamp", TIMESTAMP, "C"),
        _f("netPrice", PRICE, "C"),
        _f("BFMMFlag", BOOLEAN, "C"),  # added in v4.1.0
    ),
    "MEOR": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("orderKeyDate", TIMESTAMP, "R"),
        _f("orderID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("originatingIMID", REPORTER_IMID, "C"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("electronicDupFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "C"),
        _f("senderIMID", MEMBER_ID, "C"),
        _f("destination", MEMBER_OR_EXCHANGE, "C"),
        _f("destinationType", CHOICE, "R"),
        _f("routedOrderID", TEXT, "C", max_length=64),
        _f("session", TEXT, "C", max_length=40),
        _f("side", CHOICE, "R"),
        _f("price", PRICE, "C"),
        _f("quantity", REAL_QUANTITY, "R"),
        _f("minQty", WHOLE_QUANTITY, "C"),
        _f("orderType", CHOICE, "R"),
        _f("timeInForce", NAME_VALUE_PAIRS, "R"),
        _f("tradingSession", CHOICE, "R"),
        _f("affiliateFlag", BOOLEAN, "R"),
        _f("isoInd", CHOICE, "R"),
        _f("handlingInstructions", NAME_VALUE_PAIRS, "C"),
        _f("routeRejectedFlag", BOOLEAN, "R"),
        _f("dupROIDCond", BOOLEAN, "R"),
        _f("seqNum", ALPHANUMERIC, "C", max_length=40),
        _f("multiLegInd", BOOLEAN, "R"),
        _f("pairedOrderID", TEXT, "O", max_length=64),
        _f("infoBarrierID", TEXT, "C", max_length=20),
        _f("netPrice", PRICE, "C"),
        _f("quoteKeyDate", TIMESTAMP, "C"),
        _f("quoteID", TEXT, "C", max_length=64),
    ),
    "MEOA": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("orderKeyDate", TIMESTAMP, "R"),
        _f("orderID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("electronicDupFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "C"),
        _f("receiverIMID", MEMBER_ID, "R"),
        _f("senderIMID", MEMBER_OR_EXCHANGE, "R"),
        _f("senderType", CHOICE, "R"),
        _f("routedOrderID", TEXT, "C", max_length=64),
        _f("manualOrderKeyDate", TIMESTAMP, "C"),
        _f("manualOrderID", TEXT, "C", max_length=64),
        _f("affiliateFlag", BOOLEAN, "R"),
        _f("deptType", CHOICE, "R"),
        _f("side", CHOICE, "R"),
        _f("price", PRICE, "C"),
        _f("quantity", REAL_QUANTITY, "R"),
        _f("minQty", WHOLE_QUANTITY, "C"),
        _f("orderType", CHOICE, "R"),
        _f("timeInForce", NAME_VALUE_PAIRS, "R"),
        _f("tradingSession", CHOICE, "R"),
        _f("isoInd", CHOICE, "R"),
        _f("handlingInstructions", NAME_VALUE_PAIRS, "C"),
        _f("custDspIntrFlag", BOOLEAN, "R"),
        _f("infoBarrierID", TEXT, "C", max_length=20),
        _f("seqNum", ALPHANUMERIC, "C", max_length=40),
        _f("atsDisplayInd", CHOICE, "C"),
        _f("displayPrice", PRICE, "C"),
        _f("workingPrice", PRICE, "C"),
        _f("displayQty", WHOLE_QUANTITY, "C"),
        _f("atsOrderType", ARRAY, "C"),
        _f("nbbPrice", PRICE, "C"),
        _f("nbbQty", WHOLE_QUANTITY, "C"),
        _f("nboPrice", PRICE, "C"),
        _f("nboQty", WHOLE_QUANTITY, "C"),
        _f("nbboSource", CHOICE, "C"),
        _f("nbboTimestamp", TIMESTAMP, "C"),
        _f("solicitationFlag", BOOLEAN, "R"),
        _f("pairedOrderID", TEXT, "O", max_length=64),
        _f("netPrice", PRICE, "C"),
    ),
    "MEOM": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("orderKeyDate", TIMESTAMP, "R"),
        _f("orderID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("priorOrderKeyDate", TIMESTAMP, "C"),
        _f("priorOrderID", TEXT, "C", max_length=64),
        _f("originatingIMID", REPORTER_IMID, "C"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("manualOrderKeyDate", TIMESTAMP, "C"),
        _f("manualOrderID", TEXT, "C", max_length=64),
        _f("electronicDupFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "C"),
        _f("receiverIMID", MEMBER_ID, "C"),
        _f("senderIMID", MEMBER_OR_EXCHANGE, "C"),
        _f("senderType", CHOICE, "C"),
        _f("routedOrderID", TEXT, "C", max_length=64),
        _f("requestTimestamp", TIMESTAMP, "C"),
        _f("reservedForFutureUse", RETIRED, "O"),
        _f("reservedForFutureUse", RETIRED, "O"),
        _f("reservedForFutureUse", RETIRED, "O"),
        _f("initiator", CHOICE, "R"),
        _f("side", CHOICE, "R"),
        _f("price", PRICE, "C"),
        _f("quantity", REAL_QUANTITY, "R"),
        _f("minQty", WHOLE_QUANTITY, "C"),
        _f("leavesQty", REAL_QUANTITY, "R"),
        _f("orderType", CHOICE, "R"),
        _f("timeInForce", NAME_VALUE_PAIRS, "R"),
        _f("tradingSession", CHOICE, "R"),
        _f("isoInd", CHOICE, "R"),
        _f("handlingInstructions", NAME_VALUE_PAIRS, "C"),
        _f("custDspIntrFlag", BOOLEAN, "R"),
        _f("infoBarrierID", TEXT, "C", max_length=20),
        _f(
            "aggregatedOrders",
            RECORDS,
            "C",
            elements=(
                _f("orderID", TEXT, "R", max_length=64),
                _f("orderKeyDate", TIMESTAMP, "R"),
                _f("quantity", REAL_QUANTITY, "C"),
                _f("originatingIMID", REPORTER_IMID, "C"),
            ),
        ),
        _f("representativeInd", CHOICE, "R"),
        _f("seqNum", ALPHANUMERIC, "C", max_length=40),
        _f("atsDisplayInd", CHOICE, "C"),
        _f("displayPrice", PRICE, "C"),
        _f("workingPrice", PRICE, "C"),
        _f("displayQty", WHOLE_QUANTITY, "C"),
        _f("atsOrderType", ARRAY, "C"),
        _f("nbbPrice", PRICE, "C"),
        _f("nbbQty", WHOLE_QUANTITY, "C"),
        _f("nboPrice", PRICE, "C"),
        _f("nboQty", WHOLE_QUANTITY, "C"),
        _f("nbboSource", CHOICE, "C"),
        _f("nbboTimestamp", TIMESTAMP, "C"),
        _f("netPrice", PRICE, "C"),
    ),
    "MEOC": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("orderKeyDate", TIMESTAMP, "R"),
        _f("orderID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("originatingIMID", REPORTER_IMID, "C"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "C"),
        _f("cancelQty", REAL_QUANTITY, "R"),
        _f("leavesQty", REAL_QUANTITY, "R"),
        _f("initiator", CHOICE, "R"),
        _f("seqNum", ALPHANUMERIC, "C", max_length=40),
        _f("requestTimestamp", TIMESTAMP, "C"),
        _f("infoBarrierID", TEXT, "C", max_length=20),
    ),
    "MEOT": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("tradeKeyDate", TIMESTAMP, "R"),
        _f("tradeID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "O"),
        _f("cancelFlag", BOOLEAN, "R"),
        _f("cancelTimestamp", TIMESTAMP, "C"),
        _f("retiredFieldPosition", RETIRED, "O"),
        _f("retiredFieldPosition", RETIRED, "O"),
        _f("quantity", REAL_QUANTITY, "R"),
        _f("price", PRICE, "R"),
        _f("capacity", CHOICE, "R"),
        _f("tapeTradeID", TEXT, "C", max_length=40),
        _f("marketCenterID", CHOICE, "C"),
        _f("sideDetailsInd", CHOICE, "R"),
        _f(
            "buyDetails",
            RECORDS,
            "C",
            elements=(
                _f("orderKeyDate", TIMESTAMP, "C"),
                _f("orderID", TEXT, "C", max_length=64),
                _f("side", CHOICE, "R"),
                _f("retiredFieldPosition", RETIRED, "O"),
                _f("firmDesignatedID", TEXT, "C", max_length=40),
                _f("accountHolderType", CHOICE, "C"),
                _f("originatingIMID", REPORTER_IMID, "C"),
            ),
        ),
        _f(
            "sellDetails",
            RECORDS,
            "C",
            elements=(
                _f("orderKeyDate", TIMESTAMP, "C"),
                _f("orderID", TEXT, "C", max_length=64),
                _f("side", CHOICE, "R"),
                _f("retiredFieldPosition", RETIRED, "O"),
                _f("firmDesignatedID", TEXT, "C", max_length=40),
                _f("accountHolderType", CHOICE, "C"),
                _f("originatingIMID", REPORTER_IMID, "C"),
            ),
        ),
        _f("reportingExceptionCode", CHOICE, "C"),
        _f("seqNum", ALPHANUMERIC, "C", max_length=40),
        _f("nbbPrice", PRICE, "C"),
        _f("nbbQty", WHOLE_QUANTITY, "C"),
        _f("nboPrice", PRICE, "C"),
        _f("nboQty", WHOLE_QUANTITY, "C"),
        _f("nbboSource", CHOICE, "C"),
        _f("nbboTimestamp", TIMESTAMP, "C"),
        _f("retiredFieldPosition", RETIRED, "O"),
        _f("clearingFirm", UNSIGNED, "C"),
        _f("counterparty", MEMBER_ID, "C"),
        _f("multiLegInd", BOOLEAN, "R"),
        _f("infoBarrierID", TEXT, "C", max_length=20),
    ),
    "MEOF": (
        _f("actionType", CHOICE, "R"),
        _f("errorROEID", UNSIGNED, "C"),
        _f("firmROEID", TEXT, "R", max_length=64),
        _f("type", MESSAGE_TYPE, "R"),
        _f("CATReporterIMID", REPORTER_IMID, "O"),
        _f("fillKeyDate", TIMESTAMP, "R"),
        _f("fulfillmentID", TEXT, "R", max_length=64),
        _f("symbol", SYMBOL, "R"),
        _f("eventTimestamp", TIMESTAMP, "R"),
        _f("manualFlag", BOOLEAN, "R"),
        _f("electronicTimestamp", TIMESTAMP, "C"),
        _f("fulfillmentLinkType", CHOICE, "R"),
        _f("cancelFlag", BOOLEAN, "R"),
        _f("cancelTimestamp", TIMESTAMP, "C"),
        _f("quantity", REAL_QUANTITY, "R"),
        _f("price", PRICE, "R"),
        _f("capacity", CHOICE, "R"),
        _f(
            "clientDetails",
            RECORDS,
            "R",
            elements=(
                _f("orderKeyDate", TIMESTAMP, "C"),
                _f("orderID", TEXT, "C", max_length=64),
                _f("side", CHOICE, "R"),
                _f("retiredFieldPosition", RETIRED, "O"),
                _f("firmDesignatedID", TEXT, "C", max_length=40),
                _f("accountHolderType", CHOICE, "C"),
                _f("originatingIMID", REPORTER_IMID, "C"),
            ),
        ),
        _f(
            "firmDetails",
            RECORDS,
            "C",
            elements=(
                _f("orderKeyDate", TIMESTAMP, "C"),
                _f("orderID", TEXT, "C", max_length=64),
                _f("side", CHOICE, "R"),
                _f("retiredFieldPosition", RETIRED, "O"),
                _f("firmDesignatedID", TEXT, "C", max_length=40),
                _f("accountHolderType", CHOICE, "C"),
                _f("originatingIMID", REPORTER_IMID, "C"),
            ),
        ),
        _f("infoBarrierID", TEXT, "C", max_length=20),
    ),
}

EVENT_FIELDS: Final[Mapping[str, tuple[FieldSpec, ...]]] = MappingProxyType(_EVENT_FIELDS)
"""Every field of each event type, in position order."""


def fields_of(event_code: str) -> Mapping[str, FieldSpec]:
    """The fields of ``event_code`` by name (retired positions share one entry)."""
    return _FIELDS_BY_NAME[event_code]


_FIELDS_BY_NAME: Final = {
    code: MappingProxyType({spec.name: spec for spec in specs}) for code, specs in _EVENT_FIELDS.items()
}

CHOICES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "accountHolderType": frozenset({"A", "E", "F", "I", "O", "V", "P", "X"}),
        "actionType": frozenset({"NEW", "COR", "RPR", "DEL"}),
        "atsDisplayInd": frozenset({"S", "A", "Y", "N"}),
        "capacity": frozenset({"A", "P", "R"}),
        "deptType": frozenset({"A", "ATS", "DMA", "SA", "T", "O"}),
        "destinationType": frozenset({"D", "F", "E", "N", "O"}),
        "fulfillmentLinkType": frozenset({"FOR", "Y", "YE", "YP", "YS", "O", "OS", "OML"}),
        "initiator": frozenset({"C", "F"}),
        "isoInd": frozenset({"ISOD", "ISOI", "NA"}),
        "marketCenterID": frozenset(
            {
                *("D", "DC", "DN", "L", "O", "A", "B", "BF", "C", "F", "H", "I", "J", "K", "LT", "M"),
                *("N", "P", "Q", "U", "V", "W", "X", "Y", "Z", "ARCAOP", "AMEROP", "BOX", "BZXOP", "C2"),
                *("CBOE", "CHX", "EDGXOP", "EMLD", "GEMX", "MIAMI", "MRX", "NOBO", "NOM", "PEARL", "PHLX"),
            }
        ),
        "nbboSource": frozenset({"D", "S", "H", "NA"}),
        "orderType": frozenset({"CAB", "LMT", "MKT"}),
        "reportingExceptionCode": frozenset({"C", "F", "N", "P"}),
        "representativeInd": frozenset({"Y", "YE", "YP", "YS", "N", "O", "OS", "OML", "OMS"}),
        "senderType": frozenset({"E", "F", "O"}),
        "side": frozenset({"B", "S", "SL", "SS", "SX"}),
        "sideDetailsInd": frozenset({"BUY", "SELL", "NA"}),
        "tradingSession": frozenset({"FOR", "PRE", "PREREG", "REG", "REGPOST", "POST", "PREPOST", "ALL"}),
    }
)
"""The permitted values of the Choice fields these events carry."""

EXCHANGE_IDS: Final = frozenset(
    {
        *("AMER", "AMEROP", "ARCA", "ARCAOP", "BOX", "BSTX", "BX", "BYX", "BZX", "BZXOP", "C2", "CBOE"),
        *("CHX", "EDGA", "EDGX", "EDGXOP", "EMLD", "GEMX", "IEX", "ISE", "LTSE", "MEMX", "MEMXOP"),
        *("MIAMI", "MRX", "NOBO", "NOM", "NSDQ", "NSX", "NYSE", "PEARL", "PEARLEQ", "PHLX", "PSX"),
        *("SPHR", "24X", "TXSE"),
    }
)
"""CAT Exchange IDs (v4.1.0), the destinations of routes to exchanges."""

TIME_IN_FORCE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "DAY": DATE,
        "GFD": UNSIGNED,
        "GTC": BOOLEAN,
        "GTD": DATE,
        "GTM": BOOLEAN,
        "GTT": TIMESTAMP,
        "GTX": DATE,
        "IOC": BOOLEAN,
        "IOR": BOOLEAN,
    }
)
"""The timeInForce name/value pairs and the data type of each value."""

_BOOLEAN_INSTRUCTIONS = (
    *("ADD", "AIP", "ALG", "ALGMod", "ALGS", "ALO", "AOB", "AOK", "AON", "ATT", "BIN", "CAC", "CMC"),
    *("CMPX", "CND", "CPR", "CTR", "CSC", "CSH", "d", "DAC", "DIR", "DIV", "DNI", "DNR", "DNRT", "ERP"),
    *("EW", "FB", "FBA", "FOK", "FS", "FUT", "G", "GP", "IDX", "IO", "LOC", "LOO", "M", "MAC", "MAO"),
    *("MAX", "MOB", "MOC", "MOO", "MRP", "MTL", "NAV", "NCTR", "ND", "NH", "OCP", "OFF", "OPO", "OPT"),
    *("OVD", "P", "PBG", "PCS", "PEG", "QCC", "R", "RAR", "RLO", "RSV", "SCL", "SLD", "SLL", "SLQ", "SLR"),
    *("SOQ", "STOPF", "STP", "TS", "TTF", "TTO", "TTS", "TTSO", "TTU", "UNP", "UNS", "WDP", "WRK"),
)

HANDLING_INSTRUCTION_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **dict.fromkeys(_BOOLEAN_INSTRUCTIONS, BOOLEAN),
        "AucResp": ALPHANUMERIC,
        "CASH": PRICE,
        "DISP": PRICE,
        "DISQ": REAL_QUANTITY,
        "DLVF": TEXT,
        "DLVT": ARRAY,
        "STOP": PRICE,
        "SW": PRICE,
        "SWQ": WHOLE_QUANTITY,
        "TMO": TIMESTAMP,
    }
)
"""The handlingInstructions name/value pairs and the data type of each value."""
