"""core.schemas.marketdata_api: the market-data API's answers, shared by the service and the SDK."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from mts1b_operations.core import schemas
from mts1b_operations.core.schemas import marketdata_api
from mts1b_operations.core.schemas.marketdata_api import Bar, FundStatus, HaltInForce, Quote

AT = datetime(2024, 1, 2, 9, 30, 0, 250000, tzinfo=UTC)

HALT = HaltInForce(
    key="fund.live-equities",
    halt_id="h-1",
    severity="FUND_HALT",
    mode="flatten",
    fund_id="live-equities",
    reason="stop",
    requested_by="operator:alice",
    requested_at=AT,
)
SAMPLES: list[msgspec.Struct] = [
    Quote(symbol="AAPL", ts=AT, bid=1.5, ask=1.625, bid_size=3.0, ask_size=2.0),
    Bar(symbol="AAPL", interval="1h", start=AT, end=AT, open=1, high=2, low=1, close=2, volume=0),
    HALT,
    FundStatus(
        fund_id="live-equities",
        mode="live",
        nav=None,
        day_pnl=None,
        halted=True,
        halts=[HALT],
        halted_strategies=[],
        last_update=None,
    ),
]


@pytest.mark.parametrize("answer", SAMPLES, ids=lambda a: type(a).__name__)
def test_answers_round_trip_untagged_and_ignore_unknown_fields(answer: msgspec.Struct) -> None:
    data = msgspec.json.encode(answer)
    assert not data.startswith(b'{"type"')
    assert msgspec.json.decode(data, type=type(answer)) == answer
    newer = data[:-1] + b',"added_later":{"x":[1]}}'
    assert msgspec.json.decode(newer, type=type(answer)) == answer


def test_defaults_and_field_order_are_the_wire_order() -> None:
    bar = msgspec.json.decode(
        b'{"symbol":"A","interval":"1d","start":"2024-01-02T00:00:00Z","end":"2024-01-03T00:00:00Z",'
        b'"open":1,"high":1,"low":1,"close":1,"volume":0}',
        type=Bar,
    )
    assert (bar.vwap, bar.trade_count, bar.source) == (None, None, "published")
    assert msgspec.json.encode(bar) == (
        b'{"symbol":"A","interval":"1d","start":"2024-01-02T00:00:00Z","end":"2024-01-03T00:00:00Z",'
        b'"open":1.0,"high":1.0,"low":1.0,"close":1.0,"volume":0.0,"vwap":null,"trade_count":null,'
        b'"source":"published"}'
    )
    assert HaltInForce.__struct_fields__ == (
        "key", "halt_id", "severity", "mode", "fund_id", "strategy_id", "reason", "requested_by",
        "requested_at", "forced",
    )  # fmt: skip


def test_an_answer_that_breaks_its_shape_names_the_field() -> None:
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.decode(b'{"key":"firm","halt_id":"h","severity":"SOFT_HALT"}', HaltInForce)
    assert caught.value.path == "$.severity"
    assert "'FIRM_HALT'" in caught.value.problem


def test_they_are_not_bus_payloads() -> None:
    # Kept out of the payload namespace: core.schemas.Quote and .Bar are the bus payloads.
    assert {schemas.Quote, schemas.Bar}.isdisjoint({Quote, Bar})
    assert not any(issubclass(t, schemas.Payload) for t in map(type, SAMPLES))
    assert set(marketdata_api.__all__) == {
        "Bar",
        "BarInterval",
        "BarSource",
        "FundStatus",
        "HaltInForce",
        "Quote",
    }
