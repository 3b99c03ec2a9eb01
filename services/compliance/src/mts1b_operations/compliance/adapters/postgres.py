"""reg_reports and reg_files in Postgres, the source of truth, and the facts each change commits with.

Every write is one transaction that also enqueues its fact in the outbox (core.outbox), so a
report is in the audit chain exactly when it is stored. A report is inserted only when no row
has its (regime, report_key) yet, superseded or not: a redelivered order event, or one whose
report was since repaired under a new key, adds nothing.

A file's metadata file (CAT's ``.meta.json``), when the regime has one, is stored on the data
file's row when it is cut (or, for a file cut before there were metadata files, by its first
submission round), so every submission round sends the same bytes. ``data_delivered_at`` records
that the data file went, so a later try sends only the metadata file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import asyncpg
import msgspec

from mts1b_operations.core import schemas
from mts1b_operations.core.outbox import OutboxEvent, enqueue_many
from mts1b_operations.core.schemas import OrderEvent

from ..domain import (
    REPAIRABLE_STATUSES,
    FileView,
    NotRepairableError,
    ProblemView,
    ReportNotFoundError,
    ReportView,
    file_fact,
    file_fact_event_id,
    is_overdue,
    report_fact,
    report_fact_event_id,
)
from ..reg_reporting._model import MetadataFile, Report, ReportFile

__all__ = ["ComplianceStore", "PendingGroup", "StoredSource"]

log = logging.getLogger(__name__)

_JSON: Final = msgspec.json.Encoder(decimal_format="string")
# First key of pg_advisory_*lock(int, int) for the compliance service's locks.
# "mtcc": one cut at a time per regime. Not per fund or trade date: cuts of two trade dates, and
# of two funds sharing a CAT submitter, reporter and File Group, draw names from one space (CAT
# names a file by the day it is made) and must see each other's. Cuts are rare.
_CUT_LOCK_CLASS: Final = 0x6D74_6363
_SUBMIT_LOCK_CLASS: Final = 0x6D74_6373  # "mtcs": one submission at a time per file

_REPORT_COLUMNS: Final = (
    "id, regime, fund_id, event_type, report_key, order_id, source_event_id, trade_date, event_time, "
    "status, problems, record, file_id, repaired_from, created_at, updated_at"
)
_FILE_COLUMNS: Final = (
    "id, regime, fund_id, name, trade_date, sequence, record_count, sha256, deadline, status, attempts, "
    "last_error, submitted_at, created_at, metadata_name, metadata_sha256"
)
# Renders of one cut whose names are all taken before giving up (a taken name moves the
# sequence on; more than a handful means something else is wrong).
_NAME_TRIES: Final = 100
_INSERT_REPORT: Final = f"""
INSERT INTO reg_reports (regime, fund_id, report_key, event_type, order_id, source_event_id, source_event,
                         trade_date, event_time, record, line, status, problems, repaired_from, repair_reason,
                         actor)
SELECT $1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11, $12, $13::jsonb, $14, $15, $16
WHERE NOT EXISTS (SELECT 1 FROM reg_reports WHERE regime = $1 AND report_key = $3)
ON CONFLICT (regime, report_key) WHERE status <> 'superseded' DO NOTHING
RETURNING {_REPORT_COLUMNS}
"""  # noqa: S608 - constants only
# A repair may keep the adapter's key: the old row is superseded first, so only the reports in
# force (the partial unique index) must not hold it.
_INSERT_REPAIRED: Final = f"""
INSERT INTO reg_reports (regime, fund_id, report_key, event_type, order_id, source_event_id, source_event,
                         trade_date, event_time, record, line, status, problems, repaired_from, repair_reason,
                         actor)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11, $12, $13::jsonb, $14, $15, $16)
