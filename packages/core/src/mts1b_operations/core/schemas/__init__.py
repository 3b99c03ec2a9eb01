"""Every payload on every ``mts.v1`` subject, as one frozen msgspec Struct each.

Payload Structs are tagged with their class name (``"type": "HaltRequested"`` on the wire)
and ignore fields they do not know, so a newer producer can add fields without breaking an
older consumer. Constraints (non-empty ids, bounds, timezone-aware datetimes) live in the
annotations and are checked by :func:`decode`; :func:`encode` checks them too, so an
invalid payload never leaves the process. Cross-field rules (a fund halt names its fund, a
bar's high is its highest price, ...) live in ``__post_init__`` and run on construction as
well. Order prices and quantities are :class:`~decimal.Decimal` (regulatory reports need
exact decimals, carried as JSON strings); market data uses floats.

Decode errors are :class:`SchemaError`, whose message starts with the field path
(``$.options[0].vol: Expected `float` > 0.0``).

HTTP answers that a service and the SDK share live in submodules, imported by name (their
Structs may reuse payload names): :mod:`~mts1b_operations.core.schemas.marketdata_api`,
:mod:`~mts1b_operations.core.schemas.halt_api`, :mod:`~mts1b_operations.core.schemas.compliance_api`,
:mod:`~mts1b_operations.core.schemas.watchdogs_api`, :mod:`~mts1b_operations.core.schemas.audit_api`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType, UnionType
from typing import Annotated, Any, Final, Literal, TypeVar, Union, get_args, get_origin

import msgspec

from mts1b_operations.core import subjects

__all__ = [
    "PAYLOAD_TYPES",
    "TOKEN_PATTERN",
    "Actor",
    "AlertStatus",
    "AuditAppended",
    "AuditCheckpoint",
    "Bar",
    "ComplianceFileFact",
    "ComplianceProblem",
    "ComplianceReportFact",
    "FieldValueError",
    "Greeks",
    "HaltMode",
    "HaltRefused",
    "HaltRequested",
    "HaltResumed",
    "HaltSeverity",
    "HexDigest",
    "Id",
    "Nav",
    "NewsItem",
    "OmsCommand",
    "OmsCommandAck",
    "OmsCommandName",
    "OperationsCommand",
    "OperationsCommandAck",
    "OperationsCommandName",
    "OptionKind",
    "OptionPosition",
    "OrderEvent",
    "OrderSide",
    "OrderType",
    "Payload",
    "Position",
    "Quote",
    "SchemaError",
    "ServiceHeartbeat",
    "StrategyPnl",
    "StrategySignal",
    "Text",
    "TimeInForce",
    "Timestamp",
    "Token",
    "Trade",
    "WatchdogAlert",
    "convert",
    "decode",
    "encode",
    "payload_type_for",
]

T = TypeVar("T")

# ---------------------------------------------------------------- constrained field types

TOKEN_PATTERN: Final = r"^[A-Za-z0-9_\-:=@^~]{1,128}\Z"  # noqa: S105 - a regex, not a password
"""A single NATS subject token; the same rule as :func:`subjects.token_of`.

