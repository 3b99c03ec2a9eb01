"""End to end: paper OMS orders → mts1b-compliance → one CAT NDJSON file, in the audit chain.

Real parts throughout: the suite's Postgres and NATS, mts1b-compliance and mts1b-audit as their
own processes, the devstack's market replay and paper OMS (in this process, on real NATS),
and the `mts` CLI through the SDK over HTTP. The funds registry has two paper funds: one with
CAT reporting on (and the CAT identifiers it needs), one without.

What must hold (the issue's acceptance):

- every order event of the CAT fund that CAT wants (new → MENO, routed → MEOR, filled → MEOT,
  canceled → MEOC) is one stored, valid report; the fund without CAT has none;
- a flush cuts exactly one file for the CAT fund, NDJSON, whose every line conforms to the CAT
  reference schema (../shared/reference/cat/, checked by ``_cat_schema``, not by the service);
- an order event delivered again (the same event, a new Nats-Msg-Id) stores nothing twice and
  files nothing more;
- each report and the file's submission are facts in the audit chain;
- `mts mts1b-operations compliance reports|files|flush` show the same over HTTP;
- a report CAT cannot take (a route to a venue it does not know) is held as rejected naming
  the field, and `mts ... compliance repair` fixes it; the repaired report is filed.
"""

from __future__ import annotations

import asyncio
import bz2
import hashlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result
from nats.aio.msg import Msg

from mts1b_operations.cli import ExitCode
from mts1b_operations.cli.main import cli
from mts1b_operations.client import (
    AuditClient,
    ClientConfig,
    ComplianceClient,
    ReportView,
)
from mts1b_operations.compliance.reg_reporting.cat import cat_trade_date
from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus, connect_bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.funds import FundsRegistry, load_funds
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.schemas import OrderEvent, decode
from mts1b_operations.core.testing import ServiceProcess, eventually, start_service
from mts1b_operations.devstack.oms import OmsOptions, PaperOms
from mts1b_operations.devstack.replay import CALM, SyntheticOptions, run_synthetic

from ._cat_schema import SCHEMA_PATH, cat_problems

pytestmark = pytest.mark.slow

CAT_FUND: Final = "paper-cat"
PLAIN_FUND: Final = "paper-plain"
SUBMITTER: Final = "MTSSUB01"
IMID: Final = "MTSB"
CRD: Final = 123456
# The OMS event each CAT report type comes from (CatAdapter.reports_for; accepted → none).
CAT_TYPE_OF: Final = {
    "new": "MENO",
    "routed": "MEOR",
    "modified": "MEOM",
    "canceled": "MEOC",
    "filled": "MEOT",
}
ORDER_EVENTS_CONSUMER: Final = "compliance-order-events"
EASTERN: Final = ZoneInfo("America/New_York")

FUNDS_YAML: Final = f"""\
funds:
  - fund_id: {CAT_FUND}
    mode: paper
    strategies: [mom-cat]
    compliance:
      cat_enabled: true
      cat_subscriber_id: "ABCD12345"
      cat_submitter_id: "{SUBMITTER}"
      cat_reporter_imid: "{IMID}"
      cat_reporter_crd: {CRD}
      cat_destinations: {{PAPER: "NYSE"}}
      cat_route_session: "PAPER01"
  - fund_id: {PLAIN_FUND}
    mode: paper
    strategies: [mom-plain]
"""


@dataclass
class Stack:
    compliance: ServiceProcess
    audit: ServiceProcess
    bus: Bus
    nats_url: str
    funds: FundsRegistry
    output_dir: Path
    tokens: dict[str, str]

    def client(self, token: str = "olga") -> ComplianceClient:
        config = ClientConfig(compliance_url=self.compliance.base_url, token=self.tokens[token])
        return ComplianceClient.from_env(config)

    def audit_client(self) -> AuditClient:
        return AuditClient.from_config(ClientConfig(audit_url=self.audit.base_url, token=self.tokens["vera"]))

    async def mts(self, token: str, *args: str) -> Result:
        env = {"MTS_COMPLIANCE_URL": self.compliance.base_url, "MTS_TOKEN": self.tokens[token]}
        # In a worker thread: the command runs its own event loop with asyncio.run.
        return await asyncio.to_thread(
            CliRunner().invoke, cli, ["mts1b-operations", "compliance", *args], env=env
        )


