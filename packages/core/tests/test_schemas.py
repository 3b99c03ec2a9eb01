"""Wire schemas: every payload round-trips, bad payloads are refused naming the field."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mts1b_operations.core import schemas, subjects
from mts1b_operations.core.schemas import (
    AuditAppended,
    AuditCheckpoint,
    Bar,
    ComplianceFileFact,
    ComplianceProblem,
    ComplianceReportFact,
    FieldValueError,
    Greeks,
    HaltRefused,
    HaltRequested,
    HaltResumed,
    Nav,
    NewsItem,
    OmsCommand,
    OmsCommandAck,
    OperationsCommand,
    OperationsCommandAck,
    OptionPosition,
    OrderEvent,
    Payload,
    Position,
    Quote,
    SchemaError,
    ServiceHeartbeat,
    StrategyPnl,
    StrategySignal,
    Trade,
    WatchdogAlert,
    decode,
    encode,
    payload_type_for,
)

T0 = datetime(2025, 3, 14, 14, 30, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
DIGEST = "ab" * 32

GREEKS = Greeks(
    fund_id="paper-momentum",
    ts=T0,
    options=[
        OptionPosition(
            symbol="AAPL  250620C00190000",
            underlying="AAPL",
            kind="call",
            spot=189.25,
            strike=190.0,
            expiry=date(2025, 6, 20),
            t_years=0.27,
            rate=0.045,
            vol=0.28,
            quantity=-10.0,
        )
    ],
)

SAMPLES: dict[type[Payload], Payload] = {
    HaltRequested: HaltRequested(
        halt_id="h-1",
        severity="FUND_HALT",
        mode="cancel_open",
        fund_id="paper-momentum",
        reason="drawdown limit breached",
        requested_by="watchdog:vol_dd",
        requested_at=T0,
    ),
    HaltRefused: HaltRefused(
        refusal_id=1,
        action="resume",
        halt_id="h-1",
        scope="fund.paper-momentum",
        requested_by="operator:alice",
        cosigned_by="service:riskengine",
        code="cosigner_not_operator",
        field="cosigned_by",
        problem="cosigned_by: only a registered operator can cosign a resume",
        refused_at=T0,
    ),
    HaltResumed: HaltResumed(
        halt_id="h-2",
        severity="FIRM_HALT",
        mode="flatten",
        reason="market dislocation over",
        requested_by="operator:alice",
        resumed_by="operator:bob",
        cosigned_by="operator:carol",
        requested_at=T0,
        resumed_at=T1,
    ),
    AuditAppended: AuditAppended(
        sequence=7,
        hash=DIGEST,
        actor="operator:alice",
        action="halt.request",
        subject_id="h-1",
        timestamp_us=1_741_962_600_000_000,
    ),
    AuditCheckpoint: AuditCheckpoint(
        tree_size=8,
        sequence=7,
        head_hash=DIGEST,
        merkle_root="cd" * 32,
        note="mts.v1.audit\n8\nzZ0=\n\n— mts-audit AbCd==\n",
        key_id="mts-audit+1a2b3c4d",
        signed_at=T1,
    ),
    WatchdogAlert: WatchdogAlert(
        alert_id="a-1",
        watchdog="vpin",
        status="firing",
        subject_id="AAPL",
        value=0.93,
        threshold=0.9,
        message="VPIN above threshold",
        window_start=T0,
        window_end=T1,
        fired_at=T1,
    ),
    ServiceHeartbeat: ServiceHeartbeat(
        service="halt",
        instance_id="halt-7f3a",
        pid=4242,
        host="ops-1",
        http_url="http://127.0.0.1:8101",
        ready=True,
        version="0.1.0",
        started_at=T0,
        sent_at=T1,
    ),
    OperationsCommand: OperationsCommand(
        command_id="c-1",
        command="watchdog",
        targets=["watchdogs"],
        requested_by="operator:alice",
        issued_at=T0,
        args={"watchdog": "vpin", "action": "disable"},
    ),
    OperationsCommandAck: OperationsCommandAck(
        command_id="c-1",
        service="watchdogs",
        instance_id="watchdogs-1",
        accepted=True,
        detail="vpin disabled",
        acked_at=T1,
    ),
    OmsCommand: OmsCommand(
        command_id="c-2",
        command="cancel_all",
        requested_by="service:halt",
        fund_ids=["paper-momentum"],
        paper_only=True,
        reason="halt h-1",
        halt_id="h-1",
        issued_at=T0,
    ),
    OmsCommandAck: OmsCommandAck(
        command_id="c-2",
        responder="paper-oms",
        command="cancel_all",
        ok=True,
        orders_cancelled=3,
        acked_at=T1,
    ),
    Trade: Trade(symbol="AAPL", ts=T0, price=189.25, size=100.0, side=-1, trade_id="t-1"),
    Quote: Quote(symbol="AAPL", ts=T0, bid=189.2, ask=189.3, bid_size=300.0, ask_size=200.0),
    Bar: Bar(
        symbol="AAPL",
        interval="5m",
        start=T0,
        end=T1,
        open=189.0,
        high=190.0,
        low=188.5,
        close=189.5,
        volume=12_000.0,
        vwap=189.4,
        trade_count=140,
    ),
    NewsItem: NewsItem(
        news_id="n-1",
        symbol="AAPL",
        headline="Apple announces results",
        source="newswire",
        published_at=T0,
        url="https://news.example/n-1",
        sentiment=0.4,
    ),
    Nav: Nav(fund_id="paper-momentum", ts=T0, nav=10_250_000.0, day_pnl=-12_500.5),
    Position: Position(
        fund_id="paper-momentum",
        strategy_id="mom-us-eq",
        symbol="AAPL",
        ts=T0,
        quantity=-500.0,
        avg_price=190.1,
        market_price=189.25,
    ),
    Greeks: GREEKS,
    StrategyPnl: StrategyPnl(
        strategy_id="mom-us-eq",
        fund_id="paper-momentum",
        ts=T0,
        day_pnl=1_250.0,
        realized_pnl=800.0,
        unrealized_pnl=450.0,
    ),
    StrategySignal: StrategySignal(
        strategy_id="mom-us-eq", fund_id="paper-momentum", symbol="AAPL", ts=T0, value=0.8
    ),
    ComplianceReportFact: ComplianceReportFact(
        report_id=7,
        regime="cat",
        fund_id="live-equities",
        report_key="live-equities-o-1-MENO",
        event_type="MENO",
        order_id="o-1",
        source_event_id="e-1",
        trade_date=date(2025, 3, 14),
        status="rejected",
        problems=[ComplianceProblem(field="destination", problem="is required for a route")],
        actor="service:compliance",
        at=T1,
    ),
    ComplianceFileFact: ComplianceFileFact(
        file_id=3,
        regime="cat",
        fund_id="live-equities",
        name="ABCD12345_ABCD12345_20250314_OrderEvents_000001.json",
        trade_date=date(2025, 3, 14),
        sequence=1,
        record_count=12,
        sha256=DIGEST,
        deadline=T1 + timedelta(days=1),
        status="submitted",
        attempts=1,
        destination="/var/compliance/cat/ABCD12345_ABCD12345_20250314_OrderEvents_000001.json",
        actor="service:compliance",
        at=T1,
    ),
    OrderEvent: OrderEvent(
        event="filled",
        event_id="e-1",
        order_id="o-1",
        fund_id="live-equities",
        strategy_id="stat-arb-1",
        symbol="AAPL",
        side="sell_short",
        quantity=Decimal("100"),
        order_type="limit",
        limit_price=Decimal("189.2500"),
        venue="XNAS",
        fill_quantity=Decimal("40"),
        fill_price=Decimal("189.2575"),
        ts=T1,
    ),
}


def _builtins(payload: Payload) -> dict[str, Any]:
    raw = msgspec.to_builtins(payload)
    assert isinstance(raw, dict)
    return raw


def _decode_changed(payload: Payload, **changes: Any) -> Payload:
    """Decode ``payload``'s JSON with some fields changed (None deletes the field)."""
    raw = _builtins(payload)
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return decode(json.dumps(raw).encode(), type(payload))