Anchored with ``\\Z``: msgspec searches for the pattern, and ``$`` would let a trailing newline through.
"""

Token = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN)]
"""An id that is also part of a subject: symbol, fund, strategy, service."""
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Actor = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
"""Who did it: ``operator:<name>``, ``service:<name>``, ``watchdog:<kind>``."""
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]
HexDigest = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
"""A 32-byte digest (SHA-256) in lower-case hex."""
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
Count = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]

HaltSeverity = Literal["FIRM_HALT", "FUND_HALT", "STRATEGY_HALT"]
HaltMode = Literal["block_new", "cancel_open", "flatten"]
AlertStatus = Literal["firing", "resolved"]
OrderSide = Literal["buy", "sell", "sell_short"]
OrderType = Literal["market", "limit"]
TimeInForce = Literal["day", "gtc", "ioc", "fok", "opg", "cls"]
OptionKind = Literal["call", "put"]
OmsCommandName = subjects.OmsCommand
OperationsCommandName = subjects.OperationsCommand


class SchemaError(ValueError):
    """A payload does not match its schema; ``path`` is the field (``$.funds[1].mode``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class FieldValueError(ValueError):
    """Raised by a ``__post_init__`` check; ``field`` is relative to the Struct that raised it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# ---------------------------------------------------------------- base classes


class _Checked(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Rejects NaN and infinity in float and Decimal fields (JSON would turn them into null),
    and naive datetimes already at construction (decoding checks them through ``Timestamp``).
    """

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise FieldValueError(name, "must be a timezone-aware datetime")
            if isinstance(value, float) and not math.isfinite(value):
                raise FieldValueError(name, f"must be a finite number, got {value!r}")
            if isinstance(value, Decimal) and not value.is_finite():
                raise FieldValueError(name, f"must be a finite number, got {str(value)!r}")


class Payload(_Checked, frozen=True, kw_only=True, tag=True):
    """Base of every message payload; the ``type`` tag on the wire is the class name."""


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise FieldValueError(field, problem)


def _positive(field: str, value: Decimal | None) -> None:
    _require(value is None or value > 0, field, f"must be > 0, got {value}")


def _halt_scope(severity: str, fund_id: str | None, strategy_id: str | None) -> None:
    if severity == "FIRM_HALT":
        _require(fund_id is None, "fund_id", "must be null for a FIRM_HALT")
        _require(strategy_id is None, "strategy_id", "must be null for a FIRM_HALT")
    elif severity == "FUND_HALT":
        _require(fund_id is not None, "fund_id", "is required for a FUND_HALT")
        _require(strategy_id is None, "strategy_id", "must be null for a FUND_HALT")
    elif severity == "STRATEGY_HALT":
        _require(strategy_id is not None, "strategy_id", "is required for a STRATEGY_HALT")


# ---------------------------------------------------------------- operations: halts and audit


class HaltRequested(Payload, frozen=True, kw_only=True):
    """A halt was recorded (mts.v1.operations.halt.requested)."""

    halt_id: Id
    severity: HaltSeverity
    mode: HaltMode
    fund_id: Token | None = None
    strategy_id: Token | None = None
    reason: Text
    requested_by: Actor
    requested_at: Timestamp
    forced: bool = False
    """Set when the requester overrode a guard (e.g. flatten of a live fund)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _halt_scope(self.severity, self.fund_id, self.strategy_id)


class HaltResumed(Payload, frozen=True, kw_only=True):
    """A halt was lifted (mts.v1.operations.halt.resumed)."""

    halt_id: Id
    severity: HaltSeverity
    mode: HaltMode
    fund_id: Token | None = None
    strategy_id: Token | None = None
    reason: Text
    requested_by: Actor
    resumed_by: Actor
    cosigned_by: Actor | None = None
    forced: bool = False
    requested_at: Timestamp
    resumed_at: Timestamp

    def __post_init__(self) -> None:
        super().__post_init__()
        _halt_scope(self.severity, self.fund_id, self.strategy_id)
        _require(
            self.cosigned_by is None or self.cosigned_by != self.resumed_by,
            "cosigned_by",
            "must be a different actor from resumed_by",
        )
        _require(self.resumed_at >= self.requested_at, "resumed_at", "is before requested_at")


class HaltRefused(Payload, frozen=True, kw_only=True):
    """A halt request or resume was refused (mts.v1.operations.halt.refused), so the audit sees it."""

    refusal_id: Annotated[int, msgspec.Meta(ge=1)]
    action: Literal["request", "resume"]
    halt_id: Id | None = None
    scope: Id | None = None
    requested_by: Actor | None = None
    cosigned_by: Actor | None = None
    code: Id
    field: Id | None = None
    problem: Text
    refused_at: Timestamp


class AuditAppended(Payload, frozen=True, kw_only=True):
    """An entry was appended to the hash chain (mts.v1.operations.audit.appended)."""

    sequence: Count
    hash: HexDigest
    actor: Actor
    action: Id
    subject_id: Id | None = None
    timestamp_us: Count


class AuditCheckpoint(Payload, frozen=True, kw_only=True):
    """A signed chain head (mts.v1.operations.audit.checkpoint).

    ``tree_size`` entries are covered; ``sequence`` and ``head_hash`` are the last of them.
    """

    tree_size: Annotated[int, msgspec.Meta(ge=1)]
    sequence: Count
    head_hash: HexDigest
    merkle_root: HexDigest
    note: Text
    """The signed note text: body lines, a blank line, then the signature lines."""
    key_id: Id
    signed_at: Timestamp


# ---------------------------------------------------------------- operations: compliance


class ComplianceProblem(msgspec.Struct, frozen=True, kw_only=True):
    """Why a regulatory report cannot be filed: the specification's field and what is wrong."""

    field: Id
    problem: Text


class ComplianceReportFact(Payload, frozen=True, kw_only=True):
    """A regulatory report was stored, held as rejected, or repaired
    (mts.v1.operations.compliance.report.{stored,rejected,repaired}).

    ``report_key`` is the regime's idempotency key (CAT firmROEID, MiFID II transaction
    reference); ``repaired_from`` is the id of the report a repair superseded.
    """

    report_id: Annotated[int, msgspec.Meta(ge=1)]
    regime: Token
    fund_id: Token
    report_key: Id
    event_type: Id
    order_id: Id
    source_event_id: Id
    trade_date: date
    status: Id
    problems: list[ComplianceProblem] = []
    repaired_from: Annotated[int, msgspec.Meta(ge=1)] | None = None
    reason: Text | None = None
    actor: Actor
    at: Timestamp


class ComplianceFileFact(Payload, frozen=True, kw_only=True):
    """A report file was submitted through the transport, or the submission failed
    (mts.v1.operations.compliance.file.{submitted,failed})."""

    file_id: Annotated[int, msgspec.Meta(ge=1)]
    regime: Token
    fund_id: Token
    name: Id
    trade_date: date
    sequence: Annotated[int, msgspec.Meta(ge=1)]
    record_count: Count
    sha256: HexDigest
    deadline: Timestamp
    status: Literal["submitted", "failed"]
    attempts: Count
    error: Text | None = None
    destination: Text | None = None
    metadata_name: Id | None = None
    """The metadata file delivered with it (CAT's ``.meta.json``), when the regime has one."""
    metadata_sha256: HexDigest | None = None
    actor: Actor
    at: Timestamp


# ---------------------------------------------------------------- operations: watchdogs, services, commands


class WatchdogAlert(Payload, frozen=True, kw_only=True):
    """A watchdog fired or resolved (mts.v1.operations.watchdog.{kind})."""

    alert_id: Id
    watchdog: subjects.WatchdogKind
    status: AlertStatus
    subject_id: Id
    """What is watched: a service, fund, strategy or symbol."""
    value: float | None = None
    threshold: float | None = None
    message: Text
    window_start: Timestamp | None = None
    window_end: Timestamp | None = None
    fired_at: Timestamp

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.window_start is not None and self.window_end is not None:
            _require(self.window_end >= self.window_start, "window_end", "is before window_start")


class ServiceHeartbeat(Payload, frozen=True, kw_only=True):
    """A service instance is alive (mts.v1.operations.service.heartbeat.{service})."""

    service: Token
    instance_id: Id
    pid: Annotated[int, msgspec.Meta(ge=1)]
    host: Id
    http_url: Id
    ready: bool
    version: Id
    started_at: Timestamp
    sent_at: Timestamp


class OperationsCommand(Payload, frozen=True, kw_only=True):
    """Control of operations services (mts.v1.operations.cmd.{restart,watchdog})."""

    command_id: Id
    command: OperationsCommandName
    targets: list[Token] = []
    """Service names; empty means every service."""
    requested_by: Actor
    issued_at: Timestamp
    args: dict[str, str] = {}


class OperationsCommandAck(Payload, frozen=True, kw_only=True):
    """A service instance's answer to an :class:`OperationsCommand`."""

    command_id: Id
    service: Token
    instance_id: Id
    accepted: bool
    detail: str
    acked_at: Timestamp


class OmsCommand(Payload, frozen=True, kw_only=True):
    """A command to order management (request on mts.v1.oms.cmd.{cancel_all,flatten}).

    ``fund_ids`` and ``paper_only`` have no defaults on purpose: a command that touches
    orders states its scope. An empty ``fund_ids`` means every fund.
    """

    command_id: Id
    command: OmsCommandName
    requested_by: Actor
    fund_ids: list[Token]
    paper_only: bool
    reason: Text
    halt_id: Id | None = None
    issued_at: Timestamp


class OmsCommandAck(Payload, frozen=True, kw_only=True):
    """Order management's reply to an :class:`OmsCommand`; a failure carries ``error``."""

    command_id: Id
    responder: Id
    command: OmsCommandName
    ok: bool
    orders_cancelled: Count = 0
    positions_closed: Count = 0
    error: Text | None = None
    acked_at: Timestamp

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.ok or self.error is not None, "error", "is required when ok is false")


