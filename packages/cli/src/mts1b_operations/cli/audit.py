"""`mts mts1b-operations audit show | verify | tail | prove`: read and check the audit trail.

Through the SDK: ``AuditClient`` over HTTP (MTS_AUDIT_URL, MTS_TOKEN of role viewer or higher)
and, for ``tail``, the NATS follow helper (MTS_NATS_URL). ``prove`` checks the proof in this
process with the SDK's independent checker, not by asking the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import msgspec

from ._exit_codes import ExitCode
from ._output import emit_json, fail, json_option, print_table, stderr_console
from .ops_group import call_service, service_failure

if TYPE_CHECKING:
    from mts1b_operations.client import (
        AuditClient,
        AuditProof,
        AuditRecord,
        AuditVerification,
        CheckedProof,
        FollowDecodeError,
        FollowedMessage,
    )
    from mts1b_operations.core.schemas import AuditAppended

__all__ = ["audit"]

_DATA_WIDTH = 60


def _client() -> AuditClient:
    from mts1b_operations.client import AuditClient, ClientConfig

    return AuditClient.from_config(ClientConfig.from_env())


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _compact(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= _DATA_WIDTH else text[: _DATA_WIDTH - 1] + "…"


@click.group()
def audit() -> None:
    """The audit trail: every halt, watchdog alert and operator command, hash-chained and signed.

    \b
    Examples:
      mts mts1b-operations audit show --subject-id halt-42
      mts mts1b-operations audit verify --from-sequence 0
      mts mts1b-operations audit tail --count 10
      mts mts1b-operations audit prove --sequence 47832
    """


# ---------------------------------------------------------------- show


@audit.command()
@click.option(
    "--subject-id", required=True, help="What the entries are about: a halt, order or command id, ..."
)
@json_option
def show(subject_id: str, as_json: bool) -> None:
    """Show every entry about one subject, oldest first.

    The hash column is checked here: "ok" when the entry's hash is the SHA-256 of its
    canonical bytes as served.

    \b
    Example:
      mts mts1b-operations audit show --subject-id halt-42 --json
    """

    async def fetch() -> list[AuditRecord]:
        async with _client() as client:
            return (await client.trail(subject_id)).entries

    entries = call_service(fetch())
    if as_json:
        emit_json(
            {
                "subject_id": subject_id,
                "count": len(entries),
                "entries": [msgspec.to_builtins(e) for e in entries],
            }
        )
        return
    if not entries:
        click.echo(f"no audit entries about {subject_id!r}")
        return
    print_table(
        f"audit trail of {subject_id} ({len(entries)} entries)",
        ["seq", "time", "actor", "action", "data", "hash"],
        [
            [
                e.sequence,
                _stamp(e.timestamp),
                e.actor,
                e.action,
                _compact(e.data),
                f"{e.hash[:12]}… {'ok' if e.hash_matches() else 'MISMATCH'}",
            ]
            for e in entries
        ],
    )


# ---------------------------------------------------------------- verify


@audit.command()
@click.option(
    "--from-sequence",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Check entries one by one from here (earlier ones are still checked against the checkpoints).",
)
@json_option
def verify(from_sequence: int, as_json: bool) -> None:
    """Verify the chain: every hash and link from --from-sequence on, and every signed checkpoint.

    Exits 0 when the chain is intact, 1 naming the first bad sequence and why (a changed or
    deleted entry, a truncated tail, a rewritten chain ...).

    \b
    Example:
      mts mts1b-operations audit verify --from-sequence 0
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
        disable=as_json,
    )
    task = progress.add_task("verify", total=None)

    def advance(verified: int, total: int) -> None:
        progress.update(task, completed=verified, total=max(total, verified))

    async def run() -> AuditVerification:
        async with _client() as client:
            return await client.verify(from_sequence, progress=advance)

    with progress:
        result = call_service(run())
    if as_json:
        emit_json(msgspec.to_builtins(result))
    elif result.ok:
        head = (
            "empty chain"
            if result.head_sequence is None
            else f"head {result.head_sequence} {result.head_hash}"
        )
        signed = (
            "no checkpoint signed yet"
            if result.checkpoint_tree_size is None
            else f"latest checkpoint covers {result.checkpoint_tree_size} entries"
        )
        click.echo(
            f"intact: {result.verified} entries verified from sequence {from_sequence} ({head}; {signed})"
        )
    if not result.ok:
        if not as_json:
            click.echo(f"audit chain BROKEN at sequence {result.sequence}: {result.reason}", err=True)
        raise SystemExit(int(ExitCode.FAILURE))


# ---------------------------------------------------------------- tail


def _tail_line(message: FollowedMessage[AuditAppended]) -> str:
    entry = message.payload
    moment = datetime.fromtimestamp(entry.timestamp_us / 1_000_000, UTC)
    fields = (entry.sequence, _stamp(moment), entry.actor, entry.action, entry.subject_id or "-", entry.hash)
    return "  ".join(str(field) for field in fields)