# ---------------------------------------------------------------- round trips


def test_every_payload_struct_has_a_sample() -> None:
    exported = [getattr(schemas, name) for name in schemas.__all__]
    payload_types = {t for t in exported if isinstance(t, type) and issubclass(t, Payload)}
    assert payload_types - {Payload} == set(SAMPLES)


@pytest.mark.parametrize("payload", list(SAMPLES.values()), ids=lambda p: type(p).__name__)
def test_every_payload_round_trips_and_is_tagged(payload: Payload) -> None:
    data = encode(payload)
    assert json.loads(data)["type"] == type(payload).__name__
    assert decode(data, type(payload)) == payload
    assert decode(data.decode(), type(payload)) == payload


@pytest.mark.parametrize("payload", list(SAMPLES.values()), ids=lambda p: type(p).__name__)
def test_unknown_fields_from_newer_producers_are_ignored(payload: Payload) -> None:
    assert _decode_changed(payload, added_in_v1_1="whatever", flags={"x": 1}) == payload


@pytest.mark.parametrize("payload", list(SAMPLES.values()), ids=lambda p: type(p).__name__)
def test_the_tag_is_optional_on_decode(payload: Payload) -> None:
    assert _decode_changed(payload, type=None) == payload


def test_a_payload_of_another_type_is_refused_at_its_tag() -> None:
    data = encode(SAMPLES[HaltRequested])
    with pytest.raises(SchemaError) as caught:
        decode(data, HaltResumed)
    assert caught.value.path == "$.type"


