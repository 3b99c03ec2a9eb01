"""db_watchdog: the health of the operations database, checked every ``interval`` seconds.

Each round gathers numbers from Postgres and hands them to :func:`maths.db_checks.evaluate`:

- the audit chain (when the audit service's tables are in this database): count(*) and
  max(sequence) of ``audit_entries`` against ``audit_head.next_sequence`` and the largest signed
  checkpoint (rows missing, a gap, a checkpoint signing more than is there, ``max_checkpoint_lag``);
- the transactional outbox: per source, the events waiting and the age of the oldest
  (``max_outbox_age_seconds``, ``max_outbox_backlog``);
- ``pg_stat_activity``: client backends of this database running a statement, or idle in a
  transaction, longer than ``long_running_seconds``;
- ``pg_stat_statements`` (only if the extension is installed): statements slower on average than
  ``slow_query_mean_ms`` over at least ``slow_query_min_calls`` calls.

Each finding's subject (``audit_entries``, ``audit_checkpoints``, ``outbox:<source>``,
``pid:<pid>``, ``queryid:<id>``) fires while found and resolves when a round no longer finds it.
Inhibited while a dependency it relies on (``inhibited_by``, default ``postgres``) is down.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from ..alerting import Evaluation, flag_evaluation
from ..config import DbParams
from ..maths.db_checks import (
    ActivityStats,
    ChainStats,
    DbThresholds,
    Finding,
    OutboxStats,
    StatementStats,
    evaluate,
)
from ._base import Runner

__all__ = ["DbRunner"]

_CHAIN: Final = """
SELECT (SELECT count(*) FROM audit_entries) AS entries,
       (SELECT max(sequence) FROM audit_entries) AS max_sequence,
       (SELECT next_sequence FROM audit_head LIMIT 1) AS next_sequence,
       (SELECT max(tree_size) FROM audit_checkpoints) AS signed
"""
_OUTBOX: Final = """
SELECT source, count(*) AS backlog,
       greatest(0, extract(epoch FROM clock_timestamp() - min(created_at)))::float8 AS age
FROM outbox GROUP BY source
"""
_ACTIVITY: Final = """
SELECT pid, state, coalesce(query, '') AS query,
       greatest(0, extract(epoch FROM clock_timestamp() - CASE WHEN state = 'active' THEN query_start
                                                             ELSE xact_start END))::float8 AS seconds
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
  AND CASE WHEN state = 'active' THEN query_start ELSE xact_start END IS NOT NULL
"""
_STATEMENTS: Final = """
SELECT queryid::text AS query_id, query, calls, mean_exec_time AS mean_ms
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls >= $1
ORDER BY mean_exec_time DESC LIMIT 100
"""


class DbRunner(Runner[DbParams]):
    name = "db_watchdog"

    def interval(self) -> float:
        return self.params.interval

    def describe_inputs(self) -> str:
        every = self.params.interval
        return f"Postgres every {every:g}s: audit chain, outbox, pg_stat_activity, pg_stat_statements"

    async def gather(
        self,
    ) -> tuple[ChainStats | None, list[OutboxStats], list[ActivityStats], list[StatementStats]]:
        params = self.params
        async with self.env.pool.acquire() as conn:
            tables = await conn.fetchrow(
                "SELECT to_regclass('audit_entries') IS NOT NULL AND to_regclass('audit_head') IS NOT NULL "
                "AND to_regclass('audit_checkpoints') IS NOT NULL AS chain, "
                "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements"
            )
            assert tables is not None
            chain = None
            if tables["chain"]:
                row = await conn.fetchrow(_CHAIN)
                assert row is not None
                chain = ChainStats(
                    entry_count=int(row["entries"]),
                    max_sequence=row["max_sequence"],
                    next_sequence=int(row["next_sequence"] or 0),
                    checkpoint_sizes=(int(row["signed"]),) if row["signed"] is not None else (),
                )
            outboxes = [
                OutboxStats(source=r["source"], backlog=int(r["backlog"]), oldest_age_seconds=r["age"])
                for r in await conn.fetch(_OUTBOX)
            ]
            activity = [
                ActivityStats(pid=r["pid"], state=r["state"], query=r["query"], seconds=r["seconds"])
                for r in await conn.fetch(_ACTIVITY)
            ]
            statements = []
            if tables["statements"]:
                statements = [
                    StatementStats(
                        query_id=r["query_id"], query=r["query"], calls=r["calls"], mean_ms=r["mean_ms"]
                    )
                    for r in await conn.fetch(_STATEMENTS, params.slow_query_min_calls)
                ]
        return chain, outboxes, activity, statements

    async def tick(self) -> None:
        params = self.params
        chain, outboxes, activity, statements = await self.gather()
        findings = evaluate(
            chain=chain,
            outboxes=outboxes,
            statements=statements,
            activity=activity,
            thresholds=DbThresholds(
                max_checkpoint_lag=params.max_checkpoint_lag,
                max_outbox_age_seconds=params.max_outbox_age_seconds,
                max_outbox_backlog=params.max_outbox_backlog,
                slow_query_mean_ms=params.slow_query_mean_ms,
                slow_query_min_calls=params.slow_query_min_calls,
                long_running_seconds=params.long_running_seconds,
            ),
        )
        self.queue(self.evaluations(findings))

    def evaluations(self, findings: list[Finding]) -> list[Evaluation]:
        """One evaluation per subject found (its findings joined), a clearing one per subject not found."""
        by_subject: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            by_subject[finding.subject_id].append(finding)
        out = [
            flag_evaluation(
                subject,
                True,
                message="; ".join(f"{f.kind}: {f.message}" for f in found),
                value=found[0].value,
                threshold=found[0].threshold,
            )
            for subject, found in by_subject.items()
        ]
        out += [
            flag_evaluation(subject, False, message=f"{subject}: no longer found")
            for subject in self.book.subjects
            if subject not in by_subject
        ]
        return out
