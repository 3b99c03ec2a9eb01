"""`mts mts1b-operations compliance reports | show | files | repair | flush`: regulatory reporting.

Through the SDK's ``ComplianceClient`` over HTTP (MTS_COMPLIANCE_URL; MTS_TOKEN of role viewer
to read, operator to repair or flush). A report the service could not build (a required field
missing or malformed) is held as ``rejected`` with the field named; ``repair`` rebuilds it with
the values an operator supplies, after showing the change and a typed REPAIR.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import click
import msgspec

from ._exit_codes import ExitCode
from ._output import (
    emit_json,
    fail,
    json_option,
    make_table,
    print_table,
    stderr_console,
    stdout_console,
)
from .cmd._confirm import ask_reason, check_confirmation, confirm_option, require_reason, type_to_confirm
from .ops_group import service_failure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from mts1b_operations.client import (
        ComplianceClient,
        ReportFileView,
        ReportPage,
        ReportProblem,
        ReportView,
    )

__all__ = ["FILE_STATUSES", "REPORT_STATUSES", "compliance"]

WORD: Final = "REPAIR"
REPORT_STATUSES: Final = ("rejected", "pending", "filed", "submitted", "accepted", "failed", "superseded")
FILE_STATUSES: Final = ("pending", "submitted", "failed")
_VALUE_WIDTH: Final = 60


def _client() -> ComplianceClient:
    from mts1b_operations.client import ClientConfig, ComplianceClient

    return ComplianceClient.from_env(ClientConfig.from_env())


def _run(work: Callable[[ComplianceClient], Awaitable[Any]]) -> Any:
    """Run ``work`` with a client; an unknown report id exits 2 (a bad argument), other errors per the SDK."""
    from mts1b_operations.client import MtsError, NotFoundError

    async def go() -> Any:
        async with _client() as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except NotFoundError as exc:
        fail(str(exc), ExitCode.USAGE)
    except MtsError as exc:
        service_failure(exc)


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _problems(problems: Sequence[ReportProblem]) -> str:
    return "; ".join(str(p) for p in problems) or "-"


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _emit(data: object, as_json: bool) -> bool:
    if as_json:
        emit_json(msgspec.to_builtins(data))
    return as_json


@click.group()
def compliance() -> None:
    """Regulatory reports (CAT, OATS, MiFID II): what was reported, what was refused, the files.

    \b
    Examples:
      mts mts1b-operations compliance reports --status rejected
      mts mts1b-operations compliance reports --fund live-equities --regime cat --limit 20
      mts mts1b-operations compliance show 42
      mts mts1b-operations compliance repair 42 --field deptType=A --reason "desk code missing"
      mts mts1b-operations compliance files --status pending
      mts mts1b-operations compliance flush --fund live-equities --regime cat
    """


_fund_option = click.option("--fund", "fund_id", metavar="FUND_ID", help="Only this fund.")
_regime_option = click.option("--regime", metavar="REGIME", help="Only this regime: cat, oats, mifid2, ...")


# ---------------------------------------------------------------- reports


@compliance.command()
@_fund_option
@_regime_option
@click.option("--status", type=click.Choice(REPORT_STATUSES), help="Only reports in this state.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    help="At most N reports, 1 to 1000 (default 100); --after-id continues.",
)
@click.option("--after-id", type=click.IntRange(min=0), help="Continue after this report id (the next page).")
@json_option
def reports(
    fund_id: str | None,
    regime: str | None,
    status: str | None,
    limit: int | None,
    after_id: int | None,
    as_json: bool,
) -> None:
    """The stored reports, oldest first; rejected ones name the field at fault.

    \b
    Example:
      mts mts1b-operations compliance reports --regime cat --status rejected
    """
    page: ReportPage = _run(
        lambda client: client.reports(
            fund_id=fund_id, regime=regime, status=status, limit=limit, after_id=after_id
        )
    )
    if _emit(page, as_json):
        return
    if not page.items:
        click.echo("no reports match")
        return
    print_table(
        f"reports ({len(page.items)})",
        ("id", "regime", "fund", "event", "order", "trade date", "status", "problems", "file"),
        [
            (
                r.id,
                r.regime,
                r.fund_id,
                r.event_type,
                r.order_id,
                r.trade_date.isoformat(),
                r.status,
                _problems(r.problems),
                "-" if r.file_id is None else r.file_id,
            )
            for r in page.items
        ],
    )
    if page.next_after_id is not None:
        click.echo(f"more: --after-id {page.next_after_id}")


def _show_report(report: ReportView) -> None:
    print_table(
        f"report {report.id}: {report.regime} {report.event_type} — {report.status}",
        ("field", "value"),
        [
            ("fund", report.fund_id),
            ("order", report.order_id),
            ("source event", report.source_event_id),
            ("report key", report.report_key),
            ("trade date", report.trade_date.isoformat()),
            ("event time", _stamp(report.event_time)),
            ("file", "-" if report.file_id is None else report.file_id),
            ("repaired from", "-" if report.repaired_from is None else report.repaired_from),
            ("created", _stamp(report.created_at)),
            ("updated", _stamp(report.updated_at)),
        ],
    )
    if report.problems:
        print_table("problems", ("field", "problem"), [(p.field, p.problem) for p in report.problems])
    print_table(
        "record", ("field", "value"), [(key, _shown(value)) for key, value in sorted(report.record.items())]
    )


@compliance.command()
@click.argument("report_id", type=click.IntRange(min=1), metavar="REPORT_ID")
@json_option
def show(report_id: int, as_json: bool) -> None:
    """One report in full: its record as the regulator will see it, and its problems."""
    report: ReportView = _run(lambda client: client.report(report_id))
    if not _emit(report, as_json):
        _show_report(report)


# ---------------------------------------------------------------- files


@compliance.command()
@_fund_option
@_regime_option
@click.option("--status", type=click.Choice(FILE_STATUSES), help="Only files in this state.")
@json_option
def files(fund_id: str | None, regime: str | None, status: str | None, as_json: bool) -> None:
    """The report files: records, deadline (CAT: T+1 08:00 ET), submission state.

    \b
    Example:
      mts mts1b-operations compliance files --status pending
    """
    found: list[ReportFileView] = _run(
        lambda client: client.files(fund_id=fund_id, regime=regime, status=status)
    )
    if not _emit(found, as_json):
        _print_files(found, "files")


def _print_files(found: Sequence[ReportFileView], title: str) -> None:
    if not found:
        click.echo(f"no {title}")
        return
    print_table(
        f"{title} ({len(found)})",
        ("id", "name", "regime", "fund", "trade date", "records", "status", "deadline", "attempts", "error"),
        [
            (
                f.id,
                f.name if f.metadata_name is None else f"{f.name}\n+ {f.metadata_name}",
                f.regime,
                f.fund_id,
                f.trade_date.isoformat(),
                f.record_count,
                f.status,
                _stamp(f.deadline) + (" OVERDUE" if f.overdue else ""),
                f.attempts,
                f.last_error or "",
            )
            for f in found
        ],
    )


# ---------------------------------------------------------------- flush


@compliance.command()
@_fund_option
@_regime_option
@json_option
def flush(fund_id: str | None, regime: str | None, as_json: bool) -> None:
    """Cut files now from every pending valid report (the service also cuts them on its own).

    \b
    Example:
      mts mts1b-operations compliance flush --fund live-equities --regime cat
    """
    cut: list[ReportFileView] = _run(lambda client: client.flush(fund_id=fund_id, regime=regime))
    if not _emit(cut, as_json):
        _print_files(cut, "files cut")


# ---------------------------------------------------------------- repair


def _fields(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    """``NAME=VALUE`` (the value as text) or ``NAME:=JSON`` (a number, true, null, a list, an object)."""
    out: dict[str, Any] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip(" :"):
            raise click.BadParameter(f"{item!r} is not NAME=VALUE or NAME:=JSON", param_hint="--field")
        value: Any = raw
        if name.endswith(":"):
            name = name[:-1]
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(
                    f"{item!r}: the value after := is not JSON ({exc.msg})", param_hint="--field"
                ) from None
        name = name.strip()
        if name in out:
            raise click.BadParameter(f"{name} is given twice", param_hint="--field")
        out[name] = value
    return out


def _print_change(report: ReportView, fields: dict[str, Any]) -> None:
    console = stderr_console()
    console.print(
        f"[bold]Repair of report {report.id}[/bold]: {report.regime} {report.event_type} of order "
        f"{report.order_id} ({report.fund_id}), {report.status}",
        highlight=False,
    )
    console.print(
        make_table("problems now", ("field", "problem"), [(p.field, p.problem) for p in report.problems])
    )
    console.print(
        make_table(
            "the change",
            ("field", "now", "after the repair"),
            [
                (name, _shown(report.record[name]) if name in report.record else "(absent)", _shown(value))
                for name, value in fields.items()
            ],
        )
    )
    console.print(
        "The report is rebuilt with these values; the old one is kept as superseded.", highlight=False
    )


@compliance.command()
@click.argument("report_id", type=click.IntRange(min=1), metavar="REPORT_ID")
@click.option(
    "--field",
    "fields",
    multiple=True,
    required=True,
    callback=_fields,
    metavar="NAME=VALUE",
    help="A field of the record by the specification's name (repeatable): deptType=A sets the text "
    "'A'; NAME:=JSON sets a number, true/false, null or an object (quantity:=100).",
)
@click.option("--reason", default=None, help="Why; recorded in the audit trail (asked on a terminal).")
@confirm_option(WORD)
@json_option
def repair(
    report_id: int, fields: dict[str, Any], reason: str | None, confirm_word: str | None, as_json: bool
) -> None:
    """Repair a rejected (or failed) report with corrected field values, then type REPAIR.

    The report is rebuilt from its order event with the fields given; the new report replaces
    it (the old one is kept as superseded) and is filed with the next file. A repair that still
    leaves a problem is refused, naming the field.

    Exits 0 when repaired; 1 when refused (wrong confirmation, the report is not repairable,
    role too low); 2 for bad arguments, an unknown report or fields that still do not pass;
    3 when the service cannot be reached.

    \b
    Examples:
      mts mts1b-operations compliance repair 42 --field deptType=A --reason "desk code missing"
      mts mts1b-operations compliance repair 42 --field quantity:=100 --reason "..." --confirm REPAIR
    """
    check_confirmation(WORD, confirm_word)
    given_reason = require_reason(reason)
    from mts1b_operations.client import BadRequestError, MtsError, NotFoundError, repair_problems

    current: ReportView = _run(lambda client: client.report(report_id))
    if not as_json or confirm_word is None:
        _print_change(current, fields)
    type_to_confirm(WORD, confirm_word)
    why = ask_reason(given_reason)

    async def send() -> ReportView:
        async with _client() as client:
            return await client.repair(report_id, fields, reason=why)

    try:
        repaired = asyncio.run(send())
    except BadRequestError as exc:
        left = repair_problems(exc)
        if as_json:
            emit_json({"repaired": None, "problem": str(exc), "problems": msgspec.to_builtins(left)})
        elif left:
            print_table(
                "still wrong after the repair", ("field", "problem"), [(p.field, p.problem) for p in left]
            )
        fail(f"repair refused: {exc}", ExitCode.USAGE)
    except NotFoundError as exc:
        fail(str(exc), ExitCode.USAGE)
    except MtsError as exc:
        service_failure(exc)
    if _emit(repaired, as_json):
        return
    out = stdout_console()
    out.print(
        f"[bold green]REPAIRED[/bold green]: report {report_id} is superseded by report {repaired.id} "
        f"({repaired.status}).",
        highlight=False,
    )
    _show_report(repaired)