def test_order_decimals_travel_as_exact_strings() -> None:
    raw = json.loads(encode(SAMPLES[OrderEvent]))
    assert raw["limit_price"] == "189.2500"
    assert raw["fill_price"] == "189.2575"


def test_json_number_decimals_are_exact() -> None:
    # A producer sending JSON numbers still gets exact decimals, not binary floats.
    data = encode(SAMPLES[OrderEvent]).replace(b'"189.2575"', b"189.2575").replace(b'"40"', b"0.1")
    event = decode(data, OrderEvent)
    assert event.fill_price == Decimal("189.2575")
    assert event.fill_quantity == Decimal("0.1")


timezones = st.builds(
    timezone, st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(lambda m: timedelta(minutes=m))
)
aware = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=timezones
).filter(lambda d: d.utcoffset() is not None)
prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
sizes = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
token_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:=@^~"
tokens = st.text(alphabet=token_chars, min_size=1, max_size=24)
ids = st.text(min_size=1, max_size=40)
decimals = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("999999999.999999"), places=6, allow_nan=False
)


@st.composite
def bars(draw: st.DrawFn) -> Bar:
    low, high = sorted((draw(prices), draw(prices)))
    start = draw(aware)
    return Bar(
        symbol=draw(tokens),
        interval=draw(st.sampled_from(subjects.BAR_INTERVALS)),  # type: ignore[arg-type]
        start=start,
        end=start + draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=1))),
        open=draw(st.floats(min_value=low, max_value=high)),
        high=high,
        low=low,
        close=draw(st.floats(min_value=low, max_value=high)),
        volume=draw(sizes),
        vwap=draw(st.none() | st.floats(min_value=low, max_value=high)),
        trade_count=draw(st.none() | st.integers(min_value=0, max_value=10**9)),
    )


@st.composite
def order_events(draw: st.DrawFn) -> OrderEvent:
    event = draw(st.sampled_from(subjects.OMS_ORDER_EVENTS))
    order_type = draw(st.sampled_from(["market", "limit"]))
    quantity = draw(decimals)
    filled = event == "filled"
    return OrderEvent(
        event=event,  # type: ignore[arg-type]
        event_id=draw(ids),
        order_id=draw(ids),
        fund_id=draw(tokens),
        strategy_id=draw(st.none() | tokens),
        symbol=draw(tokens),
        side=draw(st.sampled_from(["buy", "sell", "sell_short"])),  # type: ignore[arg-type]
        quantity=quantity,
        order_type=order_type,  # type: ignore[arg-type]
        limit_price=draw(decimals) if order_type == "limit" else None,
        time_in_force=draw(st.sampled_from(["day", "gtc", "ioc", "fok", "opg", "cls"])),  # type: ignore[arg-type]
        venue=draw(st.none() | ids),
        fill_quantity=draw(decimals.filter(lambda q: q <= quantity)) if filled else None,
        fill_price=draw(decimals) if filled else None,
        ts=draw(aware),
    )


@st.composite
def greeks(draw: st.DrawFn) -> Greeks:
    option = st.builds(
        OptionPosition,
        symbol=ids,
        underlying=tokens,
        kind=st.sampled_from(["call", "put"]),
        spot=prices,
        strike=prices,
        expiry=st.none() | st.dates(),
        t_years=st.floats(min_value=0, max_value=30),
        rate=st.floats(min_value=-0.05, max_value=0.5),
        vol=st.floats(min_value=1e-4, max_value=5),
        quantity=st.floats(min_value=-1e6, max_value=1e6),
        multiplier=prices,
    )
    return Greeks(fund_id=draw(tokens), ts=draw(aware), options=draw(st.lists(option, max_size=5)))


