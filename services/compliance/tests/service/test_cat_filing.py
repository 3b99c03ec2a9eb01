"""CAT files through the service: each data file goes with its metadata file, data first, retried
as a pair (a data file that went is not sent again), the same metadata bytes every time, a file
cut before there were metadata files given one, and File Numbers unique per File Generation Date
(also across funds sharing a File Group)."""

from __future__ import annotations

import asyncio
import bz2
import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mts1b_operations.compliance.adapters import (
    LocalDirectoryTransport,
    PendingGroup,
    SubmissionReceipt,
    Transport,
)
from mts1b_operations.compliance.reg_reporting import AdapterRegistry, MetadataFile, Report, ReportFile
from mts1b_operations.compliance.reg_reporting._cat._files import generation_date
from mts1b_operations.compliance.reg_reporting.cat import CatAdapter
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import eventually

from .conftest import T0, ComplianceApp, fast_config, order_event, publish, report_rows, running_compliance

FUND = "cat-fund"
CAT_FUNDS_YAML = f"""\
funds:
  - fund_id: {FUND}
    mode: live
    strategies: [cat-strat]
    compliance:
      cat_enabled: true
      cat_subscriber_id: "ABCD12345"
      cat_submitter_id: "SUB1"
      cat_reporter_imid: "FIRM"
      cat_reporter_crd: 12345
"""
SHARED_GROUP_YAML = "".join(
    f"""\
  - fund_id: {fund}
    mode: live
    strategies: [{fund}-strat]
    compliance:
      cat_enabled: true
      cat_subscriber_id: "ABCD12345"
      cat_submitter_id: "SUB1"
      cat_reporter_imid: "FIRM"
      cat_reporter_crd: 12345
      cat_file_group: "shared"
"""
    for fund in ("fund-a", "fund-b")
)


@pytest.fixture
def cat_funds_file(tmp_path: Path) -> Path:
    path = tmp_path / "cat-funds.yaml"
    path.write_text(CAT_FUNDS_YAML)
    return path


class RecordingTransport:
    """The regulator's endpoint (a third party, so the one fake): writes through the local
    transport, records every file it is handed, and fails the first ``failures`` submissions
    whose name ends with ``fail_suffix``. With ``pool``, it also records, when handed a metadata
    file, whether its data file's delivery was committed (``data_delivered_at``) by then."""

    def __init__(
        self, root: Path, *, fail_suffix: str, failures: int = 1, pool: asyncpg.Pool | None = None
    ) -> None:
        self.local = LocalDirectoryTransport(root)
        self.fail_suffix = fail_suffix
        self.failures = failures
        self.pool = pool
        self.handed: list[ReportFile] = []
        self.delivered_before_meta: list[bool] = []

    async def submit(self, file: ReportFile) -> SubmissionReceipt:
        self.handed.append(file)
        if self.pool is not None and file.name.endswith(".meta.json"):
            self.delivered_before_meta.append(
                await self.pool.fetchval(
                    "SELECT data_delivered_at IS NOT NULL FROM reg_files WHERE metadata_name = $1", file.name
                )
            )
        if file.name.endswith(self.fail_suffix) and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("endpoint down")
        return await self.local.submit(file)

    def names(self) -> list[str]:
        return [file.name for file in self.handed]


CatApp = AbstractAsyncContextManager[ComplianceApp]
CatService = Callable[..., CatApp]


@pytest.fixture
def cat_service(
    pool: asyncpg.Pool,
    bus: Bus,
    compliance_db: str,
    nats_url: str,
    cat_funds_file: Path,
    tokens: dict[str, str],
    output_dir: Path,
) -> CatService:
    """``async with cat_service(transport=..., **config) as app``: the service filing CAT files."""

    def start(*, transport: Transport | None = None, funds_file: Path | None = None, **config: Any) -> CatApp:
        return running_compliance(
            pool=pool,
            bus=bus,
            database_url=compliance_db,
            nats_url=nats_url,
            funds_file=funds_file or cat_funds_file,
            tokens=tokens,
            config=fast_config(output_dir, **config),
            registry=AdapterRegistry([CatAdapter()]),
            transport=transport,
        )

    return start


