"""Subject builders: every subject of the contract, and bad tokens rejected naming the field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mts1b_operations.core import subjects
from mts1b_operations.core.subjects import InvalidSubjectTokenError

TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:=@^~"
valid_tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=128)


def test_fixed_subjects() -> None:
    assert subjects.halt_requested() == "mts.v1.operations.halt.requested"
    assert subjects.halt_resumed() == "mts.v1.operations.halt.resumed"
    assert subjects.audit_appended() == "mts.v1.operations.audit.appended"
    assert subjects.audit_checkpoint() == "mts.v1.operations.audit.checkpoint"
    assert subjects.audit_checkpoint() == subjects.AUDIT_CHECKPOINT


@pytest.mark.parametrize(
    ("builder", "argument", "expected"),
    [
        (subjects.service_heartbeat, "halt", "mts.v1.operations.service.heartbeat.halt"),
        (subjects.marketdata_trade, "AAPL", "mts.v1.marketdata.trade.AAPL"),
        (subjects.marketdata_quote, "BRK-B", "mts.v1.marketdata.quote.BRK-B"),
        (subjects.news_item, "MSFT", "mts.v1.news.item.MSFT"),
        (subjects.portfolio_nav, "paper-momentum", "mts.v1.portfolio.nav.paper-momentum"),
        (subjects.portfolio_position, "live-equities", "mts.v1.portfolio.position.live-equities"),
        (subjects.portfolio_greeks, "paper-momentum", "mts.v1.portfolio.greeks.paper-momentum"),
        (subjects.strategy_pnl, "mom-us-eq", "mts.v1.strategy.pnl.mom-us-eq"),
        (subjects.strategy_signal, "stat-arb-1", "mts.v1.strategy.signal.stat-arb-1"),
    ],
)
def test_token_builders(builder: Callable[[str], str], argument: str, expected: str) -> None:
    assert builder(argument) == expected


def test_marketdata_bar() -> None:
    assert subjects.marketdata_bar("5m", "AAPL") == "mts.v1.marketdata.bar.5m.AAPL"
    assert [subjects.marketdata_bar(i, "X") for i in subjects.BAR_INTERVALS] == [
        "mts.v1.marketdata.bar.1m.X",
        "mts.v1.marketdata.bar.5m.X",
        "mts.v1.marketdata.bar.15m.X",
        "mts.v1.marketdata.bar.1h.X",
        "mts.v1.marketdata.bar.1d.X",
    ]


def test_enumerated_builders_cover_the_contract() -> None:
    assert [subjects.watchdog_alert(k) for k in subjects.WATCHDOG_KINDS] == [
        f"mts.v1.operations.watchdog.{k}"
        for k in (
            "health",
            "drift",
            "vpin",
            "news",
            "position",
            "db",
            "strategy",
            "theta",
            "dependency",
            "vol_dd",
        )
    ]
    assert [subjects.oms_command(c) for c in subjects.OMS_COMMANDS] == [
        "mts.v1.oms.cmd.cancel_all",
        "mts.v1.oms.cmd.flatten",
    ]
    assert [subjects.operations_command(c) for c in subjects.OPERATIONS_COMMANDS] == [
        "mts.v1.operations.cmd.restart",
        "mts.v1.operations.cmd.watchdog",
    ]
    assert [subjects.compliance_report(o) for o in subjects.COMPLIANCE_REPORT_OUTCOMES] == [
        f"mts.v1.operations.compliance.report.{o}" for o in ("stored", "rejected", "repaired")
    ]
    assert [subjects.compliance_file(o) for o in subjects.COMPLIANCE_FILE_OUTCOMES] == [
        "mts.v1.operations.compliance.file.submitted",
        "mts.v1.operations.compliance.file.failed",
    ]
    assert [subjects.oms_order(e) for e in subjects.OMS_ORDER_EVENTS] == [
        f"mts.v1.oms.order.{e}" for e in ("new", "routed", "accepted", "modified", "canceled", "filled")
    ]


def test_wildcards_are_under_the_prefix() -> None:
    assert subjects.ALL == "mts.v1.>"
    assert subjects.OPERATIONS_ALL == "mts.v1.operations.>"
    assert subjects.WATCHDOG_ALL == "mts.v1.operations.watchdog.*"
    assert subjects.SERVICE_HEARTBEAT_ALL == "mts.v1.operations.service.heartbeat.*"
    assert subjects.MARKETDATA_ALL == "mts.v1.marketdata.>"
    assert subjects.NEWS_ALL == "mts.v1.news.>"
    assert subjects.PORTFOLIO_ALL == "mts.v1.portfolio.>"
    assert subjects.STRATEGY_ALL == "mts.v1.strategy.>"
    assert subjects.OMS_ORDER_ALL == "mts.v1.oms.order.*"
    assert subjects.COMPLIANCE_ALL == "mts.v1.operations.compliance.>"


@pytest.mark.parametrize(
    ("builder", "field"),
    [
        (subjects.service_heartbeat, "service"),
        (subjects.marketdata_trade, "symbol"),
        (subjects.marketdata_quote, "symbol"),
        (subjects.news_item, "symbol"),
        (subjects.portfolio_nav, "fund_id"),
        (subjects.portfolio_position, "fund_id"),
        (subjects.portfolio_greeks, "fund_id"),
        (subjects.strategy_pnl, "strategy_id"),
        (subjects.strategy_signal, "strategy_id"),
    ],
)
@pytest.mark.parametrize("bad", ["", "BRK.B", "*", ">", "a b", "tab\there", "AAPL\n", "x" * 129, "é"])
def test_bad_tokens_are_rejected_naming_the_field(
    builder: Callable[[str], str], field: str, bad: str
) -> None:
    with pytest.raises(InvalidSubjectTokenError) as caught:
        builder(bad)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: {bad!r}")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: subjects.watchdog_alert("bogus"), "kind"),
        (lambda: subjects.oms_command("cancel"), "command"),
        (lambda: subjects.operations_command("stop"), "command"),
        (lambda: subjects.oms_order("rejected"), "event"),
        (lambda: subjects.marketdata_bar("2m", "AAPL"), "interval"),
        (lambda: subjects.marketdata_bar("1m", "A.B"), "symbol"),
    ],
)
def test_unknown_enumerations_are_rejected_naming_the_field(call: Callable[[], str], field: str) -> None:
    with pytest.raises(InvalidSubjectTokenError, match=f"^{field}: "):
        call()


def test_token_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="symbol"):
        subjects.marketdata_trade("A B")


@given(valid_tokens)
def test_every_valid_token_builds_a_subject_ending_in_it(token: str) -> None:
    subject = subjects.portfolio_nav(token)
    assert subject.split(".") == ["mts", "v1", "portfolio", "nav", token]
    assert subjects.token_of("fund_id", token) == token


@given(st.text(min_size=1, max_size=20), st.sampled_from([".", "*", ">", " ", "\n", "\x00"]))
def test_a_token_with_a_separator_or_wildcard_is_rejected(text: str, bad: str) -> None:
    with pytest.raises(InvalidSubjectTokenError):
        subjects.token_of("symbol", text[: len(text) // 2] + bad + text[len(text) // 2 :])


def test_non_string_token_is_rejected() -> None:
    with pytest.raises(InvalidSubjectTokenError, match=r"^fund_id: 42"):
        subjects.token_of("fund_id", 42)  # type: ignore[arg-type]
