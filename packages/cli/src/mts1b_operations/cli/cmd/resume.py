"""`mts cmd resume [TARGET]`: lift a halt after its pre-flight check and a typed RESUME.

Without TARGET the firm-wide halt is resumed, which needs a second operator: their own
token (``--cosigner-token``, MTS_COSIGNER_TOKEN, or typed hidden on a terminal) goes to the
halt service in ``X-MTS-Cosigner-Token`` and is never printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import click
import msgspec

from .._exit_codes import ExitCode
from .._output import emit_json, fail, json_option, stderr_console, stdout_console
from ..ops_group import call_service
from ._client import halt_client
from ._confirm import ask_secret, check_confirmation, confirm_option, interactive, type_to_confirm
from ._registry import load_registry, resolve_target
from .halt import print_halts

if TYPE_CHECKING:
    from rich.console import Console

    from mts1b_operations.client import ResumeAnswer, ResumePreflight

__all__ = ["COSIGNER_VARIABLE", "resume"]

WORD: Final = "RESUME"
COSIGNER_VARIABLE: Final = "MTS_COSIGNER_TOKEN"


def _print_preflight(console: Console, what: str, check: ResumePreflight) -> None:
    console.print(f"[bold]Resume of {what}[/bold] (scope {check.scope}): {check.message}", highlight=False)
    if check.halt is not None:
        print_halts(console, "the halt this lifts", [check.halt])
    if check.inherited:
        print_halts(console, "broader halts that stay in force", check.inherited)
    if check.watchdog is not None:
        state = "STILL ALERTING" if check.watchdog_firing else "quiet"
        console.print(
            f"triggered by watchdog {check.watchdog} on {check.watchdog_subject_id or '-'}: {state}",
            highlight=False,
        )
    needs = [
        *(["--force and --reason (the watchdog still alerts)"] if check.needs_force else []),
        *(["a second operator's cosign"] if check.needs_two_operators else []),
    ]
    console.print(f"needs: {', '.join(needs) or 'nothing more'}", highlight=False)


def _refuse(as_json: bool, check: ResumePreflight, problem: str) -> None:
    if as_json:
        emit_json({"preflight": msgspec.to_builtins(check), "resumed": None, "problem": problem})
    fail(problem, ExitCode.FAILURE)


def _print_result(answer: ResumeAnswer) -> None:
    out = stdout_console()
    result = answer.result
    h = result.resumed
    cosign = f", cosigned by {h.cosigned_by}" if h.cosigned_by else ""
    forced = " (forced)" if h.forced else ""
    out.print(
        f"[bold green]RESUMED[/bold green]{forced}: {h.halt_id} on {h.scope} by {h.resumed_by}{cosign}",
        highlight=False,
    )
    out.print(result.message, highlight=False)
    if result.still_halted:
        print_halts(out, "STILL HALTED by", result.halted_by)


def _token(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


@click.command(name="resume")
@click.argument("target", required=False)
@click.option(
    "--cosigner-token",
    envvar=COSIGNER_VARIABLE,
    show_envvar=True,
    default=None,
    metavar="TOKEN",
    help="The second operator's own bearer token (firm-wide resume). Asked, hidden, on a terminal.",
)
@click.option("--force", is_flag=True, help="Resume although the triggering watchdog still alerts.")
@click.option("--reason", default=None, help="Why; required with --force, recorded in the audit trail.")
@confirm_option(WORD)
@json_option
def resume(
    target: str | None,
    cosigner_token: str | None,
    force: bool,
    reason: str | None,
    confirm_word: str | None,
    as_json: bool,
) -> None:
    """Resume trading: the firm (no TARGET), a fund, or a strategy (TARGET).

    TARGET is a fund id or a strategy id, resolved through the funds registry (MTS_FUNDS_FILE);
    an id that is both is refused (say fund:<id> or strategy:<id>). The pre-flight check is
    shown first: the halt it lifts, broader halts that stay, and whether the watchdog that
    triggered it still alerts (then --force --reason are needed). Then type RESUME.

    A firm-wide resume needs a second registered operator: you (MTS_TOKEN) resume, they cosign
    with their own token (--cosigner-token, MTS_COSIGNER_TOKEN, or typed hidden).

    Exits 0 when resumed; 1 when refused (wrong confirmation, nothing halted, watchdog still
    alerting without --force, the cosign refused); 2 for bad arguments; 3 when the halt service
    cannot be reached.

    \b
    Examples:
      MTS_TOKEN=$ALICE mts cmd resume --confirm RESUME --cosigner-token "$BOB_TOKEN"
      mts cmd resume paper-momentum --confirm RESUME
      mts cmd resume mom-us-eq --force --reason "vol_dd alert is a data glitch"
    """
    check_confirmation(WORD, confirm_word)
    reason = reason.strip() if reason is not None and reason.strip() else None
    if force and reason is None:
        fail("--force needs --reason: why resume while the watchdog still alerts", ExitCode.USAGE)
    cosigner = _token(cosigner_token)
    firm = target is None or target.strip() == "firm"
    if firm:
        scope, what = "firm", "the whole firm"
        if cosigner is None and not interactive():
            fail(
                f"a firm-wide resume needs a second operator: pass --cosigner-token (or set "
                f"{COSIGNER_VARIABLE}) with their token",
                ExitCode.USAGE,
            )
    else:
        assert target is not None
        resolved = resolve_target(target, load_registry(required=False))
        scope, what = resolved.scope, resolved.describe()

    async def preflight() -> ResumePreflight:
        async with halt_client() as client:
            return await client.preflight(scope)

    check = call_service(preflight())
    console = stderr_console() if as_json else stdout_console()
    if not as_json or confirm_word is None:
        _print_preflight(console, what, check)
    if check.halt is None:
        _refuse(as_json, check, f"nothing to resume on {what}: {check.message}")
    if check.needs_force and not force:
        _refuse(
            as_json,
            check,
            f"watchdog {check.watchdog} still alerts on {check.watchdog_subject_id}: resume with "
            "--force --reason if you are sure",
        )
    if firm and cosigner is None:
        cosigner = ask_secret("Cosigner's token (a second operator's own token; not shown)")
    type_to_confirm(WORD, confirm_word)

    async def lift() -> ResumeAnswer:
        async with halt_client() as client:
            return await client.resume(scope, cosigner_token=cosigner, force=force, reason=reason)

    answer = call_service(lift())
    if as_json:
        data: dict[str, Any] = {
            "preflight": msgspec.to_builtins(answer.preflight),
            "resumed": msgspec.to_builtins(answer.result.resumed),
            "still_halted": answer.result.still_halted,
            "halted_by": msgspec.to_builtins(answer.result.halted_by),
            "message": answer.result.message,
        }
        emit_json(data)
    else:
        _print_result(answer)