async def _stored(bus: Bus, pool: asyncpg.Pool, *changes: dict[str, Any]) -> None:
    for i, change in enumerate(changes):
        fields = {"fund_id": FUND, "strategy_id": "cat-strat", "order_id": f"c-{i}"} | change
        await publish(bus, order_event("new", **fields))

    async def stored() -> bool:
        rows = await report_rows(pool)
        return len(rows) == len(changes) and all(row["status"] == "pending" for row in rows)

    await eventually(stored, what=f"{len(changes)} pending CAT reports")


def _on_disk(output_dir: Path) -> list[str]:
    """Every file under the CAT directory (a temporary file left behind would show here)."""
    return sorted(path.name for path in (output_dir / "cat").iterdir())


def _check_metadata(data: bytes, data_name: str, meta: bytes, generated: set[str]) -> None:
    """The metadata file against the data file it names: every field."""
    body = json.loads(meta)
    submitter, reporter, day, *_ = data_name.split("_")
    assert day in generated
    assert body == {
        "type": "META",
        "submitter": submitter,
        "reporter": reporter,
        "fileGenerationDate": int(day),
        "fileVersion": "4.1.0",
        "doneForDay": False,
        "files": [
            {
                "fileName": data_name,
                "recordCount": len(bz2.decompress(data).decode().splitlines()),
                "compressedHash": hashlib.sha256(data).hexdigest(),
            }
        ],
    }


def _today() -> set[str]:
    """The File Generation Dates a file made around now may carry (a test may straddle midnight ET)."""
    now = generation_date()
    return {f"{day:%Y%m%d}" for day in (now - timedelta(days=1), now, now + timedelta(days=1))}