ON CONFLICT (regime, report_key) WHERE status <> 'superseded' DO NOTHING
RETURNING {_REPORT_COLUMNS}
"""  # noqa: S608 - constants only


@dataclass(frozen=True, slots=True)
class PendingGroup:
    """Valid reports waiting for a file: one (regime, fund, trade date)."""

    regime: str
    fund_id: str
    trade_date: date


@dataclass(frozen=True, slots=True)
class StoredSource:
    """What a repair needs of a stored report: its state and the order event it was built from."""

    view: ReportView
    event: OrderEvent


def _json(value: Any) -> str:
    return _JSON.encode(value).decode()


def _loads(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def report_view(row: asyncpg.Record | Any) -> ReportView:
    problems = _loads(row["problems"]) or []
    record = _loads(row["record"])
    return ReportView(
        id=row["id"],
        regime=row["regime"],
        fund_id=row["fund_id"],
        event_type=row["event_type"],
        report_key=row["report_key"],
        order_id=row["order_id"],
        source_event_id=row["source_event_id"],
        trade_date=row["trade_date"],
        event_time=row["event_time"],
        status=row["status"],
        problems=[ProblemView(field=str(p.get("field")), problem=str(p.get("problem"))) for p in problems],
        record=record if isinstance(record, dict) else {"value": record},
        file_id=row["file_id"],
        repaired_from=row["repaired_from"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def file_view(row: asyncpg.Record | Any, now: datetime | None = None) -> FileView:
    now = now or datetime.now(UTC)
    return FileView(
        id=row["id"],
        regime=row["regime"],
        fund_id=row["fund_id"],
        name=row["name"],
        trade_date=row["trade_date"],
        sequence=row["sequence"],
        record_count=row["record_count"],
        sha256=row["sha256"],
        deadline=row["deadline"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        submitted_at=row["submitted_at"],
        created_at=row["created_at"],
        overdue=is_overdue(row["status"], row["deadline"], now),
        metadata_name=row["metadata_name"],
        metadata_sha256=row["metadata_sha256"],
    )


def _report_of(row: asyncpg.Record | Any) -> Report:
    """A stored valid report as the adapter built it, for ``render_file``."""
    return Report(
        regime=row["regime"],
        event_type=row["event_type"],
        report_key=row["report_key"],
        fund_id=row["fund_id"],
        order_id=row["order_id"],
        source_event_id=row["source_event_id"],
        trade_date=row["trade_date"],
        event_time=row["event_time"],
        record=_loads(row["record"]),
        line=row["line"],
    )


def _report_args(
    report: Report,
    *,
    source_event: str,
    status: str,
    actor: str,
    repaired_from: int | None = None,
    reason: str | None = None,
) -> tuple[Any, ...]:
    problems = [{"field": p.field, "problem": p.problem} for p in report.problems]
    return (
        report.regime,
        report.fund_id,
        report.report_key,
        report.event_type,
        report.order_id,
        report.source_event_id,
        source_event,
        report.trade_date,
        report.event_time,
        _json(dict(report.record)),
        report.line,
        status,
        _json(problems),
        repaired_from,
        reason,
        actor,
    )


async def _render_untaken(
    conn: asyncpg.Connection | Any,
    render: Callable[[list[Report], int], ReportFile],
    reports: list[Report],
    sequence: int,
) -> tuple[ReportFile, int]:
    """The render at ``sequence``, or at the next sequence whose file names no stored file has
    yet, and that sequence.

    Only a regime whose names are not unique per trade date meets a taken name: CAT names a
    file by the day it is made, so two trade dates cut the same day would share File Number 1.
    """
    for _ in range(_NAME_TRIES):
        rendered = render(reports, sequence)
        names = [rendered.name] + ([rendered.metadata.name] if rendered.metadata else [])
        if len(set(names)) != len(names):
            raise ValueError(f"render: the metadata file of {rendered.name} has the data file's name")
        taken = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM reg_files WHERE name = ANY($1) OR metadata_name = ANY($1))", names
        )
        if not taken:
            return rendered, sequence
        log.info("%s file name %s is taken, trying sequence %d", rendered.regime, rendered.name, sequence + 1)
        sequence += 1
    raise RuntimeError(f"no free file name in {_NAME_TRIES} sequences from {sequence - _NAME_TRIES}")


def store_status(report: Report) -> str:
    """``pending`` for a valid report (it waits for the next cut), ``rejected`` otherwise."""
    return "pending" if report.is_valid else "rejected"


class ComplianceStore:
    """The compliance tables; ``source`` is the outbox source (the service's name)."""

    def __init__(self, pool: asyncpg.Pool, *, source: str = "compliance") -> None:
        self._pool = pool
        self._source = source

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    # ------------------------------------------------------------ reports

    async def store_reports(
        self, event: OrderEvent, reports: Sequence[Report], *, actor: str
    ) -> list[ReportView]:
        """Insert the reports not stored yet, with a stored/rejected fact each; the new ones."""
        source_event = schemas.encode(event).decode()
        now = datetime.now(UTC)
        created: list[ReportView] = []
        async with self._pool.acquire() as conn, conn.transaction():
            for report in reports:
                status = store_status(report)
                row = await conn.fetchrow(
                    _INSERT_REPORT,
                    *_report_args(report, source_event=source_event, status=status, actor=actor),
                )
                if row is not None:
                    created.append(report_view(row))
            events = []
            for view in created:
                outcome = "stored" if view.status == "pending" else "rejected"
                subject, payload = report_fact(view, outcome=outcome, actor=actor, at=now)
                events.append(
                    OutboxEvent(
                        subject=subject, payload=payload, event_id=report_fact_event_id(view.id, outcome)
                    )
                )
            await enqueue_many(conn, source=self._source, events=events)
        return created

    async def list_reports(
        self,
        *,
        fund_id: str | None = None,
        regime: str | None = None,
        status: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[ReportView]:
        rows = await self._pool.fetch(
            f"""
            SELECT {_REPORT_COLUMNS} FROM reg_reports
            WHERE id > $1 AND ($2::text IS NULL OR fund_id = $2) AND ($3::text IS NULL OR regime = $3)
              AND ($4::text IS NULL OR status = $4)
            ORDER BY id LIMIT $5
            """,  # noqa: S608 - constants only
            after_id,
            fund_id,
            regime,
            status,
            limit,
        )
        return [report_view(row) for row in rows]

    async def get_report(self, report_id: int) -> ReportView:
        row = await self._pool.fetchrow(
            f"SELECT {_REPORT_COLUMNS} FROM reg_reports WHERE id = $1",  # noqa: S608
            report_id,
        )
        if row is None:
            raise ReportNotFoundError(report_id)
        return report_view(row)

    async def source_of(self, report_id: int) -> StoredSource:
        row = await self._pool.fetchrow(
            f"SELECT {_REPORT_COLUMNS}, source_event FROM reg_reports WHERE id = $1",  # noqa: S608
            report_id,
        )
        if row is None:
            raise ReportNotFoundError(report_id)
        return StoredSource(view=report_view(row), event=schemas.decode(row["source_event"], OrderEvent))

    async def repair(
        self, report_id: int, repaired: Report, *, source_event: OrderEvent, actor: str, reason: str
    ) -> ReportView:
        """Supersede report ``report_id`` by ``repaired`` (valid), with a repaired fact; the new report."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            old = await conn.fetchrow("SELECT status FROM reg_reports WHERE id = $1 FOR UPDATE", report_id)
            if old is None:
                raise ReportNotFoundError(report_id)
            if old["status"] not in REPAIRABLE_STATUSES:
                raise NotRepairableError(
                    report_id,
                    f"its status is {old['status']!r}; only rejected or failed reports are repaired",
                )
            await conn.execute(
                "UPDATE reg_reports SET status = 'superseded', updated_at = now() WHERE id = $1", report_id
            )
            row = await conn.fetchrow(
                _INSERT_REPAIRED,
                *_report_args(
                    repaired,
                    source_event=schemas.encode(source_event).decode(),
                    status=store_status(repaired),
                    actor=actor,
                    repaired_from=report_id,
                    reason=reason,
                ),
            )
            if row is None:
                raise NotRepairableError(
                    report_id,
                    f"the repaired report's key {repaired.report_key!r} is already used by another "
                    f"{repaired.regime} report",
                )
            view = report_view(row)
            subject, payload = report_fact(view, outcome="repaired", actor=actor, at=now, reason=reason)
            await enqueue_many(
                conn,
                source=self._source,
                events=[
                    OutboxEvent(
                        subject=subject, payload=payload, event_id=report_fact_event_id(view.id, "repaired")
                    )
                ],
            )
        return view

    # ------------------------------------------------------------ files

    async def pending_groups(
        self,
        *,
        regime: str | None = None,
        fund_id: str | None = None,
        through: date | None = None,
    ) -> list[PendingGroup]:
        """The (regime, fund, trade date) with valid reports not yet in a file, oldest first."""
        rows = await self._pool.fetch(
            """
            SELECT DISTINCT regime, fund_id, trade_date FROM reg_reports
            WHERE status = 'pending' AND ($1::text IS NULL OR regime = $1)
              AND ($2::text IS NULL OR fund_id = $2) AND ($3::date IS NULL OR trade_date <= $3)
            ORDER BY trade_date, regime, fund_id
            """,
            regime,
            fund_id,
            through,
        )
        return [PendingGroup(row["regime"], row["fund_id"], row["trade_date"]) for row in rows]

    async def cut_file(
        self, group: PendingGroup, render: Callable[[list[Report], int], ReportFile]
    ) -> tuple[FileView, ReportFile] | None:
        """File the group's pending reports: render, store the file, mark them filed (one transaction).

        None when another cut took them first. ``render(reports, sequence)`` is the adapter's.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _CUT_LOCK_CLASS, group.regime
            )
            rows = await conn.fetch(
                """
                SELECT id, regime, fund_id, event_type, report_key, order_id, source_event_id, trade_date,
                       event_time, record, line
                FROM reg_reports
                WHERE regime = $1 AND fund_id = $2 AND trade_date = $3 AND status = 'pending'
                ORDER BY event_time, id
                FOR UPDATE
                """,
                group.regime,
                group.fund_id,
                group.trade_date,
            )
            if not rows:
                return None
            sequence = await conn.fetchval(
                "SELECT coalesce(max(sequence), 0) + 1 FROM reg_files "
                "WHERE regime = $1 AND fund_id = $2 AND trade_date = $3",
                group.regime,
                group.fund_id,
                group.trade_date,
            )
            reports = [_report_of(row) for row in rows]
            rendered, sequence = await _render_untaken(conn, render, reports, sequence)
            meta = rendered.metadata
            file_row = await conn.fetchrow(
                f"""
                INSERT INTO reg_files (regime, fund_id, name, trade_date, sequence, content, media_type,
                                       sha256, record_count, deadline, metadata_name, metadata_content,
                                       metadata_media_type, metadata_sha256)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                RETURNING {_FILE_COLUMNS}
                """,  # noqa: S608
                group.regime,
                group.fund_id,
                rendered.name,
                group.trade_date,
                sequence,
                rendered.content,
                rendered.media_type,
                hashlib.sha256(rendered.content).hexdigest(),
                rendered.record_count,
                rendered.deadline,
                None if meta is None else meta.name,
                None if meta is None else meta.content,
                None if meta is None else meta.media_type,
                None if meta is None else hashlib.sha256(meta.content).hexdigest(),
            )
            if file_row is None:  # pragma: no cover - INSERT ... RETURNING returns the row or raises
                raise RuntimeError("reg_files insert returned no row")
            await conn.execute(
                "UPDATE reg_reports SET status = 'filed', file_id = $1, updated_at = now() "
                "WHERE id = ANY($2)",
                file_row["id"],
                [row["id"] for row in rows],
            )
        return file_view(file_row), rendered

    async def file(self, file_id: int) -> FileView:
        row = await self._pool.fetchrow(
            f"SELECT {_FILE_COLUMNS} FROM reg_files WHERE id = $1",  # noqa: S608
            file_id,
        )
        if row is None:
            raise LookupError(f"no file with id {file_id}")
        return file_view(row)

    async def unsubmitted_files(self) -> list[tuple[FileView, datetime | None]]:
        """Files not submitted yet (pending or failed) and when each was last tried, oldest first."""
        rows = await self._pool.fetch(
            f"SELECT {_FILE_COLUMNS}, last_attempt_at FROM reg_files "  # noqa: S608
            "WHERE status <> 'submitted' ORDER BY id"
        )
        now = datetime.now(UTC)
        return [(file_view(row, now), row["last_attempt_at"]) for row in rows]

    async def report_file(self, file_id: int) -> ReportFile:
        """A stored file as the adapter rendered it, to submit again."""
        row = await self._pool.fetchrow(
            "SELECT regime, fund_id, name, content, media_type, trade_date, sequence, record_count, "
            "deadline, metadata_name, metadata_content, metadata_media_type FROM reg_files WHERE id = $1",
            file_id,
        )
        if row is None:
            raise LookupError(f"no file with id {file_id}")
        keys = await self._pool.fetch(
            "SELECT report_key FROM reg_reports WHERE file_id = $1 ORDER BY id", file_id
        )
        return ReportFile(
            regime=row["regime"],
            fund_id=row["fund_id"],
            name=row["name"],
            content=bytes(row["content"]),
            trade_date=row["trade_date"],
            sequence=row["sequence"],
            record_count=row["record_count"],
            deadline=row["deadline"],
            media_type=row["media_type"],
            report_keys=tuple(key["report_key"] for key in keys),
            metadata=None
            if row["metadata_name"] is None
            else MetadataFile(
                name=row["metadata_name"],
                content=bytes(row["metadata_content"]),
                media_type=row["metadata_media_type"],
            ),
        )

    async def data_delivered(self, file_id: int) -> bool:
        """Whether the file's data file went in an earlier try (only its metadata file is left)."""
        return bool(
            await self._pool.fetchval(
                "SELECT data_delivered_at IS NOT NULL FROM reg_files WHERE id = $1", file_id
            )
        )

    async def mark_data_delivered(self, file_id: int) -> None:
        """Record that the file's data file went (committed before its metadata file is sent)."""
        await self._pool.execute(
            "UPDATE reg_files SET data_delivered_at = now() WHERE id = $1 AND data_delivered_at IS NULL",
            file_id,
        )

    async def store_metadata(self, file_id: int, metadata: MetadataFile) -> MetadataFile:
        """Store ``metadata`` on a file that has none; the metadata file stored on it after that.

        A file that has one keeps it: a concurrent or earlier store wins, and every try delivers
        the bytes it stored.
        """
        await self._pool.execute(
            "UPDATE reg_files SET metadata_name = $2, metadata_content = $3, metadata_media_type = $4, "
            "metadata_sha256 = $5 WHERE id = $1 AND metadata_name IS NULL",
            file_id,
            metadata.name,
            metadata.content,
            metadata.media_type,
            hashlib.sha256(metadata.content).hexdigest(),
        )
        stored = await self.report_file(file_id)
        if stored.metadata is None:  # pragma: no cover - the UPDATE above set it, or a row had it
            raise RuntimeError(f"file {file_id}: its metadata file was not stored")
        return stored.metadata

    async def lock_submission(self, conn: asyncpg.Connection | Any, file_id: int, *, wait: bool) -> bool:
        """A session lock on the file on ``conn``, so two filers never submit it at once.

        ``wait=False`` gives up at once (False) when another session holds it.
        """
        if wait:
            await conn.execute("SELECT pg_advisory_lock($1, $2)", _SUBMIT_LOCK_CLASS, file_id)
            return True
        return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", _SUBMIT_LOCK_CLASS, file_id))

    async def unlock_submission(self, conn: asyncpg.Connection | Any, file_id: int) -> None:
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", _SUBMIT_LOCK_CLASS, file_id)

    async def record_submission(
        self,
        file_id: int,
        *,
        attempts: int,
        actor: str,
        destination: str | None = None,
        error: str | None = None,
    ) -> FileView:
        """Record a submission round's outcome (``error`` None: submitted) with its fact."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            if error is None:
                row = await conn.fetchrow(
                    f"""
                    UPDATE reg_files SET status = 'submitted', attempts = attempts + $2, last_error = NULL,
                                         last_attempt_at = now(), submitted_at = now(), destination = $3,
                                         data_delivered_at = coalesce(data_delivered_at, now())
                    WHERE id = $1 RETURNING {_FILE_COLUMNS}
                    """,  # noqa: S608
                    file_id,
                    attempts,
                    destination,
                )
                await conn.execute(
                    "UPDATE reg_reports SET status = 'submitted', updated_at = now() "
                    "WHERE file_id = $1 AND status = 'filed'",
                    file_id,
                )
            else:
                row = await conn.fetchrow(
                    f"""
                    UPDATE reg_files SET status = 'failed', attempts = attempts + $2, last_error = $3,
                                         last_attempt_at = now()
                    WHERE id = $1 RETURNING {_FILE_COLUMNS}
                    """,  # noqa: S608
                    file_id,
                    attempts,
                    error[:8000],
                )
            if row is None:
                raise LookupError(f"no file with id {file_id}")
            view = file_view(row, now)
            subject, payload = file_fact(view, actor=actor, at=now, destination=destination)
            await enqueue_many(
                conn,
                source=self._source,
                events=[
                    OutboxEvent(
                        subject=subject,
                        payload=payload,
                        event_id=file_fact_event_id(view.id, view.status, view.attempts),
                    )
                ],
            )
        return view

    async def list_files(
        self, *, fund_id: str | None = None, regime: str | None = None, status: str | None = None
    ) -> list[FileView]:
        rows = await self._pool.fetch(
            f"""
            SELECT {_FILE_COLUMNS} FROM reg_files
            WHERE ($1::text IS NULL OR fund_id = $1) AND ($2::text IS NULL OR regime = $2)
              AND ($3::text IS NULL OR status = $3)
            ORDER BY id
            """,  # noqa: S608
            fund_id,
            regime,
            status,
        )
        now = datetime.now(UTC)
        return [file_view(row, now) for row in rows]

    async def overdue_by_regime(self) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT regime, count(*) AS n FROM reg_files "
            "WHERE status <> 'submitted' AND deadline < now() GROUP BY regime"
        )
        return {row["regime"]: row["n"] for row in rows}