# ---------------------------------------------------------------- market data and news


class Trade(Payload, frozen=True, kw_only=True):
    """A print (mts.v1.marketdata.trade.{symbol}); ``side`` is the aggressor, +1 buy, -1 sell."""

    symbol: Token
    ts: Timestamp
    price: PositiveFloat
    size: PositiveFloat
    side: Literal[1, -1] | None = None
    trade_id: Id | None = None


class Quote(Payload, frozen=True, kw_only=True):
    """Top of book (mts.v1.marketdata.quote.{symbol})."""

    symbol: Token
    ts: Timestamp
    bid: NonNegativeFloat
    ask: NonNegativeFloat
    bid_size: NonNegativeFloat
    ask_size: NonNegativeFloat


class Bar(Payload, frozen=True, kw_only=True):
    """An OHLCV bar over [start, end) (mts.v1.marketdata.bar.{interval}.{symbol})."""

    symbol: Token
    interval: subjects.BarInterval
    start: Timestamp
    end: Timestamp
    open: PositiveFloat
    high: PositiveFloat
    low: PositiveFloat
    close: PositiveFloat
    volume: NonNegativeFloat
    vwap: PositiveFloat | None = None
    trade_count: Count | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.end > self.start, "end", "must be after start")
        _require(self.low <= self.high, "low", f"{self.low} is above high {self.high}")
        for name in ("open", "close"):
            price = getattr(self, name)
            _require(self.low <= price <= self.high, name, f"{price} is outside [low, high]")


