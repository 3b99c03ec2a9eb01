"""Postgres restarting while order events flow: every event's report is stored, none twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mts1b_operations.core.bus import Bus
from mts1b_operations.core.db import create_pool, upgrade_all
from mts1b_operations.core.embedded import EmbeddedPostgres
from mts1b_operations.core.operators import add_operator
from mts1b_operations.core.testing import eventually

from .conftest import compliance_facts, fast_config, order_event, publish, report_rows, running_compliance


async def test_a_postgres_restart_while_events_flow_loses_nothing(
    restartable_postgres: EmbeddedPostgres, bus: Bus, nats_url: str, funds_file: Path, output_dir: Path
) -> None:
    dsn = restartable_postgres.dsn()
    await asyncio.to_thread(upgrade_all, dsn, ["compliance"])
    pool = await create_pool(dsn, connect_deadline=10)
    try:
        _, token = await add_operator(pool, "vera", "viewer", created_by="test")
        async with running_compliance(
            pool=pool,
            bus=bus,
            database_url=dsn,
            nats_url=nats_url,
            funds_file=funds_file,
            tokens={"vera": token},
            config=fast_config(output_dir),
        ) as app:
            events = [order_event("new", order_id=f"o-{i}") for i in range(30)]
            for event in events[:10]:
                await publish(bus, event)

            async def some_stored() -> bool:
                return len(await report_rows(pool)) >= 1

            await eventually(some_stored, what="the first reports before the restart")
            restart = asyncio.create_task(asyncio.to_thread(restartable_postgres.restart))
            for event in events[10:]:
                await publish(bus, event)
            await restart

            async def all_stored() -> bool:
                try:
                    return len(await report_rows(pool)) >= len(events)
                except Exception:
                    return False  # the pool finds its connections dead once after the restart

            await eventually(all_stored, within=60, what="a report for every event after the restart")
            rows = await report_rows(pool)
            assert sorted(row["source_event_id"] for row in rows) == sorted(e.event_id for e in events)

            # A report is committed before its handler returns and the event is acked.
            async def all_acked() -> bool:
                info = await app.consumer.info()
                return info.num_ack_pending == 0 and info.num_pending == 0

            await eventually(all_acked, what="every order event acked")

            async def one_fact_each() -> bool:
                return len(await compliance_facts(bus)) == len(events)

            await eventually(one_fact_each, within=30, what="one stored fact per report, none twice")
            facts = await compliance_facts(bus)
            assert sorted(int(payload["report_id"]) for _, payload in facts) == sorted(
                row["id"] for row in rows
            )
    finally:
        await pool.close()