def _cut_time_far_from_now() -> str:
    """A daily cut an hour ago (Eastern): the service's own cut is then ~23 h away, so every
    file of this test is one the test cut."""
    return (datetime.now(EASTERN) - timedelta(hours=1)).strftime("%H:%M")


@pytest.fixture(autouse=True)
def _no_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for variable in ("MTS_TOKEN", "MTS_CREDENTIALS_FILE", "MTS_COMPLIANCE_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest_asyncio.fixture
async def stack(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    await asyncio.to_thread(upgrade_all, database_url, ["compliance", "audit"])
    pool = await create_pool(database_url, min_size=1, max_size=1, connect_deadline=10)
    try:
        tokens = {}
        for name, role in (("olga", "operator"), ("vera", "viewer")):
            _, tokens[name] = await add_operator(pool, name, role, created_by="test")  # type: ignore[arg-type]
    finally:
        await pool.close()
    funds_file = tmp_path / "funds.yaml"
    funds_file.write_text(FUNDS_YAML, encoding="utf-8")
    signing_key = tmp_path / "audit-signing-key.seed"
    signing_key.write_bytes(os.urandom(32))
    signing_key.chmod(0o600)
    output_dir = tmp_path / "cat-out"
    bus = await connect_bus(nats_url, name="compliance-e2e", connect_deadline=10)
    await bus.ensure_streams()
    started: list[ServiceProcess] = []
    try:
        compliance = await asyncio.to_thread(
            start_service,
            "mts1b_operations.compliance",
            database_url=database_url,
            nats_url=nats_url,
            log_dir=tmp_path / "compliance-logs",
            env={
                "MTS_FUNDS_FILE": str(funds_file),
                "MTS_COMPLIANCE_OUTPUT_DIR": str(output_dir),
                "MTS_COMPLIANCE_CUT_TIME": _cut_time_far_from_now(),
                "MTS_COMPLIANCE_INSTRUMENTS_FILE": None,
            },
        )
        started.append(compliance)
        audit = await asyncio.to_thread(
            start_service,
            "mts1b_operations.audit",
            database_url=database_url,
            nats_url=nats_url,
            log_dir=tmp_path / "audit-logs",
            env={"MTS_AUDIT_SIGNING_KEY": str(signing_key), "MTS_AUDIT_EXTRA_SUBJECTS": None},
        )
        started.append(audit)
        yield Stack(compliance, audit, bus, nats_url, load_funds(funds_file), output_dir, tokens)
    finally:
        for process in started:
            await asyncio.to_thread(process.stop)
        await bus.close()


@dataclass
class OrderTape:
    """Every order event the paper OMS published, in arrival order."""

    events: list[OrderEvent] = field(default_factory=list)

    async def take(self, msg: Msg) -> None:
        self.events.append(decode(msg.data, OrderEvent))

    def of(self, fund_id: str) -> list[OrderEvent]:
        return [e for e in self.events if e.fund_id == fund_id]

    def lifecycles(self, fund_id: str) -> dict[str, list[str]]:
        steps: dict[str, list[str]] = {}
        for event in self.of(fund_id):
            steps.setdefault(event.order_id, []).append(event.event)
        return steps


async def trade_until_a_cat_order_fills(stack: Stack) -> OrderTape:
    """Run the market and the paper OMS until an order of each fund went new → routed →
    accepted → filled, then stop both (the OMS publishes everything it queued)."""
    tape = OrderTape()
    sub = await stack.bus.nc.subscribe(subjects.OMS_ORDER_ALL, cb=tape.take)
    stop = asyncio.Event()
    market = asyncio.create_task(
        run_synthetic(stack.bus, SyntheticOptions(scenario=CALM, speed=5.0, history_days=0), stop)
    )
    oms_bus = await connect_bus(stack.nats_url, name="paper-oms-e2e", connect_deadline=10)
    oms = PaperOms(
        oms_bus,
        stack.funds.funds,
        OmsOptions(tick_interval=0.1, snapshot_interval=5.0, order_ttl=60.0, seed=3),
    )
    trading = asyncio.create_task(oms.run(stop))
    full = ["new", "routed", "accepted", "filled"]
    try:
        await eventually(
            lambda: all(full in tape.lifecycles(f).values() for f in (CAT_FUND, PLAIN_FUND)),
            within=60,
            what="an order of each fund going new -> routed -> accepted -> filled",
        )
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(trading, market), 30)
        await oms_bus.close()
    # Everything the OMS published has come back on the subscription before it is read.
    await stack.bus.nc.flush()
    await sub.unsubscribe()
    return tape


async def all_reports(
    client: ComplianceClient, *, fund_id: str | None = None, regime: str | None = None
) -> list[ReportView]:
    return [report async for report in client.iter_reports(fund_id=fund_id, regime=regime)]


def written(output_dir: Path) -> list[str]:
    """The names of the files the local transport wrote (temporary files included, if any were left)."""
    return sorted(p.name for p in output_dir.rglob("*") if p.is_file())


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    """The records of a CAT data file: bzip2-compressed NDJSON, one JSON object per line."""
    text = bz2.decompress(path.read_bytes()).decode("utf-8")
    assert text.endswith("\n"), f"{path.name}: the last line is not terminated"
    lines = text.splitlines()
    assert all(line.strip() for line in lines), f"{path.name}: blank line in an NDJSON file"
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records), f"{path.name}: a line is not a JSON object"
    return records