class NewsItem(Payload, frozen=True, kw_only=True):
    """A news story about a symbol (mts.v1.news.item.{symbol})."""

    news_id: Id
    symbol: Token
    headline: Text
    source: Id
    published_at: Timestamp
    url: Id | None = None
    summary: str | None = None
    sentiment: Annotated[float, msgspec.Meta(ge=-1, le=1)] | None = None


# ---------------------------------------------------------------- portfolio and strategy


class Nav(Payload, frozen=True, kw_only=True):
    """A fund's net asset value (mts.v1.portfolio.nav.{fund_id})."""

    fund_id: Token
    ts: Timestamp
    nav: NonNegativeFloat
    day_pnl: float


class Position(Payload, frozen=True, kw_only=True):
    """One holding of a fund (mts.v1.portfolio.position.{fund_id}); quantity < 0 is short."""

    fund_id: Token
    strategy_id: Token | None = None
    symbol: Token
    ts: Timestamp
    quantity: float
    avg_price: NonNegativeFloat
    market_price: NonNegativeFloat


class OptionPosition(_Checked, frozen=True, kw_only=True):
    """One option holding inside :class:`Greeks`, with the inputs a pricing model needs."""

    symbol: Id
    underlying: Token
    kind: OptionKind
    spot: PositiveFloat
    strike: PositiveFloat
    expiry: date | None = None
    t_years: NonNegativeFloat
    """Time to expiry in years."""
    rate: float
    vol: PositiveFloat
    quantity: float
    """Contracts; negative is short."""
    multiplier: PositiveFloat = 100.0


class Greeks(Payload, frozen=True, kw_only=True):
    """A fund's option book (mts.v1.portfolio.greeks.{fund_id})."""

    fund_id: Token
    ts: Timestamp
    options: list[OptionPosition] = []


class StrategyPnl(Payload, frozen=True, kw_only=True):
    """A strategy's profit and loss (mts.v1.strategy.pnl.{strategy_id})."""

    strategy_id: Token
    fund_id: Token
    ts: Timestamp
    day_pnl: float
    realized_pnl: float
    unrealized_pnl: float


class StrategySignal(Payload, frozen=True, kw_only=True):
    """A strategy's signal for a symbol (mts.v1.strategy.signal.{strategy_id})."""

    strategy_id: Token
    fund_id: Token
    symbol: Token
    ts: Timestamp
    value: float
    target_position: float | None = None