@st.composite
def halts(draw: st.DrawFn) -> HaltRequested:
    severity = draw(st.sampled_from(["FIRM_HALT", "FUND_HALT", "STRATEGY_HALT"]))
    return HaltRequested(
        halt_id=draw(ids),
        severity=severity,  # type: ignore[arg-type]
        mode=draw(st.sampled_from(["block_new", "cancel_open", "flatten"])),  # type: ignore[arg-type]
        fund_id=None if severity == "FIRM_HALT" else draw(tokens),
        strategy_id=draw(tokens) if severity == "STRATEGY_HALT" else None,
        reason=draw(ids),
        requested_by=draw(ids),
        requested_at=draw(aware),
        forced=draw(st.booleans()),
    )


quotes = st.builds(Quote, symbol=tokens, ts=aware, bid=sizes, ask=sizes, bid_size=sizes, ask_size=sizes)
trades = st.builds(
    Trade,
    symbol=tokens,
    ts=aware,
    price=prices,
    size=prices,
    side=st.sampled_from([1, -1, None]),
    trade_id=st.none() | ids,
)


@given(st.one_of(bars(), order_events(), greeks(), halts(), quotes, trades))
def test_generated_payloads_round_trip_exactly(payload: Payload) -> None:
    decoded = decode(encode(payload), type(payload))
    assert decoded == payload
    assert msgspec.to_builtins(decoded) == msgspec.to_builtins(payload)


@given(order_events())
def test_order_decimals_keep_their_exact_digits(event: OrderEvent) -> None:
    decoded = decode(encode(event), OrderEvent)
    assert str(decoded.quantity) == str(event.quantity)
    assert str(decoded.limit_price) == str(event.limit_price)
    assert str(decoded.fill_price) == str(event.fill_price)


# ---------------------------------------------------------------- refusals naming the field


