"""Every NATS subject of the contract, built by function so no module writes one by hand.

All subjects live under ``mts.v1``. Variable parts (symbols, fund, strategy and service
ids) must be single NATS tokens: no dots, wildcards or whitespace.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

__all__ = [
    "ALL",
    "AUDIT_CHECKPOINT",
    "BAR_INTERVALS",
    "COMPLIANCE_ALL",
    "COMPLIANCE_FILE_OUTCOMES",
    "COMPLIANCE_REPORT_OUTCOMES",
    "HALT_ALL",
    "MARKETDATA_ALL",
    "NEWS_ALL",
    "OMS_COMMANDS",
    "OMS_ORDER_ALL",
    "OMS_ORDER_EVENTS",
    "OPERATIONS_ALL",
    "OPERATIONS_COMMANDS",
    "OPERATIONS_COMMAND_ALL",
    "PORTFOLIO_ALL",
    "PREFIX",
    "SERVICE_HEARTBEAT_ALL",
    "STRATEGY_ALL",
    "WATCHDOG_ALL",
    "WATCHDOG_KINDS",
    "BarInterval",
    "ComplianceFileOutcome",
    "ComplianceReportOutcome",
    "InvalidSubjectTokenError",
    "OmsCommand",
    "OmsOrderEvent",
    "OperationsCommand",
    "WatchdogKind",
    "audit_appended",
    "audit_checkpoint",
    "compliance_file",
    "compliance_report",
    "halt_oms_ack",
    "halt_oms_command",
    "halt_refused",
    "halt_requested",
    "halt_resumed",
    "marketdata_bar",
    "marketdata_quote",
    "marketdata_trade",
    "news_item",
    "oms_command",
    "oms_order",
    "operations_command",
    "portfolio_greeks",
    "portfolio_nav",
    "portfolio_position",
    "service_heartbeat",
    "strategy_pnl",
    "strategy_signal",
    "token_of",
    "watchdog_alert",
]

PREFIX: Final = "mts.v1"
ALL: Final = f"{PREFIX}.>"
OPERATIONS_ALL: Final = f"{PREFIX}.operations.>"
WATCHDOG_ALL: Final = f"{PREFIX}.operations.watchdog.*"
HALT_ALL: Final = f"{PREFIX}.operations.halt.>"
OPERATIONS_COMMAND_ALL: Final = f"{PREFIX}.operations.cmd.>"
SERVICE_HEARTBEAT_ALL: Final = f"{PREFIX}.operations.service.heartbeat.*"
AUDIT_CHECKPOINT: Final = f"{PREFIX}.operations.audit.checkpoint"
MARKETDATA_ALL: Final = f"{PREFIX}.marketdata.>"
NEWS_ALL: Final = f"{PREFIX}.news.>"
PORTFOLIO_ALL: Final = f"{PREFIX}.portfolio.>"
STRATEGY_ALL: Final = f"{PREFIX}.strategy.>"
OMS_ORDER_ALL: Final = f"{PREFIX}.oms.order.*"
COMPLIANCE_ALL: Final = f"{PREFIX}.operations.compliance.>"

WatchdogKind = Literal[
    "health", "drift", "vpin", "news", "position", "db", "strategy", "theta", "dependency", "vol_dd"
]
OmsCommand = Literal["cancel_all", "flatten"]
OperationsCommand = Literal["restart", "watchdog"]
OmsOrderEvent = Literal["new", "routed", "accepted", "modified", "canceled", "filled"]
BarInterval = Literal["1m", "5m", "15m", "1h", "1d"]
ComplianceReportOutcome = Literal["stored", "rejected", "repaired"]
ComplianceFileOutcome = Literal["submitted", "failed"]

WATCHDOG_KINDS: Final[tuple[str, ...]] = get_args(WatchdogKind)
OMS_COMMANDS: Final[tuple[str, ...]] = get_args(OmsCommand)
OPERATIONS_COMMANDS: Final[tuple[str, ...]] = get_args(OperationsCommand)
OMS_ORDER_EVENTS: Final[tuple[str, ...]] = get_args(OmsOrderEvent)
BAR_INTERVALS: Final[tuple[str, ...]] = get_args(BarInterval)
COMPLIANCE_REPORT_OUTCOMES: Final[tuple[str, ...]] = get_args(ComplianceReportOutcome)
COMPLIANCE_FILE_OUTCOMES: Final[tuple[str, ...]] = get_args(ComplianceFileOutcome)

_TOKEN = re.compile(r"^[A-Za-z0-9_\-:=@^~]{1,128}$")


class InvalidSubjectTokenError(ValueError):
    """A variable part of a subject is not a single NATS token."""

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        super().__init__(
            f"{field}: {value!r} is not a valid subject token "
            "(1-128 of letters, digits and _-:=@^~; no dots, wildcards or spaces)"
        )


def token_of(field: str, value: str) -> str:
    """Validate ``value`` as one subject token; the error names ``field``."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise InvalidSubjectTokenError(field, value)
    return value


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidSubjectTokenError(field, value)
    return value