# ---------------------------------------------------------------- orders


class OrderEvent(Payload, frozen=True, kw_only=True):
    """A step in an order's life (mts.v1.oms.order.{event}).

    A ``limit`` order carries ``limit_price`` (a ``market`` order must not); a ``filled``
    event carries ``fill_quantity`` (at most ``quantity``) and ``fill_price``.
    """

    event: subjects.OmsOrderEvent
    event_id: Id
    order_id: Id
    fund_id: Token
    strategy_id: Token | None = None
    symbol: Token
    side: OrderSide
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = "day"
    venue: Id | None = None
    fill_quantity: Decimal | None = None
    fill_price: Decimal | None = None
    ts: Timestamp

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("quantity", "limit_price", "fill_quantity", "fill_price"):
            _positive(name, getattr(self, name))
        if self.order_type == "limit":
            _require(self.limit_price is not None, "limit_price", "is required for a limit order")
        else:
            _require(self.limit_price is None, "limit_price", "must be null for a market order")
        if self.event == "filled":
            _require(self.fill_quantity is not None, "fill_quantity", "is required for a filled event")
            _require(self.fill_price is not None, "fill_price", "is required for a filled event")
        else:
            _require(self.fill_quantity is None, "fill_quantity", f"must be null for a {self.event} event")
            _require(self.fill_price is None, "fill_price", f"must be null for a {self.event} event")
        if self.fill_quantity is not None:
            _require(
                self.fill_quantity <= self.quantity,
                "fill_quantity",
                f"{self.fill_quantity} exceeds the order quantity {self.quantity}",
            )


# ---------------------------------------------------------------- subject → payload type

_P = subjects.PREFIX


def _payload_types() -> dict[str, type[Payload]]:
    # Enumerated tokens (watchdog kinds, commands, order events, bar intervals) are listed one
    # by one so an unknown one maps to nothing; free tokens (ids, symbols) end in ``*``.
    table: dict[str, type[Payload]] = {
        subjects.halt_requested(): HaltRequested,
        subjects.halt_resumed(): HaltResumed,
        subjects.halt_refused(): HaltRefused,
        subjects.halt_oms_command(): OmsCommand,
        subjects.halt_oms_ack(): OmsCommandAck,
        subjects.audit_appended(): AuditAppended,
        subjects.audit_checkpoint(): AuditCheckpoint,
        subjects.SERVICE_HEARTBEAT_ALL: ServiceHeartbeat,
        f"{_P}.marketdata.trade.*": Trade,
        f"{_P}.marketdata.quote.*": Quote,
        f"{_P}.news.item.*": NewsItem,
        f"{_P}.portfolio.nav.*": Nav,
        f"{_P}.portfolio.position.*": Position,
        f"{_P}.portfolio.greeks.*": Greeks,
        f"{_P}.strategy.pnl.*": StrategyPnl,
        f"{_P}.strategy.signal.*": StrategySignal,
    }
    table |= {subjects.watchdog_alert(kind): WatchdogAlert for kind in subjects.WATCHDOG_KINDS}
    table |= {subjects.oms_command(cmd): OmsCommand for cmd in subjects.OMS_COMMANDS}
    table |= {subjects.operations_command(cmd): OperationsCommand for cmd in subjects.OPERATIONS_COMMANDS}
    table |= {subjects.oms_order(event): OrderEvent for event in subjects.OMS_ORDER_EVENTS}
    table |= {
        subjects.compliance_report(o): ComplianceReportFact for o in subjects.COMPLIANCE_REPORT_OUTCOMES
    }
    table |= {subjects.compliance_file(o): ComplianceFileFact for o in subjects.COMPLIANCE_FILE_OUTCOMES}
    table |= {f"{_P}.marketdata.bar.{interval}.*": Bar for interval in subjects.BAR_INTERVALS}
    return table


PAYLOAD_TYPES: Final[Mapping[str, type[Payload]]] = MappingProxyType(_payload_types())
"""Subject pattern → payload Struct; ``*`` stands for one id or symbol token.

Acks (:class:`OmsCommandAck`, :class:`OperationsCommandAck`) are replies, not on a subject of their own.
"""

_TOKEN_RE: Final = re.compile(TOKEN_PATTERN)


