"""The mts1b-halt service as a real process: halts survive its restart, the KV bucket is reconciled
at start-up, and the SDK's HaltClient drives it over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from nats.js.errors import NoKeysError

from mts1b_operations.client import AuthenticationError, BadRequestError, HaltClient, PermissionDeniedError
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import ServiceProcess, eventually
from mts1b_operations.halt import BUCKET, kv_key

HALT = "mts1b_operations.halt"


def _process(
    tmp_path: Path, database_url: str, nats_url: str, funds_file: Path, policy_file: Path
) -> ServiceProcess:
    return ServiceProcess(
        HALT,
        env={
            "MTS_DATABASE_URL": database_url,
            "MTS_NATS_URL": nats_url,
            "MTS_FUNDS_FILE": str(funds_file),
            "MTS_HALT_POLICY_FILE": str(policy_file),
        },
        log_dir=tmp_path / "logs",
    )


async def _start(process: ServiceProcess) -> ServiceProcess:
    process.start()
    await asyncio.to_thread(process.wait_ready)
    return process


async def _bucket_keys(bus: Bus) -> set[str]:
    kv = await bus.js.key_value(BUCKET)
    try:
        return set(await kv.keys())
    except NoKeysError:
        return set()


async def test_a_restart_of_the_service_keeps_every_halt(
    tmp_path: Path,
    halt_db: str,
    nats_url: str,
    bus: Bus,
    funds_file: Path,
    policy_file: Path,
    tokens: dict[str, str],
) -> None:
    process = await _start(_process(tmp_path, halt_db, nats_url, funds_file, policy_file))
    try:
        async with HaltClient(process.base_url, token=tokens["alice"]) as alice:
            firm = await alice.request("FIRM_HALT", reason="drill", mode="block_new")
            fund = await alice.request("FUND_HALT", fund_id="paper-meanrev", reason="PL", mode="block_new")
            strategy = await alice.request(
                "STRATEGY_HALT", strategy_id="stat-arb-1", reason="signal", mode="block_new"
            )
            again = await alice.request(
                "FUND_HALT", fund_id="paper-meanrev", reason="again", mode="block_new"
            )
        assert (firm.outcome, fund.outcome, strategy.outcome, again.outcome) == (
            "created",
            "created",
            "created",
            "already_halted",
        )
        assert again.halt.halt_id == fund.halt.halt_id
        before = {h.halt_id for h in (firm.halt, fund.halt, strategy.halt)}
        expected_keys = {kv_key(h.scope) for h in (firm.halt, fund.halt, strategy.halt)}

        async def mirrored() -> bool:
            return await _bucket_keys(bus) == expected_keys

        await eventually(mirrored, what="the three halts in the KV bucket")
    finally:
        assert process.stop() == 0, process.stderr()[-3000:]

    # While the service is down, the bucket loses a key and gains a stale one.
    kv = await bus.js.key_value(BUCKET)
    await kv.delete(kv_key(fund.halt.scope))
    await kv.put("fund.paper-momentum", b'{"stale": true}')

    process = await _start(_process(tmp_path, halt_db, nats_url, funds_file, policy_file))
    try:
        async with HaltClient(process.base_url, token=tokens["vera"]) as vera:
            active = await vera.list_active()
            assert {h.halt_id for h in active} == before
            assert all(h.active for h in active)
            status = await vera.status(strategy_id="mom-us-eq")
            assert status.halted
            assert [h.scope for h in status.halts] == ["firm"]
            assert {h.halt_id for h in await vera.history(limit=10)} == before
        assert await _bucket_keys(bus) == expected_keys, "the KV bucket was not reconciled at start-up"
        assert "reconciled" in process.stderr()
    finally:
        assert process.stop() == 0, process.stderr()[-3000:]


async def test_the_halt_client_maps_refusals_to_the_sdk_errors(
    tmp_path: Path,
    halt_db: str,
    nats_url: str,
    funds_file: Path,
    policy_file: Path,
    tokens: dict[str, str],
    pool: asyncpg.Pool,
) -> None:
    process = await _start(_process(tmp_path, halt_db, nats_url, funds_file, policy_file))
    try:
        async with (
            HaltClient(process.base_url, token=tokens["alice"]) as alice,
            HaltClient(process.base_url, token=tokens["vera"]) as vera,
            HaltClient(process.base_url) as anonymous,
        ):
            with pytest.raises(AuthenticationError):
                await anonymous.list_active()
            with pytest.raises(PermissionDeniedError) as denied:
                await vera.request("FIRM_HALT", reason="x")
            assert denied.value.code == "insufficient_role"
            with pytest.raises(BadRequestError) as bad:
                await alice.request("FUND_HALT", fund_id="ghost", reason="x")
            assert bad.value.field == "fund_id"

            await alice.request("FIRM_HALT", reason="drill", mode="block_new")
            check = await alice.preflight("firm")
            assert check.needs_two_operators
            assert check.halt is not None
            with pytest.raises(PermissionDeniedError) as alone:
                await alice.resume("firm", cosigned_by="operator:alice")
            assert alone.value.code == "second_operator_required"
            assert alone.value.field == "cosigned_by"
            with pytest.raises(PermissionDeniedError) as unproven:
                await alice.resume("firm", cosigned_by="bob", reason="drill over")
            assert unproven.value.code == "cosigner_not_authenticated"
            answer = await alice.resume("firm", cosigner_token=tokens["bob"], reason="drill over")
            assert answer.result.resumed.cosigned_by == "operator:bob"
            assert answer.result.still_halted is False
            assert await alice.list_active() == []
    finally:
        assert process.stop() == 0, process.stderr()[-3000:]
