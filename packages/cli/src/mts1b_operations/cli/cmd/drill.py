"""`mts cmd drill`: the halt drill. A dry run by default; ``--execute`` halts the paper funds one by one.

For each paper fund of MTS_FUNDS_FILE (live funds are never halted by a drill, and naming one
is refused) it sends a fund halt through the halt service, times trigger → gate closed →
every open order cancelled → every OMS ack (see ``_drill_run``), resumes the fund with a
second operator's cosign and waits for its orders to be accepted again. It writes
``report.json``, ``report.md`` and ``latency.png`` into ``--out`` and puts the SHA-256 of
``report.json`` into the audit chain (``POST /v1/audit/drill-reports``, docs/decisions/0005).

The dry run does everything but halt: it checks the halt service, the audit service and NATS
answer, that a HaltGate sees the ``mts_halts`` bucket, and lists the funds it would halt with
their open orders (replayed from the OMS stream).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from .._exit_codes import ExitCode
from .._output import emit_json, fail, json_option, make_table, stderr_console, stdout_console
from ..ops_group import service_failure
from ._acks import expect_option
from ._confirm import ask_secret, check_confirmation, confirm_option, interactive, type_to_confirm
from ._drill_report import plotting_available
from ._registry import LoadedRegistry, load_registry
from .resume import COSIGNER_VARIABLE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rich.console import Console

    from mts1b_operations.client import ClientConfig, Halt
    from mts1b_operations.core.bus import Bus
    from mts1b_operations.core.funds import Fund

    from ._drill_run import FundDrill
    from ._drill_watch import GateWatch, OrderTracker

__all__ = ["drill"]

WORD: Final = "DRILL"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_LOOKBACK: Final = 300.0
LIVE_REFUSED: Final = "live fund: a drill never halts a live fund"


@dataclass
class Plan:
    """What the drill would do, and what the stack looks like now."""

    drilled: list[Fund]
    skipped: list[dict[str, str]]
    open_orders: dict[str, int] = field(default_factory=dict)
    active: list[Halt] = field(default_factory=list)
    blocking: list[Halt] = field(default_factory=list)
    gate_fresh: bool = False
    gate_halts: list[str] = field(default_factory=list)
    reachable: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "funds": [
                {
                    "fund_id": f.fund_id,
                    "strategies": list(f.strategies),
                    "open_orders": self.open_orders.get(f.fund_id),
                }
                for f in self.drilled
            ],
            "skipped": self.skipped,
            "active_halts": [h.halt_id for h in self.active],
            "blocking_halts": [f"{h.halt_id} on {h.scope}" for h in self.blocking],
            "gate": {"fresh": self.gate_fresh, "halts_in_bucket": self.gate_halts},
            "reachable": self.reachable,
        }


def _choose(loaded: LoadedRegistry, named: tuple[str, ...]) -> tuple[list[Fund], list[dict[str, str]]]:
    registry = loaded.registry
    for fund_id in named:
        if fund_id not in registry:
            fail(f"--fund {fund_id!r}: no such fund in the funds registry {loaded.path}", ExitCode.USAGE)
        if not registry.fund(fund_id).is_paper:
            fail(f"--fund {fund_id!r}: {LIVE_REFUSED}", ExitCode.USAGE)
    drilled: list[Fund] = []
    skipped: list[dict[str, str]] = []
    for fund in registry:
        if not fund.is_paper:
            skipped.append({"fund_id": fund.fund_id, "why": LIVE_REFUSED})
        elif named and fund.fund_id not in named:
            skipped.append({"fund_id": fund.fund_id, "why": "not named with --fund"})
        else:
            drilled.append(fund)
    if not drilled:
        fail(f"the funds registry {loaded.path} has no paper fund to drill", ExitCode.USAGE)
    return drilled, skipped


def _config() -> ClientConfig:
    from mts1b_operations.client import ClientConfig, ConfigurationError

    try:
        return ClientConfig.from_env()
    except ConfigurationError as exc:
        fail(str(exc), ExitCode.USAGE)


def _blocking(active: list[Halt], funds: list[Fund]) -> list[Halt]:
    """Halts in force that a drill of ``funds`` would run into (the firm's, or a drilled fund's)."""
    ids = {f.fund_id for f in funds}
    return [h for h in active if h.scope == "firm" or (h.severity == "FUND_HALT" and h.fund_id in ids)]


async def _watching(
    config: ClientConfig,
    lookback: float,
    within: float,
    work: Callable[[Bus, GateWatch, OrderTracker], Awaitable[Any]],
) -> Any:
    """Connect to NATS, start a HaltGate and the order tracker, run ``work``, stop them all."""
    from mts1b_operations.client import HaltGate
    from mts1b_operations.core.bus import connect_bus

    from ._drill_watch import GateWatch, OrderTracker

    bus = await connect_bus(config.nats_url, name="mts-cli:drill", connect_deadline=min(within, 10.0))
    gate = HaltGate(bus=bus, name="mts-cli-drill-gate")
    tracker = OrderTracker(bus, lookback)
    watch = GateWatch(gate)
    try:
        await gate.start(wait=min(within, 5.0))
        await tracker.start(within)
        return await work(bus, watch, tracker)
    finally:
        watch.close()
        await tracker.stop()
        await gate.stop()
        await bus.close()


async def _inspect(config: ClientConfig, plan: Plan, gate: GateWatch, tracker: OrderTracker) -> Plan:
    from mts1b_operations.client import AuditClient, HaltClient

    async with HaltClient.from_env(config) as halts:
        plan.active = await halts.list_active()
        plan.reachable["halt"] = config.halt_url
    async with AuditClient.from_config(config) as audit:
        await audit.healthz()
        plan.reachable["audit"] = config.audit_url
    plan.reachable["nats"] = config.nats_url
    plan.blocking = _blocking(plan.active, plan.drilled)
    plan.gate_fresh = gate.gate.fresh
    plan.gate_halts = sorted(gate.gate.halts())
    plan.open_orders = {f.fund_id: len(tracker.open_orders(f.fund_id)) for f in plan.drilled}
    return plan


def _print_plan(console: Console, plan: Plan, *, execute: bool) -> None:
    verb = "halts" if execute else "would halt"
    rows: list[list[object]] = [
        [
            f.fund_id,
            "paper",
            ", ".join(f.strategies),
            plan.open_orders.get(f.fund_id, "?"),
            f"{verb}, then resumes",
        ]
        for f in plan.drilled
    ]
    rows += [[s["fund_id"], "", "", "", s["why"]] for s in plan.skipped]
    console.print(
        make_table("halt drill: funds", ["fund", "mode", "strategies", "open orders", "drill"], rows)
    )
    console.print(f"reachable: {', '.join(f'{k} {v}' for k, v in plan.reachable.items())}", highlight=False)
    gate = "sees the mts_halts bucket" if plan.gate_fresh else "DOES NOT see the mts_halts bucket (stale)"
    console.print(
        f"halt gate: {gate}; keys in force: {', '.join(plan.gate_halts) or 'none'}", highlight=False
    )
    if plan.blocking:
        blocking = ", ".join(f"{h.halt_id} on {h.scope}" for h in plan.blocking)
        console.print(f"halts in force that a drill would run into: {blocking}", highlight=False)


def _problems(plan: Plan) -> list[str]:
    problems = []
    if not plan.gate_fresh:
        problems.append("the halt gate cannot see the mts_halts bucket: a drill could not time the gate")
    if plan.blocking:
        problems.append(
            "halts in force on the firm or a drilled fund ("
            + ", ".join(f"{h.halt_id} on {h.scope}" for h in plan.blocking)
            + "): resume them first, a drill must start from trading funds"
        )
    return problems


def _run(work: Awaitable[Any]) -> Any:
    from mts1b_operations.client import MtsError
    from mts1b_operations.core.bus import BusConnectError

    try:
        return asyncio.run(work)  # type: ignore[arg-type]  # a coroutine
    except BusConnectError as exc:
        fail(f"NATS: {exc}", ExitCode.UNREACHABLE)
    except TimeoutError as exc:
        fail(f"NATS: {exc}", ExitCode.UNREACHABLE)
    except MtsError as exc:
        service_failure(exc)


@dataclass(frozen=True)
class _Outcome:
    report: dict[str, Any]
    sha256: str
    out_dir: Path
    audit: dict[str, Any] | None


async def _execute(
    config: ClientConfig,
    plan: Plan,
    *,
    gate: GateWatch,
    tracker: OrderTracker,
    reason: str,
    cosigner_token: str,
    expect: tuple[str, ...],
    stage_timeout: float,
    out_dir: Path,
    drill_id: str,
) -> _Outcome:
    from mts1b_operations.client import AuditClient, HaltClient, MtsError

    from ._drill_report import summarise, write_json, write_markdown, write_plot
    from ._drill_run import DrillSettings, drill_fund

    started = datetime.now(UTC)
    settings = DrillSettings(
        reason=reason, cosigner_token=cosigner_token, expect=expect, timeout=stage_timeout
    )
    results: list[FundDrill] = []
    async with HaltClient.from_env(config) as halts:
        for fund in plan.drilled:
            results.append(await drill_fund(fund, halts=halts, tracker=tracker, gate=gate, settings=settings))
    funds = [r.as_json() for r in results]
    report: dict[str, Any] = {
        "drill_id": drill_id,
        "kind": "mts halt drill",
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "reason": reason,
        "requested_by": next((r.requested_by for r in results if r.requested_by), None),
        "cosigned_by": next((r.cosigned_by for r in results if r.cosigned_by), None),
        "stack": {"halt_url": config.halt_url, "audit_url": config.audit_url, "nats_url": config.nats_url},
        "mode": "cancel_open",
        "funds": funds,
        "skipped": plan.skipped,
        "summary": summarise(funds),
        "problems": [],
    }
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    _, sha256 = write_json(out_dir, report)
    write_plot(out_dir, report)
    audit: dict[str, Any] | None = None
    try:
        async with AuditClient.from_config(config) as client:
            recorded = await client.record_drill_report(
                drill_id, sha256, funds=[r.fund_id for r in results], report_name="report.json"
            )
        audit = {
            "sequence": recorded.sequence,
            "entry_hash": recorded.entry_hash,
            "recorded_by": recorded.recorded_by,
        }
    except MtsError as exc:
        report["problems"].append(f"the report's hash could not be put into the audit chain: {exc}")
    write_markdown(out_dir, report, sha256, audit)
    return _Outcome(report, sha256, out_dir, audit)


def _print_outcome(outcome: _Outcome) -> None:
    out = stdout_console()
    report = outcome.report
    rows = []
    for f in report["funds"]:
        stages, resume = f["stages_ms"], f["resume_ms"]
        rows.append(
            [
                f["fund_id"],
                f["open_orders_at_trigger"],
                f"{f['orders_cancelled_acked']} / {f['cancels_seen']}",
                *(_ms(stages.get(stage)) for stage in ("gate", "cancel", "acks")),
                "yes" if f["resumed"] else "NO",
                _ms(resume.get("first_accepted_order")),
            ]
        )
    columns = [
        "fund",
        "open orders",
        "cancelled acked/seen",
        "gate ms",
        "cancel ms",
        "acks ms",
        "resumed",
        "accepted again ms",
    ]
    out.print(make_table(f"halt drill {report['drill_id']} (ms from the trigger)", columns, rows))
    out.print(f"report: {outcome.out_dir} (report.md, report.json, latency.png)", highlight=False)
    out.print(f"report.json SHA-256: {outcome.sha256}", highlight=False)
    if outcome.audit is not None:
        out.print(f"in the audit chain: entry {outcome.audit['sequence']} (drill.report)", highlight=False)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _all_problems(report: dict[str, Any]) -> list[str]:
    return list(report["problems"]) + [f"{f['fund_id']}: {p}" for f in report["funds"] for p in f["problems"]]


@click.command(name="drill")
@click.option("--execute", is_flag=True, help="Really halt the paper funds (one at a time) and resume them.")
@click.option(
    "--fund",
    "funds",
    multiple=True,
    metavar="FUND_ID",
    help="Drill only this paper fund (repeatable); a live fund is refused.",
)
@click.option(
    "--cosigner-token",
    envvar=COSIGNER_VARIABLE,
    show_envvar=True,
    default=None,
    metavar="TOKEN",
    help="A second operator's own token: cosigns each fund's resume (--execute). Asked, hidden, on a "
    "terminal.",
)
@click.option("--reason", default="halt drill", show_default=True, help="Recorded with each halt and resume.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the report goes (default ./drill-reports/<UTC timestamp>/).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.5),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each stage (gate, cancels, orders accepted again).",
)
@click.option(
    "--lookback",
    type=click.FloatRange(min=1.0),
    default=DEFAULT_LOOKBACK,
    show_default=True,
    help="Seconds of order events replayed from the OMS stream to learn the open orders.",
)
@confirm_option(WORD)
@expect_option
@json_option
def drill(
    execute: bool,
    funds: tuple[str, ...],
    cosigner_token: str | None,
    reason: str,
    out_dir: Path | None,
    timeout: float,
    lookback: float,
    confirm_word: str | None,
    expect: tuple[str, ...],
    as_json: bool,
) -> None:
    """Halt drill: stop each paper fund in turn, time gate → cancels → acks, report.

    Without --execute it is a dry run: it checks the halt and audit services and NATS answer
    and that a halt gate sees the mts_halts bucket, lists the paper funds it would halt with
    their open orders, and halts nothing. Live funds are never halted.

    With --execute (type DRILL, or --confirm DRILL) each paper fund in turn is halted
    (cancel_open), timed, resumed with the cosigner's token and watched until its orders are
    accepted again. report.json, report.md and latency.png go into --out; the SHA-256 of
    report.json is put into the audit chain.

    Exits 0 when done (dry run: nothing halted); 1 when a stage failed or timed out (the report
    says which; every fund is resumed all the same), a wrong confirmation, or halts already in
    force; 2 for bad arguments (a live fund named, no MTS_FUNDS_FILE, no cosigner token without
    a terminal); 3 when a service or NATS cannot be reached.

    \b
    Examples:
      mts cmd drill
      mts cmd drill --execute --confirm DRILL --cosigner-token "$BOB_TOKEN" --out /tmp/drill
    """
    if execute:
        check_confirmation(WORD, confirm_word)
        if not plotting_available():
            fail(
                "--execute draws latency.png with matplotlib, which is not installed: install the CLI's "
                "drill extra (uv sync --extra drill; make run and make test install it); nothing was halted",
                ExitCode.USAGE,
            )
    loaded = load_registry(required=True, why="the drill halts the paper funds it names")
    assert loaded is not None
    drilled, skipped = _choose(loaded, funds)
    cosigner = cosigner_token.strip() if cosigner_token and cosigner_token.strip() else None
    if execute and cosigner is None and not interactive():
        fail(
            f"--execute resumes each fund with a second operator's cosign: pass --cosigner-token (or set "
            f"{COSIGNER_VARIABLE})",
            ExitCode.USAGE,
        )
    config = _config()
    plan = Plan(drilled=drilled, skipped=skipped)

    async def inspect(_: Bus, gate: GateWatch, tracker: OrderTracker) -> Plan:
        return await _inspect(config, plan, gate, tracker)

    _run(_watching(config, lookback, timeout, inspect))
    console = stderr_console() if as_json else stdout_console()
    problems = _problems(plan)
    if not execute:
        if as_json:
            emit_json({"dry_run": True, "plan": plan.as_json(), "problems": problems})
        else:
            _print_plan(console, plan, execute=False)
        if problems:
            fail("; ".join(problems), ExitCode.FAILURE)
        click.echo("dry run: nothing halted", err=as_json)
        return
    _print_plan(console, plan, execute=True)
    if problems:
        fail("; ".join(problems), ExitCode.FAILURE)
    if cosigner is None:
        cosigner = ask_secret("Cosigner's token (a second operator's own token; not shown)")
    type_to_confirm(WORD, confirm_word)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    drill_id = f"drill-{stamp}-{uuid.uuid4().hex[:6]}"
    target = out_dir if out_dir is not None else Path("drill-reports") / stamp

    async def execute_drill(_: Bus, gate: GateWatch, tracker: OrderTracker) -> _Outcome:
        await _inspect(config, plan, gate, tracker)
        if _problems(plan):
            fail("; ".join(_problems(plan)), ExitCode.FAILURE)
        assert cosigner is not None
        return await _execute(
            config,
            plan,
            gate=gate,
            tracker=tracker,
            reason=reason,
            cosigner_token=cosigner,
            expect=expect,
            stage_timeout=timeout,
            out_dir=target,
            drill_id=drill_id,
        )

    outcome: _Outcome = _run(_watching(config, lookback, timeout, execute_drill))
    if as_json:
        emit_json(
            {
                "dry_run": False,
                "report": outcome.report,
                "report_sha256": outcome.sha256,
                "out_dir": str(outcome.out_dir),
                "audit": outcome.audit,
            }
        )
    else:
        _print_outcome(outcome)
    problems = _all_problems(outcome.report)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(int(ExitCode.FAILURE))