@pytest.mark.parametrize(
    ("payload_type", "changes", "path", "problem"),
    [
        (HaltRequested, {"severity": "HALT"}, "$.severity", "Expected 'FIRM_HALT' | 'FUND_HALT' | "),
        (HaltRequested, {"mode": "panic"}, "$.mode", "got 'panic'"),
        (HaltRequested, {"halt_id": ""}, "$.halt_id", "length >= 1"),
        (HaltRequested, {"reason": None}, "$.reason", "required field is missing"),
        (HaltRequested, {"fund_id": "paper.momentum"}, "$.fund_id", "not a single subject token"),
        (HaltRequested, {"fund_id": None}, "$.fund_id", "is required for a FUND_HALT"),
        (HaltRequested, {"strategy_id": "s1"}, "$.strategy_id", "must be null for a FUND_HALT"),
        (HaltRequested, {"forced": "yes"}, "$.forced", "Expected `bool`"),
        (HaltResumed, {"cosigned_by": "operator:bob"}, "$.cosigned_by", "different actor"),
        (HaltResumed, {"fund_id": "f1"}, "$.fund_id", "must be null for a FIRM_HALT"),
        (HaltResumed, {"resumed_at": "2025-03-14T14:00:00Z"}, "$.resumed_at", "before requested_at"),
        (AuditAppended, {"hash": "AB" * 32}, "$.hash", "matching regex"),
        (AuditAppended, {"hash": "ab" * 31}, "$.hash", "matching regex"),
        (AuditAppended, {"sequence": -1}, "$.sequence", ">= 0"),
        (AuditAppended, {"timestamp_us": 1.5}, "$.timestamp_us", "Expected `int`"),
        (AuditCheckpoint, {"tree_size": 0}, "$.tree_size", ">= 1"),
        (AuditCheckpoint, {"note": ""}, "$.note", "length >= 1"),
        (WatchdogAlert, {"watchdog": "latency"}, "$.watchdog", "Expected 'health' | 'drift'"),
        (WatchdogAlert, {"status": "pending"}, "$.status", "Expected 'firing' | 'resolved'"),
        (WatchdogAlert, {"window_start": "2025-03-14T15:00:00Z"}, "$.window_end", "before window_start"),
        (ServiceHeartbeat, {"pid": 0}, "$.pid", ">= 1"),
        (ServiceHeartbeat, {"service": "halt svc"}, "$.service", "not a single subject token"),
        (ServiceHeartbeat, {"ready": None}, "$.ready", "required field is missing"),
        (OperationsCommand, {"command": "stop"}, "$.command", "Expected 'restart' | 'watchdog'"),
        (OperationsCommand, {"targets": ["halt", "a.b"]}, "$.targets[1]", "not a single subject token"),
        (OperationsCommand, {"args": {"n": 3}}, "$.args[...]", "Expected `str`"),
        (OperationsCommandAck, {"accepted": None}, "$.accepted", "required field is missing"),
        (OmsCommand, {"command": "cancel"}, "$.command", "Expected 'cancel_all' | 'flatten'"),
        (OmsCommand, {"paper_only": None}, "$.paper_only", "required field is missing"),
        (OmsCommand, {"fund_ids": None}, "$.fund_ids", "required field is missing"),
        (OmsCommandAck, {"ok": False}, "$.error", "is required when ok is false"),
        (OmsCommandAck, {"orders_cancelled": -2}, "$.orders_cancelled", ">= 0"),
        (Trade, {"price": 0}, "$.price", "> 0.0"),
        (Trade, {"side": 2}, "$.side", "Expected 1 | -1, got 2"),
        (Trade, {"symbol": "BRK.B"}, "$.symbol", "not a single subject token"),
        (Trade, {"symbol": "AAPL\n"}, "$.symbol", "not a single subject token"),
        (Quote, {"bid_size": -1}, "$.bid_size", ">= 0.0"),
        (Quote, {"ask": "189.3"}, "$.ask", "Expected `float`, got `str`"),
        (Bar, {"interval": "2m"}, "$.interval", "Expected '1m' | '5m' | '15m' | '1h' | '1d'"),
        (Bar, {"end": "2025-03-14T14:30:00Z"}, "$.end", "must be after start"),
        (Bar, {"high": 188.0}, "$.low", "is above high"),
        (Bar, {"open": 191.0}, "$.open", "outside [low, high]"),
        (Bar, {"close": 100.0}, "$.close", "outside [low, high]"),
        (Bar, {"trade_count": -1}, "$.trade_count", ">= 0"),
        (NewsItem, {"sentiment": 1.5}, "$.sentiment", "<= 1"),
        (NewsItem, {"headline": ""}, "$.headline", "length >= 1"),
        (Nav, {"nav": -1}, "$.nav", ">= 0.0"),
        (Position, {"fund_id": "*"}, "$.fund_id", "not a single subject token"),
        (StrategyPnl, {"day_pnl": None}, "$.day_pnl", "required field is missing"),
        (StrategySignal, {"strategy_id": ""}, "$.strategy_id", "not a single subject token"),
        (OrderEvent, {"event": "rejected"}, "$.event", "Expected 'new' | 'routed'"),
        (OrderEvent, {"side": "short"}, "$.side", "Expected 'buy' | 'sell' | 'sell_short'"),
        (OrderEvent, {"quantity": "0"}, "$.quantity", "must be > 0"),
        (OrderEvent, {"quantity": "abc"}, "$.quantity", "Invalid decimal string"),
        (OrderEvent, {"quantity": "NaN"}, "$.quantity", "must be a finite number"),
        (OrderEvent, {"limit_price": None}, "$.limit_price", "is required for a limit order"),
        (OrderEvent, {"order_type": "market"}, "$.limit_price", "must be null for a market order"),
        (OrderEvent, {"fill_price": None}, "$.fill_price", "is required for a filled event"),
        (OrderEvent, {"event": "routed"}, "$.fill_quantity", "must be null for a routed event"),
        (OrderEvent, {"fill_quantity": "101"}, "$.fill_quantity", "exceeds the order quantity 100"),
        (OrderEvent, {"time_in_force": "forever"}, "$.time_in_force", "Expected 'day' | 'gtc'"),
    ],
)
def test_invalid_payload_is_refused_naming_the_field(
    payload_type: type[Payload], changes: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        _decode_changed(SAMPLES[payload_type], **changes)
    assert caught.value.path == path
    assert problem in caught.value.problem
    assert str(caught.value) == f"{path}: {caught.value.problem}"


@pytest.mark.parametrize(
    ("options", "path", "problem"),
    [
        ([{"kind": "straddle"}], "$.options[0].kind", "Expected 'call' | 'put', got 'straddle'"),
        ([{}, {"vol": 0}], "$.options[1].vol", "> 0.0"),
        ([{}, {}, {"spot": None}], "$.options[2].spot", "required field is missing"),
        ([{"expiry": "2025-13-01"}], "$.options[0].expiry", "Invalid RFC3339 encoded date"),
    ],
)
def test_nested_errors_name_the_full_path(options: list[dict[str, Any]], path: str, problem: str) -> None:
    base = _builtins(SAMPLES[Greeks])["options"][0]
    changed = []
    for change in options:
        option = dict(base)
        for key, value in change.items():
            if value is None:
                option.pop(key)
            else:
                option[key] = value
        changed.append(option)
    with pytest.raises(SchemaError) as caught:
        _decode_changed(SAMPLES[Greeks], options=changed)
    assert caught.value.path == path
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (payload, field)
        for payload in SAMPLES.values()
        for field in payload.__struct_fields__
        if isinstance(getattr(payload, field), datetime)
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Payload) else str(value),
)
def test_naive_datetimes_are_refused(payload: Payload, field: str) -> None:
    with pytest.raises(SchemaError) as caught:
        _decode_changed(payload, **{field: "2025-03-14T14:30:00"})
    assert caught.value.path == f"$.{field}"
    assert "timezone" in caught.value.problem
    # ... and already when a producer builds one.
    naive = getattr(payload, field).replace(tzinfo=None)
    with pytest.raises(FieldValueError, match=f"^{field}: must be a timezone-aware datetime"):
        msgspec.structs.replace(payload, **{field: naive})


