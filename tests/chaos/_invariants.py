"""After the faults: settle, then check what must have survived them.

Settling waits (bounded) for what is eventually true once the faults stop: every service
ready, the outbox drained, every acknowledged probe appended. Each invariant is then checked
once, against Postgres, the KV bucket and the audit service, and reported with its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Final

import asyncpg
import httpx
from nats.js.errors import KeyNotFoundError

from mts1b_operations.client import AuditClient, MtsError
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.schemas import HaltRequested, SchemaError, decode
from mts1b_operations.core.testing import eventually

from ._stack import ChaosStack
from ._workload import PROBE_SUBJECT_ID, AckedHalt, GateWatch

__all__ = ["Invariant", "check_invariants", "invariant_table", "settle"]

SETTLE_WITHIN: Final = 180.0
HALT_BUCKET: Final = "mts_halts"


@dataclass(frozen=True)
class Invariant:
    name: str
    held: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return asdict(self)


async def _missing_sources(conn: asyncpg.Connection, sources: Sequence[str]) -> list[str]:
    found: set[str] = set()
    for start in range(0, len(sources), 5000):
        chunk = list(sources[start : start + 5000])
        rows = await conn.fetch(
            "SELECT source_event_id FROM audit_entries WHERE source_event_id = ANY($1::text[])", chunk
        )
        found.update(row["source_event_id"] for row in rows)
    return [source for source in sources if source not in found]


async def settle(
    stack: ChaosStack,
    http: httpx.AsyncClient,
    probes: Sequence[str],
    *,
    halts: Sequence[str] = (),
    resumed: Sequence[str] = (),
) -> dict[str, str]:
    """Wait for the eventually-true conditions; returns the ones that did not come true, with why.

    The halt facts reach the audit chain through their own stream and consumer: an empty outbox
    and every probe audited say nothing about them (one nak'd during a Postgres fault comes back
    up to 30 s later), so they are waited for too.
    """
    problems: dict[str, str] = {}
    conn = await eventually(
        lambda: _connect(stack.database_url), within=SETTLE_WITHIN, what="a Postgres connection", poll=0.5
    )
    try:
        for name, check in (
            ("services_ready", lambda: _none_unready(stack, http)),
            ("outbox_empty", lambda: _outbox_empty(conn)),
            ("audit_appends_present", lambda: _all_present(conn, probes)),
            ("halts_audited", lambda: _halts_audited(conn, halts, resumed)),
        ):
            try:
                await eventually(check, within=SETTLE_WITHIN, what=name, poll=0.25)
            except AssertionError as exc:
                problems[name] = str(exc)
    finally:
        await conn.close()
    return problems


async def _connect(dsn: str) -> asyncpg.Connection | None:
    try:
        return await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None


async def _none_unready(stack: ChaosStack, http: httpx.AsyncClient) -> bool:
    return not await stack.not_ready(http)


async def _outbox_empty(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) = 0 FROM outbox"))


async def _all_present(conn: asyncpg.Connection, probes: Sequence[str]) -> bool:
    return not await _missing_sources(conn, probes)


async def _halts_audited(conn: asyncpg.Connection, halts: Sequence[str], resumed: Sequence[str]) -> bool:
    rows = await conn.fetch(
        "SELECT action, subject_id FROM audit_entries WHERE action IN ('halt.requested', 'halt.resumed') "
        "AND subject_id = ANY($1::text[])",
        list(halts),
    )
    requested = {r["subject_id"] for r in rows if r["action"] == "halt.requested"}
    resumes = {r["subject_id"] for r in rows if r["action"] == "halt.resumed"}
    return requested >= set(halts) and resumes >= set(resumed)


async def check_invariants(
    stack: ChaosStack,
    bus: Bus,
    http: httpx.AsyncClient,
    *,
    probes: Sequence[str],
    halts: dict[str, AckedHalt],
    resumed: set[str],
    gate: GateWatch,
) -> list[Invariant]:
    results: list[Invariant] = []
    conn = await asyncpg.connect(stack.database_url, timeout=10)
    try:
        missing = await _missing_sources(conn, probes)
        results.append(
            Invariant(
                "acknowledged audit appends present",
                not missing and bool(probes),
                f"{len(probes) - len(missing)}/{len(probes)} present"
                + (f"; missing e.g. {missing[:3]}" if missing else ""),
            )
        )
        results.append(await _chain_verifies(stack))
        results.extend(await _halts(conn, bus, halts, resumed))
        results.append(await _no_duplicates(conn))
        backlog = await conn.fetchval("SELECT count(*) FROM outbox")
        results.append(Invariant("outbox empty", backlog == 0, f"{backlog} rows pending"))
    finally:
        await conn.close()
    results.append(
        Invariant(
            "gate failed closed while stale",
            not gate.violations and gate.samples > 0,
            f"{gate.samples} samples, {gate.stale_samples} stale ({gate.stale_episodes} episodes, "
            f"longest {gate.longest_stale_s:.1f}s), {gate.stale_refused} refused, "
            f"{len(gate.violations)} allowed while stale"
            + (f": {gate.violations[:2]}" if gate.violations else ""),
        )
    )
    unready = await stack.not_ready(http)
    results.append(
        Invariant(
            "every service ready",
            not unready,
            f"{len(stack.service_urls()) - len(unready)}/{len(stack.service_urls())} answer /v1/readyz 200"
            + (f"; not ready: {unready}" if unready else ""),
        )
    )
    return results


async def _chain_verifies(stack: ChaosStack) -> Invariant:
    url = stack.service_urls()["audit"]
    try:
        async with AuditClient(url, token=stack.tokens.viewer, read_timeout=600.0) as audit:
            outcome = await audit.verify()
    except MtsError as exc:
        return Invariant("audit chain verifies", False, f"verify failed: {type(exc).__name__}: {exc}")
    detail = f"{outcome.verified} entries verified up to sequence {outcome.head_sequence}"
    if not outcome.ok:
        detail = f"broken at sequence {outcome.sequence}: {outcome.reason}"
    return Invariant("audit chain verifies", outcome.ok, detail)


async def _halts(
    conn: asyncpg.Connection, bus: Bus, halts: dict[str, AckedHalt], resumed: set[str]
) -> list[Invariant]:
    ids = list(halts)
    rows = {
        row["halt_id"]: row
        for row in await conn.fetch(
            "SELECT halt_id, scope_key, active FROM halts WHERE halt_id = ANY($1)", ids
        )
    }
    not_in_pg = [i for i in ids if i not in rows]
    still_active = [i for i in resumed if i in rows and rows[i]["active"]]
    audited = await conn.fetch(
        "SELECT action, subject_id FROM audit_entries WHERE action IN ('halt.requested', 'halt.resumed') "
        "AND subject_id = ANY($1)",
        ids,
    )
    requested = {r["subject_id"] for r in audited if r["action"] == "halt.requested"}
    resumed_audited = {r["subject_id"] for r in audited if r["action"] == "halt.resumed"}
    not_audited = [i for i in ids if i not in requested]
    resume_not_audited = [i for i in resumed if i not in resumed_audited]
    active = [i for i in ids if i in rows and rows[i]["active"]]
    kv_wrong: list[str] = []
    kv = await bus.js.key_value(HALT_BUCKET)
    for halt_id in ids:
        if halt_id not in rows:
            continue
        scope = rows[halt_id]["scope_key"]
        try:
            entry = await kv.get(scope)
            value = entry.value or b""
            in_bucket = decode(value, HaltRequested).halt_id == halt_id
        except KeyNotFoundError:
            in_bucket = False
        except SchemaError:
            in_bucket = False
        if in_bucket != bool(rows[halt_id]["active"]):
            kv_wrong.append(f"{halt_id} ({scope}, active={rows[halt_id]['active']}, in bucket={in_bucket})")
    return [
        Invariant(
            "acknowledged halts in Postgres",
            not not_in_pg and bool(ids),
            f"{len(ids) - len(not_in_pg)}/{len(ids)} in halts; acknowledged resumes applied: "
            f"{len(resumed) - len(still_active)}/{len(resumed)}"
            + (f"; missing {not_in_pg[:3]}" if not_in_pg else ""),
        )
        if not still_active
        else Invariant(
            "acknowledged halts in Postgres", False, f"resumed but still active: {still_active[:3]}"
        ),
        Invariant(
            "KV bucket mts_halts holds exactly the active ones",
            not kv_wrong and bool(active),
            f"{len(active)} active in the bucket, {len(ids) - len(active)} resumed absent"
            + (f"; wrong: {kv_wrong[:3]}" if kv_wrong else ""),
        ),
        Invariant(
            "acknowledged halts in the audit chain",
            not not_audited and not resume_not_audited,
            f"{len(ids) - len(not_audited)}/{len(ids)} halt.requested, "
            f"{len(resumed) - len(resume_not_audited)}/{len(resumed)} halt.resumed"
            + (
                f"; missing {(not_audited + resume_not_audited)[:3]}"
                if not_audited or resume_not_audited
                else ""
            ),
        ),
    ]


_DUPLICATES: Final = """
SELECT 'probe ' || (data->>'alert_id') AS what, count(*) AS n FROM audit_entries
 WHERE action = 'watchdog.health' AND subject_id = $1 GROUP BY data->>'alert_id' HAVING count(*) > 1
