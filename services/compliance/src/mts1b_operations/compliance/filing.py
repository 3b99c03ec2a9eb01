"""Files of reports: cut at the daily cut time (or on demand), submitted, retried until they go through.

A cut takes, per (regime, fund, trade date), the valid reports not yet filed, has the adapter
render the file numbered with the next sequence of that day, and stores the file and marks the
reports ``filed`` in one transaction. The file is then submitted through the :class:`Transport`
(tenacity: a few tries per round); a file with a metadata file (CAT's ``.meta.json``, stored with
it at the cut) is delivered as a pair, data file first, metadata file second, and is submitted
once both went. That the data file went is stored before its metadata file is sent, so a later
try (of this round or a later one) sends only the metadata file: CAT refuses a data file name it
already received (error 1103). A file of a regime with metadata files cut without one (before
there were any) has it made by the adapter on its first round and stored, then goes as a pair.
The outcome is stored with its fact
(``compliance.file.submitted`` / ``.failed``). Nothing is given up: a failed (or never tried)
file is tried again by the background :class:`Filer` with a growing pause between rounds.
The filer also keeps the ``mts_compliance_overdue_files`` gauge current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Final, Protocol, runtime_checkable

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from mts1b_operations.core.funds import Fund, FundsRegistry

from ._config import ComplianceConfig
from ._metrics import compliance_metrics
from .adapters import ComplianceStore, PendingGroup, SubmissionReceipt, Transport, TransportError
from .adapters.registry import AdapterSource, adapter_for
from .domain import FileView, cut_trade_date, latest_cut, retry_due
from .reg_reporting._model import MetadataFile, Report, ReportFile
from .reporting import SERVICE_ACTOR

__all__ = ["Filer", "Filing"]

log = logging.getLogger(__name__)

_ERROR_CHARS: Final = 2000


@runtime_checkable
class _MakesMetadata(Protocol):
    """An adapter whose data files go with a metadata file (``CatAdapter``)."""

    def metadata_file(self, data_file: ReportFile, *, fund: Fund) -> tuple[str, bytes]: ...


@dataclass(slots=True, kw_only=True)
class Filing:
    """Cutting and submitting files (used by the HTTP flush and by the background filer)."""

    store: ComplianceStore
    registry: AdapterSource
    funds: FundsRegistry
    transport: Transport
    config: ComplianceConfig
    _gauged: set[str] = field(default_factory=set)

    async def cut(
        self,
        *,
        regime: str | None = None,
        fund_id: str | None = None,
        through: date | None = None,
        actor: str = SERVICE_ACTOR,
    ) -> list[FileView]:
        """Cut a file for every group of pending reports (trade dates up to ``through``), submit each;
        the files as they stand after their submission round."""
        files: list[FileView] = []
        for group in await self.store.pending_groups(regime=regime, fund_id=fund_id, through=through):
            cut = await self._cut_one(group)
            if cut is not None:
                files.append(await self.submit(cut, actor=actor, wait=True))
        return files

    async def _cut_one(self, group: PendingGroup) -> FileView | None:
        adapter = adapter_for(self.registry, group.regime)
        if adapter is None or group.fund_id not in self.funds:
            log.warning(
                "pending %s reports of fund %s for %s are not filed: %s",
                group.regime, group.fund_id, group.trade_date,
                "no adapter is registered for the regime" if adapter is None
                else "the fund is not in the funds registry",
            )  # fmt: skip
            return None
        fund = self.funds.fund(group.fund_id)

        def render(reports: list[Report], sequence: int) -> ReportFile:
            return adapter.render_file(reports, fund=fund, trade_date=group.trade_date, sequence=sequence)

        cut = await self.store.cut_file(group, render)
        if cut is None:
            return None
        view, _ = cut
        log.info(
            "%s file %s cut for fund %s, trade date %s: %d report(s), due %s",
            view.regime, view.name, view.fund_id, view.trade_date, view.record_count,
            view.deadline.isoformat(),
        )  # fmt: skip
        return view

    async def submit(self, view: FileView, *, actor: str = SERVICE_ACTOR, wait: bool = False) -> FileView:
        """One submission round of a stored file, unless it went meanwhile.

        ``wait``: wait for a round another filer holds on it (then report what it found) rather
        than skip it.
        """
        async with self.store.pool.acquire() as conn:
            if not await self.store.lock_submission(conn, view.id, wait=wait):
                return view
            try:
                current = await self.store.file(view.id)
                if current.status == "submitted":
                    return current
                return await self._submit_locked(current, actor)
            finally:
                with contextlib.suppress(Exception):
                    await self.store.unlock_submission(conn, view.id)

    async def _submit_locked(self, view: FileView, actor: str) -> FileView:
        file = await self.store.report_file(view.id)
        metrics = compliance_metrics()
        attempts = 0
        sent = _Sent(data=await self.store.data_delivered(view.id))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.submit_attempts),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    if file.metadata is None:
                        file = await self._with_metadata(view.id, file)
                    receipt = await self._deliver(view.id, file, sent)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
            metrics.submission_failures.labels(view.regime).inc()
            log.warning(
                "%s file %s: submission failed after %d attempt(s), will retry: %s",
                view.regime, view.name, attempts, error,
            )  # fmt: skip
            return await self.store.record_submission(view.id, attempts=attempts, actor=actor, error=error)
        metrics.files_submitted.labels(view.regime).inc()
        log.info(
            "%s file %s submitted to %s%s", view.regime, view.name, receipt.destination,
            f", then its metadata file {file.metadata.name}" if file.metadata else "",
        )  # fmt: skip
        return await self.store.record_submission(
            view.id, attempts=attempts, actor=actor, destination=receipt.destination
        )

    async def _with_metadata(self, file_id: int, file: ReportFile) -> ReportFile:
        """``file`` (stored without a metadata file) with the one its adapter makes, stored first,
        when its regime has metadata files: a file cut before there were any."""
        adapter = adapter_for(self.registry, file.regime)
        if not isinstance(adapter, _MakesMetadata):
            return file
        if file.fund_id not in self.funds:
            raise LookupError(
                f"fund {file.fund_id!r} is not in the funds registry: the metadata file of {file.name} "
                "cannot be made"
            )
        name, content = adapter.metadata_file(file, fund=self.funds.fund(file.fund_id))
        stored = await self.store.store_metadata(file_id, MetadataFile(name=name, content=content))
        log.info("%s file %s: metadata file %s made and stored", file.regime, file.name, stored.name)
        return replace(file, metadata=stored)

    async def _deliver(self, file_id: int, file: ReportFile, sent: _Sent) -> SubmissionReceipt:
        """The data file, unless it went in an earlier try, then its metadata file: CAT refuses a
        metadata file naming a data file it has not received (error 1122), and a data file name it
        already received (1103). That the data file went is stored before the metadata file goes."""
        meta = file.metadata
        if meta is None:
            return await self.transport.submit(file)
        receipt: SubmissionReceipt | None = None
        if not sent.data:
            receipt = await self.transport.submit(file)
            sent.data = True
            await self.store.mark_data_delivered(file_id)
        try:
            meta_receipt = await self.transport.submit(_metadata_file(file, meta))
        except Exception as exc:
            raise TransportError(
                f"metadata file {meta.name} (its data file went): {type(exc).__name__}: {exc}"
            ) from exc
        return receipt or meta_receipt

    async def retry_unsubmitted(self, now: datetime | None = None) -> list[FileView]:
        """A submission round for every file not submitted whose pause since its last round is over."""
        now = now or datetime.now(UTC)
        done: list[FileView] = []
        for view, last_attempt_at in await self.store.unsubmitted_files():
            rounds = -(-view.attempts // self.config.submit_attempts)
            if retry_due(
                last_attempt_at,
                rounds,
                now,
                base=self.config.retry_delay,
                ceiling=self.config.retry_max_delay,
            ):
                done.append(await self.submit(view))
        return done

    async def refresh_overdue(self) -> dict[str, int]:
        """Set the overdue gauge per regime (zero for a regime no longer overdue); the counts."""
        counts = await self.store.overdue_by_regime()
        gauge = compliance_metrics().overdue_files
        self._gauged |= set(counts)
        for regime in self._gauged:
            gauge.labels(regime).set(counts.get(regime, 0))
        return counts


@dataclass(slots=True)
class _Sent:
    """What went in the tries of one submission round so far."""

    data: bool


def _metadata_file(data: ReportFile, meta: MetadataFile) -> ReportFile:
    """``meta`` as a file the transport takes: its own name and bytes, its data file's the rest."""
    return ReportFile(
        regime=data.regime,
        fund_id=data.fund_id,
        name=meta.name,
        content=meta.content,
        trade_date=data.trade_date,
        sequence=data.sequence,
        record_count=data.record_count,
        deadline=data.deadline,
        media_type=meta.media_type,
    )