async def test_a_flush_writes_the_data_file_and_its_metadata_file_and_shows_both(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    async with cat_service() as app:
        await _stored(bus, pool, {}, {"symbol": "MSFT"})
        response = await app.post("/v1/compliance/files/flush", {"regime": "cat"})
        assert response.status_code == 200, response.text
        (file,) = response.json()["items"]

        assert (file["status"], file["attempts"], file["record_count"]) == ("submitted", 1, 2)
        assert file["name"].startswith("SUB1_FIRM_")
        assert file["name"].endswith("_OrderEvents_000001.json.bz2")
        assert file["metadata_name"] == file["name"].removesuffix(".json.bz2") + ".meta.json"
        assert _on_disk(output_dir) == sorted([file["name"], file["metadata_name"]])
        data = (output_dir / "cat" / file["name"]).read_bytes()
        meta = (output_dir / "cat" / file["metadata_name"]).read_bytes()
        _check_metadata(data, file["name"], meta, _today())
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        assert file["metadata_sha256"] == hashlib.sha256(meta).hexdigest()

        stored = await app.service.store.report_file(file["id"])
        assert stored.metadata is not None
        assert stored.metadata.content == meta
        (listed,) = (await app.get("/v1/compliance/files", regime="cat")).json()["items"]
        assert (listed["metadata_name"], listed["metadata_sha256"]) == (
            file["metadata_name"],
            file["metadata_sha256"],
        )


async def test_a_metadata_file_that_fails_is_retried_alone_with_the_same_bytes_in_a_later_round(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    transport = RecordingTransport(output_dir, fail_suffix=".meta.json", pool=pool)
    async with cat_service(transport=transport, submit_attempts=1) as app:
        await _stored(bus, pool, {})
        (file,) = (await app.post("/v1/compliance/files/flush", {})).json()["items"]
        data_name, meta_name = file["name"], file["metadata_name"]
        assert (file["status"], file["attempts"]) == ("failed", 1)
        assert file["last_error"] == (
            f"TransportError: metadata file {meta_name} (its data file went): ConnectionError: endpoint down"
        )
        assert transport.names() == [data_name, meta_name]  # the data file first
        assert _on_disk(output_dir) == [data_name]
        assert transport.delivered_before_meta == [True]  # committed before the metadata file went

        async def submitted() -> dict[str, Any] | None:
            (current,) = (await app.get("/v1/compliance/files")).json()["items"]
            return current if current["status"] == "submitted" else None

        done = await eventually(submitted, what="the filer to retry the file and its metadata file")
        assert (done["attempts"], done["last_error"], done["metadata_name"]) == (2, None, meta_name)
        # The data file went: CAT would refuse its name again (1103), so only the metadata file
        # is sent again, and never a second, different one.
        assert transport.names() == [data_name, meta_name, meta_name]
        sent = {file.content for file in transport.handed if file.name == meta_name}
        assert len(sent) == 1
        assert _on_disk(output_dir) == sorted([data_name, meta_name])
        meta = (output_dir / "cat" / meta_name).read_bytes()
        assert sent == {meta}
        assert hashlib.sha256(meta).hexdigest() == done["metadata_sha256"] == file["metadata_sha256"]
        _check_metadata((output_dir / "cat" / data_name).read_bytes(), data_name, meta, _today())
        assert [r["status"] for r in await report_rows(pool)] == ["submitted"]


async def test_a_metadata_file_that_fails_is_retried_alone_in_the_same_round(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    transport = RecordingTransport(output_dir, fail_suffix=".meta.json", pool=pool)
    async with cat_service(transport=transport, submit_attempts=2) as app:
        await _stored(bus, pool, {})
        (file,) = (await app.post("/v1/compliance/files/flush", {})).json()["items"]
        assert (file["status"], file["attempts"], file["last_error"]) == ("submitted", 2, None)
        assert transport.names() == [file["name"], file["metadata_name"], file["metadata_name"]]
        assert transport.delivered_before_meta == [True, True]
        assert _on_disk(output_dir) == sorted([file["name"], file["metadata_name"]])
        row = await pool.fetchrow(
            "SELECT data_delivered_at, submitted_at FROM reg_files WHERE id = $1", file["id"]
        )
        assert row["data_delivered_at"] <= row["submitted_at"]


async def test_a_data_file_that_fails_holds_its_metadata_file_back_until_it_went(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    transport = RecordingTransport(output_dir, fail_suffix=".json.bz2")
    async with cat_service(transport=transport, submit_attempts=2) as app:
        await _stored(bus, pool, {})
        (file,) = (await app.post("/v1/compliance/files/flush", {})).json()["items"]
        assert (file["status"], file["attempts"]) == ("submitted", 2)
        assert transport.names() == [file["name"], file["name"], file["metadata_name"]]
        assert _on_disk(output_dir) == sorted([file["name"], file["metadata_name"]])


async def test_a_file_cut_before_metadata_files_gets_one_made_stored_and_delivered_after_it(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    transport = RecordingTransport(output_dir, fail_suffix="never")
    async with cat_service(transport=transport) as app:
        await _stored(bus, pool, {}, {"symbol": "MSFT"})
        (row,) = {(r["regime"], r["fund_id"], r["trade_date"]) for r in await report_rows(pool)}
        adapter = CatAdapter()
        fund = app.service.funds.fund(FUND)

        def render_as_before_0004(reports: list[Report], sequence: int) -> ReportFile:
            rendered = adapter.render_file(reports, fund=fund, trade_date=row[2], sequence=sequence)
            return replace(rendered, metadata=None)

        # Cut as the service did before 0004; the background filer finds it unsubmitted.
        cut = await app.service.store.cut_file(PendingGroup(*row), render_as_before_0004)
        assert cut is not None
        view, data = cut
        assert view.metadata_name is None

        async def submitted() -> dict[str, Any] | None:
            (current,) = (await app.get("/v1/compliance/files")).json()["items"]
            return current if current["status"] == "submitted" else None

        done = await eventually(
            submitted, what="the filer to give the old file a metadata file and submit both"
        )
        meta_name, meta = adapter.metadata_file(data, fund=fund)
        assert done["metadata_name"] == meta_name == data.name.removesuffix(".json.bz2") + ".meta.json"
        assert done["metadata_sha256"] == hashlib.sha256(meta).hexdigest()
        assert transport.names() == [data.name, meta_name]
        assert _on_disk(output_dir) == sorted([data.name, meta_name])
        assert (output_dir / "cat" / meta_name).read_bytes() == meta
        _check_metadata(data.content, data.name, meta, _today())
        stored = await app.service.store.report_file(view.id)
        assert stored.metadata == MetadataFile(name=meta_name, content=meta, media_type="application/json")

        # Stored once: a later store (a concurrent round) keeps the bytes stored first.
        other = MetadataFile(name="other.meta.json", content=b"{}")
        assert await app.service.store.store_metadata(view.id, other) == stored.metadata


async def test_two_funds_sharing_a_file_group_flushed_at_once_get_distinct_file_numbers(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path, tmp_path: Path
) -> None:
    funds_file = tmp_path / "shared-group.yaml"
    funds_file.write_text("funds:\n" + SHARED_GROUP_YAML)
    async with cat_service(funds_file=funds_file) as app:
        for fund in ("fund-a", "fund-b"):
            fields = {"fund_id": fund, "strategy_id": f"{fund}-strat", "order_id": f"{fund}-1"}
            await publish(bus, order_event("new", **fields))

        async def stored() -> bool:
            rows = await report_rows(pool)
            return len(rows) == 2 and all(row["status"] == "pending" for row in rows)

        await eventually(stored, what="a pending CAT report of each fund")
        responses = await asyncio.gather(
            *(app.post("/v1/compliance/files/flush", {"fund_id": fund}) for fund in ("fund-a", "fund-b"))
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        files = [file for r in responses for file in r.json()["items"]]
        assert [(f["fund_id"], f["status"]) for f in files] == [
            ("fund-a", "submitted"),
            ("fund-b", "submitted"),
        ]
        numbers = sorted(f["name"].removesuffix(".json.bz2").rsplit("_", 1)[1] for f in files)
        assert numbers == ["000001", "000002"]
        assert all(f["name"].startswith("SUB1_FIRM_") and "_shared_OrderEvents_" in f["name"] for f in files)
        names = [n for f in files for n in (f["name"], f["metadata_name"])]
        assert _on_disk(output_dir) == sorted(names)


async def test_files_of_two_trading_days_cut_the_same_day_get_distinct_file_numbers(
    cat_service: CatService, bus: Bus, pool: asyncpg.Pool, output_dir: Path
) -> None:
    async with cat_service() as app:
        await _stored(bus, pool, {"ts": T0}, {"ts": T0 + timedelta(days=1)})  # Monday, Tuesday
        files = (await app.post("/v1/compliance/files/flush", {})).json()["items"]
        assert [(f["trade_date"], f["sequence"], f["status"]) for f in files] == [
            ("2026-03-16", 1, "submitted"),
            ("2026-03-17", 2, "submitted"),  # File Number 1 of today is taken by Monday's file
        ]
        monday, tuesday = files
        assert {f["name"].split("_")[2] for f in files} <= _today()
        assert monday["name"].endswith("_000001.json.bz2")
        assert tuesday["name"].endswith("_000002.json.bz2")
        names = [monday["name"], monday["metadata_name"], tuesday["name"], tuesday["metadata_name"]]
        assert _on_disk(output_dir) == sorted(names)
        for f in files:
            data = (output_dir / "cat" / f["name"]).read_bytes()
            _check_metadata(data, f["name"], (output_dir / "cat" / f["metadata_name"]).read_bytes(), _today())