async def acked_through(bus: Bus, stream_sequence: int) -> bool:
    info = await bus.js.consumer_info("OMS", ORDER_EVENTS_CONSUMER)
    return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= stream_sequence


async def test_paper_orders_of_a_cat_fund_make_one_valid_cat_file_once_and_audited(stack: Stack) -> None:
    assert SCHEMA_PATH.is_file(), f"the CAT reference schema is not at {SCHEMA_PATH}"
    tape = await trade_until_a_cat_order_fills(stack)
    reportable = [e for e in tape.of(CAT_FUND) if e.event in CAT_TYPE_OF]
    assert tape.of(PLAIN_FUND), "the fund without CAT traded too (else its silence proves nothing)"
    assert {e.venue for e in tape.of(CAT_FUND) if e.event == "routed"} == {"PAPER"}

    async with stack.client() as client:
        # -------------------------------------------------- every reportable event is one valid report
        async def reports_of_every_event() -> list[ReportView] | None:
            found = await all_reports(client, fund_id=CAT_FUND, regime="cat")
            return found if len(found) >= len(reportable) else None

        reports = await eventually(
            reports_of_every_event, within=60, what=f"{len(reportable)} CAT reports of {CAT_FUND}"
        )
        assert sorted(r.source_event_id for r in reports) == sorted(e.event_id for e in reportable)
        assert {r.source_event_id: r.event_type for r in reports} == {
            e.event_id: CAT_TYPE_OF[e.event] for e in reportable
        }
        rejected = {r.id: [str(p) for p in r.problems] for r in reports if r.status != "pending"}
        assert rejected == {}, f"reports not valid: {rejected}"
        assert await all_reports(client, fund_id=PLAIN_FUND) == []

        # -------------------------------------------------- one flush: exactly one file, for the CAT fund
        generated_from = datetime.now(EASTERN).date()
        cut = await client.flush(regime="cat")
        generated_by = datetime.now(EASTERN).date()
        assert [(f.fund_id, f.regime, f.sequence) for f in cut] == [(CAT_FUND, "cat", 1)]
        [cat_file] = cut
        assert cat_file.status == "submitted", cat_file.last_error
        assert cat_file.record_count == len(reportable)
        # Whatever the hour the suite runs at: after 16:15 ET, on a weekend or a holiday the
        # events belong to the next trading day.
        assert {cat_file.trade_date} == {cat_trade_date(e.ts) for e in reportable}
        # {CAT Submitter ID}_{CAT Reporter IMID}_{File Generation Date}_{Group}_{File Kind}_{File Number}
        days = "|".join({d.strftime("%Y%m%d") for d in (generated_from, generated_by)})
        name = rf"{SUBMITTER}_{IMID}_(?:{days})_(?:[A-Za-z0-9]+_)?OrderEvents_0*1\.json\.bz2"
        assert re.fullmatch(name, cat_file.name), cat_file.name
        assert cat_file.deadline is not None
        assert cat_file.deadline.astimezone(EASTERN).hour == 8  # T+1 08:00 Eastern
        assert await client.files(fund_id=PLAIN_FUND) == []
        assert [f.id for f in await client.files(fund_id=CAT_FUND)] == [cat_file.id]
        filed = await all_reports(client, fund_id=CAT_FUND, regime="cat")
        assert {(r.status, r.file_id) for r in filed} == {("submitted", cat_file.id)}

        # -------------------------------------------------- the file: bzip2 NDJSON, each line per the schema
        meta_name = cat_file.name.removesuffix(".json.bz2") + ".meta.json"  # and its metadata file
        assert cat_file.metadata_name == meta_name
        assert written(stack.output_dir) == sorted([cat_file.name, meta_name])
        [path] = stack.output_dir.rglob(cat_file.name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == cat_file.sha256
        meta = json.loads(next(stack.output_dir.rglob(meta_name)).read_bytes())
        assert meta["files"] == [
            {"fileName": cat_file.name, "recordCount": len(reportable), "compressedHash": cat_file.sha256}
        ]
        records = read_ndjson(path)
        assert len(records) == len(reportable)
        types = {record.get("type") for record in records}
        assert {"MENO", "MEOR", "MEOT"} <= types <= {"MENO", "MEOR", "MEOM", "MEOC", "MEOT"}
        problems = {f"{r.get('type')} {r.get('firmROEID')}": cat_problems(r) for r in records}
        assert {key: found for key, found in problems.items() if found} == {}
        assert len({record["firmROEID"] for record in records}) == len(records)
        assert {record["actionType"] for record in records} == {"NEW"}
        assert {r.report_key for r in reports} == {record["firmROEID"] for record in records}
        symbols = {e.order_id: e.symbol for e in reportable}
        routes = [record for record in records if record["type"] == "MEOR"]
        assert {route["destination"] for route in routes} == {"NYSE"}
        assert {route["orderID"] for route in routes} <= set(symbols)
        assert {route["symbol"] for route in routes} <= set(symbols.values())

        # -------------------------------------------------- a redelivered order event: nothing twice
        again = next(e for e in reportable if e.event == "new")
        ack = await stack.bus.publish(
            subjects.oms_order(again.event), again, msg_id=f"redelivery-{uuid.uuid4().hex}"
        )
        assert not ack.duplicate  # a new message to the stream, so the consumer does see it
        await eventually(
            lambda: acked_through(stack.bus, ack.seq),
            within=30,
            what=f"the compliance consumer acking the redelivered event (stream seq {ack.seq})",
        )
        after = await all_reports(client, fund_id=CAT_FUND, regime="cat")
        assert sorted(r.id for r in after) == sorted(r.id for r in reports)
        assert {r.status for r in after} == {"submitted"}
        assert await client.flush(regime="cat") == []
        assert [f.id for f in await client.files(fund_id=CAT_FUND)] == [cat_file.id]
        assert written(stack.output_dir) == sorted([cat_file.name, meta_name])

    # -------------------------------------------------- the audit chain has the compliance facts
    meno = next(r for r in reports if r.source_event_id == again.event_id)
    async with stack.audit_client() as audit:

        async def stored_fact() -> list[str] | None:
            actions = [e.action for e in (await audit.trail(meno.report_key)).entries]
            return actions if "compliance.report.stored" in actions else None

        actions = await eventually(stored_fact, within=30, what=f"the audit entry of {meno.report_key}")
        assert actions.count("compliance.report.stored") == 1  # the redelivery recorded nothing more

        async def submitted_fact() -> list[Any] | None:
            entries = (await audit.trail(cat_file.name)).entries
            return entries if any(e.action == "compliance.file.submitted" for e in entries) else None

        [submitted] = await eventually(submitted_fact, within=30, what=f"the audit entry of {cat_file.name}")
        assert submitted.data["record_count"] == len(reportable)
        assert submitted.data["sha256"] == cat_file.sha256
        # The chain also proves which metadata file went with it.
        assert (submitted.data["metadata_name"], submitted.data["metadata_sha256"]) == (
            meta_name,
            hashlib.sha256(next(stack.output_dir.rglob(meta_name)).read_bytes()).hexdigest(),
        )
        assert submitted.actor == "operator:olga"
        stored = [e async for e in audit.iter_entries() if e.action == "compliance.report.stored"]
        assert sorted(e.subject_id for e in stored) == sorted(r.report_key for r in reports)

    # -------------------------------------------------- the CLI shows the same, a viewer cannot flush
    listed = await stack.mts("vera", "reports", "--fund", CAT_FUND, "--regime", "cat", "--json")
    assert listed.exit_code == 0, listed.output
    assert sorted(item["id"] for item in json.loads(listed.stdout)["items"]) == sorted(r.id for r in reports)
    table = await stack.mts("vera", "reports", "--fund", CAT_FUND, "--status", "submitted")
    assert table.exit_code == 0, table.output
    assert meno.order_id in table.stdout
    nothing = await stack.mts("vera", "reports", "--fund", PLAIN_FUND)
    assert nothing.stdout.strip() == "no reports match"
    files = await stack.mts("vera", "files", "--fund", CAT_FUND, "--json")
    assert files.exit_code == 0, files.output
    assert [(f["name"], f["status"], f["record_count"]) for f in json.loads(files.stdout)] == [
        (cat_file.name, "submitted", len(reportable))
    ]
    files_table = await stack.mts("vera", "files", "--regime", "cat")
    assert cat_file.name in files_table.stdout
    refused = await stack.mts("vera", "flush")
    assert refused.exit_code == ExitCode.FAILURE
    assert "403" in refused.stderr
    flushed = await stack.mts("olga", "flush", "--fund", CAT_FUND)
    assert flushed.exit_code == 0, flushed.output
    assert flushed.stdout.strip() == "no files cut"

    # -------------------------------------------------- a report CAT cannot take is held and repaired
    route = next(e for e in reportable if e.event == "routed")
    await hold_and_repair_a_route_to_an_unknown_venue(stack, route)


async def hold_and_repair_a_route_to_an_unknown_venue(stack: Stack, template: OrderEvent) -> None:
    """A route to a venue CAT knows nothing of is held as rejected naming ``destination``; an
    operator repairs it from the CLI (a wrong value first, refused); the repaired report is filed."""
    stray = msgspec.structs.replace(
        template, event_id="e2e-stray:routed", order_id="e2e-stray", venue="NOWHERE", ts=datetime.now(UTC)
    )
    await stack.bus.publish(subjects.oms_order("routed"), stray, msg_id=stray.event_id)
    async with stack.client("vera") as client:

        async def held() -> list[ReportView] | None:
            return (await client.reports(fund_id=CAT_FUND, status="rejected")).items or None

        [rejected] = await eventually(held, within=30, what="the rejected MEOR of the stray route")
    assert (rejected.event_type, rejected.source_event_id) == ("MEOR", stray.event_id)
    assert {p.field for p in rejected.problems} == {"destination", "destinationType"}

    shown = await stack.mts("vera", "show", str(rejected.id))
    assert shown.exit_code == 0, shown.output
    assert "destination" in shown.stdout
    assert "NOWHERE" in shown.stdout

    reason = "NOWHERE is the firm's alias for NYSE"
    wrong = await stack.mts(
        "olga", "repair", str(rejected.id), "--field", "destination=ELSEWHERE",
        "--reason", reason, "--confirm", "REPAIR",
    )  # fmt: skip
    assert wrong.exit_code == ExitCode.USAGE, wrong.output
    assert "[field: destination]" in wrong.stderr
    repaired = await stack.mts(
        "olga", "repair", str(rejected.id), "--field", "destination=NYSE",
        "--reason", reason, "--confirm", "REPAIR", "--json",
    )  # fmt: skip
    assert repaired.exit_code == 0, repaired.output
    fixed = json.loads(repaired.stdout)
    assert (fixed["status"], fixed["repaired_from"], fixed["problems"]) == ("pending", rejected.id, [])
    assert (fixed["record"]["destination"], fixed["record"]["destinationType"]) == ("NYSE", "E")

    async with stack.client() as client:
        assert (await client.report(rejected.id)).status == "superseded"
        [second] = await client.flush(fund_id=CAT_FUND, regime="cat")
    assert (second.sequence, second.record_count, second.status) == (2, 1, "submitted")
    [path] = stack.output_dir.rglob(second.name)
    [line] = read_ndjson(path)
    # Never submitted, so the repair is a corrected NEW under the rejected report's own firmROEID.
    assert line["firmROEID"] == fixed["record"]["firmROEID"] == rejected.record["firmROEID"]
    assert line["actionType"] == "NEW"
    assert line["destination"] == "NYSE"
    assert cat_problems(line) == []

    async with stack.audit_client() as audit:

        async def repair_fact() -> list[Any] | None:
            found = [e async for e in audit.iter_entries() if e.action == "compliance.report.repaired"]
            return found or None

        [fact] = await eventually(repair_fact, within=30, what="the audit entry of the repair")
        assert fact.actor == "operator:olga"
        assert fact.data["reason"] == reason
        assert fact.data["repaired_from"] == rejected.id
        rejected_trail = [e.action for e in (await audit.trail(rejected.report_key)).entries]
        assert "compliance.report.rejected" in rejected_trail