def payload_type_for(subject: str) -> type[Payload] | None:
    """The Struct carried on the concrete ``subject`` (no wildcards); None when the contract has none."""
    family, _, last = subject.rpartition(".")
    if not _TOKEN_RE.fullmatch(last):
        return None
    return PAYLOAD_TYPES.get(subject) or PAYLOAD_TYPES.get(f"{family}.*")


# ---------------------------------------------------------------- encode / decode

_ENCODER: Final = msgspec.json.Encoder()


_DECODERS: Final[dict[Any, msgspec.json.Decoder[Any]]] = {}


def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_)
    return decoder


def encode(obj: msgspec.Struct) -> bytes:
    """JSON bytes of ``obj``, after checking it against its own schema (raises SchemaError)."""
    data = _ENCODER.encode(obj)
    decode(data, type(obj))
    return data


def decode(data: bytes | bytearray | memoryview | str, type_: type[T]) -> T:
    """Decode JSON ``data`` into ``type_``; any mismatch raises :class:`SchemaError` naming the field."""
    try:
        result: T = _decoder(type_).decode(data)
    except msgspec.DecodeError as exc:
        raise _schema_error(exc, type_) from exc
    return result


def convert(obj: Any, type_: type[T]) -> T:
    """Validate already-parsed data (e.g. from YAML) into ``type_``; errors as in :func:`decode`."""
    try:
        return msgspec.convert(obj, type_)
    except msgspec.DecodeError as exc:
        raise _schema_error(exc, type_) from exc


# ---------------------------------------------------------------- error messages

_AT = re.compile(r"^(?P<problem>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_ENUM = re.compile(r"^Invalid enum value (?P<got>.+)$")
_TOKEN_MISMATCH: Final = f"Expected `str` matching regex {TOKEN_PATTERN!r}"
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


def _join(path: str, field: str) -> str:
    return f"{path}{field}" if field.startswith("[") else f"{path}.{field}"


def _schema_error(exc: msgspec.DecodeError, type_: Any) -> SchemaError:
    message = str(exc)
    match = _AT.match(message)
    path, problem = (match["path"], match["problem"]) if match else ("$", message)
    cause = exc.__cause__
    field = getattr(cause, "field", None)
    if isinstance(field, str):
        # A __post_init__ check (or subjects.token_of) named a field of the Struct at ``path``.
        path = _join(path, field)
        problem = getattr(cause, "problem", None) or str(cause).removeprefix(f"{field}: ")
    elif missing := _MISSING.match(problem):
        path, problem = _join(path, missing["field"]), "required field is missing"
    elif unknown := _UNKNOWN.match(problem):
        path, problem = _join(path, unknown["field"]), "unknown field"
    elif problem == _TOKEN_MISMATCH:
        problem = "is not a single subject token (1-128 of letters, digits and _-:=@^~)"
    elif enum := _ENUM.match(problem):
        allowed = _literal_values_at(type_, path)
        if allowed:
            problem = f"Expected {' | '.join(map(repr, allowed))}, got {enum['got']}"
    return SchemaError(path, problem)


def _literal_values_at(type_: Any, path: str) -> tuple[Any, ...] | None:
    """The values of the Literal type found by walking ``path`` (``$.a[0].b``) from ``type_``."""
    node: Any = type_
    for name, index in _PATH_PART.findall(path[1:]):
        node = _step(node, name or None, index)
        if node is None:
            return None
    return next((get_args(t) for t in _alternatives(node) if get_origin(t) is Literal), None)


def _alternatives(type_: Any) -> Iterator[Any]:
    """``type_`` without Annotated wrappers, one member of a union at a time."""
    origin = get_origin(type_)
    if origin is Annotated:
        yield from _alternatives(get_args(type_)[0])
    elif origin is Union or origin is UnionType:
        for member in get_args(type_):
            yield from _alternatives(member)
    else:
        yield type_


def _step(type_: Any, name: str | None, index: str) -> Any:
    for alt in _alternatives(type_):
        if name is not None and isinstance(alt, type) and issubclass(alt, msgspec.Struct):
            return next((f.type for f in msgspec.structs.fields(alt) if f.encode_name == name), None)
        origin = get_origin(alt)
        if name is None and origin in (list, set, frozenset):
            return get_args(alt)[0]
        if name is None and origin is dict and index == "...":
            return get_args(alt)[1]
    return None