def halt_requested() -> str:
    return f"{PREFIX}.operations.halt.requested"


def halt_resumed() -> str:
    return f"{PREFIX}.operations.halt.resumed"


def halt_refused() -> str:
    """A refused halt request or resume (a departure from the contract's list: docs/decisions/0002)."""
    return f"{PREFIX}.operations.halt.refused"


def halt_oms_command() -> str:
    """An OMS command the halt service sent on an operator's or a halt's behalf (fact for the audit)."""
    return f"{PREFIX}.operations.halt.oms.command"


def halt_oms_ack() -> str:
    """An OMS responder's ack to such a command (fact for the audit)."""
    return f"{PREFIX}.operations.halt.oms.ack"


def audit_appended() -> str:
    return f"{PREFIX}.operations.audit.appended"


def audit_checkpoint() -> str:
    return AUDIT_CHECKPOINT


def compliance_report(outcome: str) -> str:
    """A regulatory report was stored (valid), held as rejected, or repaired (fact for the audit)."""
    outcome = _one_of("outcome", outcome, COMPLIANCE_REPORT_OUTCOMES)
    return f"{PREFIX}.operations.compliance.report.{outcome}"


def compliance_file(outcome: str) -> str:
    """A report file was submitted, or its submission failed (fact for the audit)."""
    outcome = _one_of("outcome", outcome, COMPLIANCE_FILE_OUTCOMES)
    return f"{PREFIX}.operations.compliance.file.{outcome}"


def watchdog_alert(kind: str) -> str:
    return f"{PREFIX}.operations.watchdog.{_one_of('kind', kind, WATCHDOG_KINDS)}"


def service_heartbeat(service: str) -> str:
    return f"{PREFIX}.operations.service.heartbeat.{token_of('service', service)}"


def oms_command(command: str) -> str:
    return f"{PREFIX}.oms.cmd.{_one_of('command', command, OMS_COMMANDS)}"


def operations_command(command: str) -> str:
    return f"{PREFIX}.operations.cmd.{_one_of('command', command, OPERATIONS_COMMANDS)}"


def marketdata_trade(symbol: str) -> str:
    return f"{PREFIX}.marketdata.trade.{token_of('symbol', symbol)}"


def marketdata_quote(symbol: str) -> str:
    return f"{PREFIX}.marketdata.quote.{token_of('symbol', symbol)}"


def marketdata_bar(interval: str, symbol: str) -> str:
    interval = _one_of("interval", interval, BAR_INTERVALS)
    return f"{PREFIX}.marketdata.bar.{interval}.{token_of('symbol', symbol)}"


def news_item(symbol: str) -> str:
    return f"{PREFIX}.news.item.{token_of('symbol', symbol)}"


def portfolio_nav(fund_id: str) -> str:
    return f"{PREFIX}.portfolio.nav.{token_of('fund_id', fund_id)}"


def portfolio_position(fund_id: str) -> str:
    return f"{PREFIX}.portfolio.position.{token_of('fund_id', fund_id)}"


def portfolio_greeks(fund_id: str) -> str:
    return f"{PREFIX}.portfolio.greeks.{token_of('fund_id', fund_id)}"


def strategy_pnl(strategy_id: str) -> str:
    return f"{PREFIX}.strategy.pnl.{token_of('strategy_id', strategy_id)}"


def strategy_signal(strategy_id: str) -> str:
    return f"{PREFIX}.strategy.signal.{token_of('strategy_id', strategy_id)}"


def oms_order(event: str) -> str:
    return f"{PREFIX}.oms.order.{_one_of('event', event, OMS_ORDER_EVENTS)}"