def test_malformed_json_is_a_schema_error() -> None:
    with pytest.raises(SchemaError) as caught:
        decode(b'{"symbol": "AAPL", ', Trade)
    assert caught.value.path == "$"
    with pytest.raises(SchemaError, match=r"^\$: Expected `object`, got `array`"):
        decode(b"[]", Trade)
    assert issubclass(SchemaError, ValueError)


def test_encode_refuses_what_decode_would_refuse() -> None:
    # msgspec does not check annotations on construction; encode does, so nothing invalid is published.
    with pytest.raises(SchemaError) as caught:
        encode(Trade(symbol="AAPL", ts=T0, price=-5.0, size=1.0))
    assert caught.value.path == "$.price"
    with pytest.raises(SchemaError, match=r"^\$\.severity: "):
        encode(msgspec.structs.replace(SAMPLES[HaltResumed], severity="GLOBAL_HALT"))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused_on_construction(bad: float) -> None:
    with pytest.raises(FieldValueError, match=r"^value: must be a finite number"):
        msgspec.structs.replace(SAMPLES[WatchdogAlert], value=bad)
    with pytest.raises(FieldValueError, match=r"^vol: must be a finite number"):
        msgspec.structs.replace(GREEKS.options[0], vol=bad)


def test_cross_field_rules_apply_on_construction() -> None:
    with pytest.raises(FieldValueError) as caught:
        HaltRequested(
            halt_id="h",
            severity="STRATEGY_HALT",
            mode="block_new",
            reason="r",
            requested_by="operator:a",
            requested_at=T0,
        )
    assert caught.value.field == "strategy_id"
    with pytest.raises(FieldValueError, match=r"^error: is required when ok is false"):
        msgspec.structs.replace(SAMPLES[OmsCommandAck], ok=False)
    failed = msgspec.structs.replace(SAMPLES[OmsCommandAck], ok=False, error="OMS unavailable")
    assert decode(encode(failed), OmsCommandAck) == failed


# ---------------------------------------------------------------- subject → payload type