@audit.command()
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after N entries (for scripts).")
@click.option(
    "--all",
    "from_start",
    is_flag=True,
    help="Start with the oldest appended event NATS still holds, not with the next new one.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Stop after this many seconds; with --count, exit 1 if fewer entries arrived (default: no limit).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to keep trying to reach NATS before exiting with status 3.",
)
@json_option
def tail(
    count: int | None, from_start: bool, timeout: float | None, connect_timeout: float, as_json: bool
) -> None:
    """Follow the chain live: print each entry as it is appended (from NATS, MTS_NATS_URL).

    One line per entry: sequence, time, actor, action, subject id, hash; with --json one JSON
    object per line. Ctrl-C stops.

    \b
    Examples:
      mts mts1b-operations audit tail
      mts mts1b-operations audit tail --all --count 5 --json
    """
    from mts1b_operations.client import MtsError, follow_audit
    from mts1b_operations.core.bus import BusConnectError

    seen = 0

    def invalid(error: FollowDecodeError) -> None:
        click.echo(f"warning: skipped an undecodable message: {error}", err=True)

    def emit(message: FollowedMessage[AuditAppended]) -> None:
        if as_json:
            click.echo(json.dumps(msgspec.to_builtins(message.payload), sort_keys=True))
        else:
            click.echo(_tail_line(message))

    async def follow() -> None:
        nonlocal seen
        stream = follow_audit(
            deliver="all" if from_start else "new", on_invalid=invalid, connect_timeout=connect_timeout
        )
        async with asyncio.timeout(timeout), contextlib.aclosing(stream) as messages:
            async for message in messages:
                emit(message)
                seen += 1
                if count is not None and seen >= count:
                    return

    try:
        asyncio.run(follow())
    except BusConnectError as exc:
        fail(str(exc), ExitCode.UNREACHABLE)
    except TimeoutError:
        if count is not None:  # without --count, --timeout is simply how long to follow
            fail(f"only {seen} of {count} entries arrived within {timeout:g}s", ExitCode.FAILURE)
    except MtsError as exc:
        service_failure(exc)
    except KeyboardInterrupt:
        return


# ---------------------------------------------------------------- prove


def _checked_json(proof: AuditProof, checked: CheckedProof, key: str, key_source: str) -> dict[str, Any]:
    return {
        "ok": True,
        "sequence": checked.sequence,
        "entry_hash": checked.entry_hash,
        "tree_size": checked.tree_size,
        "root_hash": checked.root_hash,
        "head_hash": checked.head_hash,
        "origin": checked.origin,
        "verifier_key": key,
        "key_source": key_source,
        "proof": msgspec.to_builtins(proof),
    }


@audit.command()
@click.option("--sequence", type=click.IntRange(min=0), required=True, help="The entry to prove.")
@click.option(
    "--verifier-key",
    envvar="MTS_AUDIT_VERIFIER_KEY",
    show_envvar=True,
    default=None,
    help="The audit key you trust (<name>+<key id>+<base64 key>). Default: the key the service "
    "publishes with its latest checkpoint, which proves inclusion but not whose key it is.",
)
@json_option
def prove(sequence: int, verifier_key: str | None, as_json: bool) -> None:
    """Fetch the inclusion proof of one entry and check it offline, here, with the public key.

    Exits 0 when the proof holds, 1 naming the check that failed (signature, path, hash ...).

    \b
    Example:
      mts mts1b-operations audit prove --sequence 47832 --verifier-key "$MTS_AUDIT_VERIFIER_KEY"
    """
    from mts1b_operations.client import ProofCheckError, check_audit_proof

    async def fetch() -> tuple[AuditProof, str | None]:
        async with _client() as client:
            proof = await client.proof(sequence)
            checkpoint = None if verifier_key else await client.latest_checkpoint()
            return proof, None if checkpoint is None else checkpoint.verifier_key

    proof, served_key = call_service(fetch())
    key, key_source = (
        (verifier_key, "pinned") if verifier_key else (served_key or proof.verifier_key, "service")
    )
    try:
        checked = check_audit_proof(proof, key)
    except ProofCheckError as exc:
        if as_json:
            emit_json({"ok": False, "sequence": sequence, "check": exc.check, "problem": exc.problem})
            raise SystemExit(int(ExitCode.FAILURE)) from None
        fail(f"the proof of entry {sequence} does NOT hold: {exc}", ExitCode.FAILURE)
    if as_json:
        emit_json(_checked_json(proof, checked, key, key_source))
        return
    _print_checked(checked, key, key_source)


def _print_checked(checked: CheckedProof, key: str, key_source: str) -> None:
    click.echo(
        f"proven: entry {checked.sequence} (hash {checked.entry_hash}) is in the chain signed by "
        f"{checked.key_name} over its first {checked.tree_size} entries"
    )
    click.echo(f"  merkle root {checked.root_hash}, chain head {checked.head_hash}")
    if key_source == "service":
        click.echo(
            f"  key {key} (taken from the service: pin it with --verifier-key or MTS_AUDIT_VERIFIER_KEY)"
        )
    else:
        click.echo(f"  key {key} (pinned)")