@dataclass(slots=True, kw_only=True)
class Filer:
    """The background task: the daily cut when due, retries of unsubmitted files, the overdue gauge.

    Started and stopped by the runtime like a consumer. ``auto_cut=False`` leaves cutting to
    the HTTP flush (retries and the gauge still run).
    """

    filing: Filing
    auto_cut: bool = True
    _last_cut: datetime | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the filer is already started")
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="compliance-filer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await asyncio.wait({task})

    async def _run(self) -> None:
        interval = self.filing.config.filing_interval
        while not self._stopping.is_set():
            try:
                await self.round()
            except Exception as exc:
                # Postgres restarting, a transport down: the next round tries again.
                log.warning("filer round failed, next in %.1fs: %r", interval, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)

    async def round(self, now: datetime | None = None) -> list[FileView]:
        """One round: cut when a daily cut passed since the last one, retry, refresh the gauge."""
        now = now or datetime.now(UTC)
        touched: list[FileView] = []
        if self.auto_cut:
            cut = latest_cut(now, self.filing.config.cut_time)
            if self._last_cut is None or cut > self._last_cut:
                touched += await self.filing.cut(through=cut_trade_date(cut))
                self._last_cut = cut
        touched += await self.filing.retry_unsubmitted(now)
        await self.filing.refresh_overdue()
        return touched