UNION ALL
SELECT 'halt.requested ' || subject_id || ' at ' || (data->>'requested_at'), count(*) FROM audit_entries
 WHERE action = 'halt.requested' GROUP BY subject_id, data->>'requested_at' HAVING count(*) > 1
UNION ALL
SELECT 'halt.resumed ' || subject_id, count(*) FROM audit_entries
 WHERE action = 'halt.resumed' GROUP BY subject_id HAVING count(*) > 1
UNION ALL
SELECT 'halt.oms.command ' || subject_id, count(*) FROM audit_entries
 WHERE action = 'halt.oms.command' GROUP BY subject_id HAVING count(*) > 1
"""


async def _no_duplicates(conn: asyncpg.Connection) -> Invariant:
    rows = await conn.fetch(_DUPLICATES, PROBE_SUBJECT_ID)
    entries = await conn.fetchval("SELECT count(*) FROM audit_entries")
    return Invariant(
        "no duplicate audit entry for one source event",
        not rows,
        f"{entries} entries; source_event_id is unique; duplicated facts: {len(rows)}"
        + (f" e.g. {[(r['what'], r['n']) for r in rows[:3]]}" if rows else ""),
    )


def invariant_table(invariants: Sequence[Invariant]) -> str:
    width = max(len(inv.name) for inv in invariants)
    lines = [f"{'invariant':<{width}}  held  evidence", f"{'-' * width}  ----  --------"]
    lines += [f"{inv.name:<{width}}  {'yes ' if inv.held else 'NO  '}  {inv.detail}" for inv in invariants]
    return "\n".join(lines)