@pytest.mark.parametrize(
    ("subject", "payload_type"),
    [
        (subjects.halt_requested(), HaltRequested),
        (subjects.halt_resumed(), HaltResumed),
        (subjects.audit_appended(), AuditAppended),
        (subjects.audit_checkpoint(), AuditCheckpoint),
        *[(subjects.watchdog_alert(k), WatchdogAlert) for k in subjects.WATCHDOG_KINDS],
        (subjects.service_heartbeat("marketdata-api"), ServiceHeartbeat),
        *[(subjects.oms_command(c), OmsCommand) for c in subjects.OMS_COMMANDS],
        *[(subjects.operations_command(c), OperationsCommand) for c in subjects.OPERATIONS_COMMANDS],
        (subjects.marketdata_trade("AAPL"), Trade),
        (subjects.marketdata_quote("AAPL"), Quote),
        *[(subjects.marketdata_bar(i, "AAPL"), Bar) for i in subjects.BAR_INTERVALS],
        (subjects.news_item("AAPL"), NewsItem),
        (subjects.portfolio_nav("paper-momentum"), Nav),
        (subjects.portfolio_position("paper-momentum"), Position),
        (subjects.portfolio_greeks("paper-momentum"), Greeks),
        (subjects.strategy_pnl("mom-us-eq"), StrategyPnl),
        (subjects.strategy_signal("mom-us-eq"), StrategySignal),
        *[(subjects.oms_order(e), OrderEvent) for e in subjects.OMS_ORDER_EVENTS],
    ],
)
def test_payload_type_for_every_subject_family(subject: str, payload_type: type[Payload]) -> None:
    assert payload_type_for(subject) is payload_type


@pytest.mark.parametrize(
    "subject",
    [
        "mts.v1.operations.watchdog.latency",
        "mts.v1.oms.cmd.cancel",
        "mts.v1.oms.order.rejected",
        "mts.v1.marketdata.bar.2m.AAPL",
        "mts.v1.marketdata.trade",
        "mts.v1.marketdata.trade.",
        "mts.v1.marketdata.trade.AAPL.extra",
        "mts.v1.marketdata.trade.*",
        "mts.v2.marketdata.trade.AAPL",
        "mts.v1.operations.halt",
        "",
    ],
)
def test_payload_type_for_unknown_subjects_is_none(subject: str) -> None:
    assert payload_type_for(subject) is None


@given(tokens)
def test_payload_type_for_any_id_token(token: str) -> None:
    assert payload_type_for(subjects.portfolio_nav(token)) is Nav
    assert payload_type_for(subjects.marketdata_bar("1d", token)) is Bar


def test_payload_types_map_every_payload_but_the_replies() -> None:
    # OmsCommandAck is a reply on the OMS side; the halt service republishes it as a fact.
    assert set(schemas.PAYLOAD_TYPES.values()) == set(SAMPLES) - {OperationsCommandAck}
    assert all(pattern.startswith(subjects.PREFIX + ".") for pattern in schemas.PAYLOAD_TYPES)


@pytest.mark.parametrize("payload", list(SAMPLES.values()), ids=lambda p: type(p).__name__)
def test_a_consumer_of_everything_decodes_by_subject(payload: Payload) -> None:
    subject = next(
        (s for s in _sample_subjects() if payload_type_for(s) is type(payload)),
        None,
    )
    if isinstance(payload, OperationsCommandAck):
        assert subject is None
        return
    assert subject is not None
    payload_type = payload_type_for(subject)
    assert payload_type is not None
    assert decode(encode(payload), payload_type) == payload


def _sample_subjects() -> list[str]:
    return [
        subjects.halt_requested(),
        subjects.halt_resumed(),
        subjects.halt_refused(),
        subjects.halt_oms_command(),
        subjects.halt_oms_ack(),
        subjects.audit_appended(),
        subjects.audit_checkpoint(),
        subjects.watchdog_alert("vpin"),
        subjects.service_heartbeat("halt"),
        subjects.oms_command("flatten"),
        subjects.operations_command("restart"),
        subjects.marketdata_trade("AAPL"),
        subjects.marketdata_quote("AAPL"),
        subjects.marketdata_bar("5m", "AAPL"),
        subjects.news_item("AAPL"),
        subjects.portfolio_nav("f"),
        subjects.portfolio_position("f"),
        subjects.portfolio_greeks("f"),
        subjects.strategy_pnl("s"),
        subjects.strategy_signal("s"),
        subjects.oms_order("filled"),
        subjects.compliance_report("rejected"),
        subjects.compliance_file("submitted"),
    ]


@given(st.text(max_size=140))
def test_token_pattern_agrees_with_subjects_token_of(text: str) -> None:
    try:
        subjects.token_of("symbol", text)
        valid = True
    except subjects.InvalidSubjectTokenError:
        valid = False
    payload = msgspec.to_builtins(SAMPLES[Trade]) | {"symbol": text}
    if valid:
        assert schemas.convert(payload, Trade).symbol == text
    else:
        with pytest.raises(SchemaError) as caught:
            schemas.convert(payload, Trade)
        assert caught.value.path == "$.symbol"
