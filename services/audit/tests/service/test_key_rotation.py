"""The service across a signing-key rotation: MTS_AUDIT_RETIRED_PUBLIC_KEYS, verify and proofs over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio

from mts1b_operations.audit import check_proof_offline
from mts1b_operations.audit.bootstrap import close_audit, open_audit, service_spec
from mts1b_operations.audit.domain import InclusionProof, parse_verifier_key
from mts1b_operations.audit.entrypoints import chain_of
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.runtime import ServiceContext, create_app
from mts1b_operations.core.settings import Settings, SettingsError
from mts1b_operations.core.testing import ServiceProcess

from .conftest import AUDIT, append

RETIRED = "MTS_AUDIT_RETIRED_PUBLIC_KEYS"
Restart = Callable[..., Awaitable[ServiceContext]]


@pytest_asyncio.fixture
async def restart(
    audit_db: str, nats_url: str, pool: asyncpg.Pool, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Restart]:
    """``await restart(key_file, retired=...)``: the service's start-up hook with that configuration."""
    monkeypatch.delenv("MTS_AUDIT_EXTRA_SUBJECTS", raising=False)
    opened: list[ServiceContext] = []

    async def start(key_file: Path, *, retired: str | None = None) -> ServiceContext:
        if retired is None:
            monkeypatch.delenv(RETIRED, raising=False)
        else:
            monkeypatch.setenv(RETIRED, retired)
        context = ServiceContext(
            spec=service_spec(),
            settings=Settings(
                database_url=audit_db, nats_url=nats_url, service_name="audit", audit_signing_key=key_file
            ),
            pool=pool,
            bus=bus,
            instance_id=f"test-{len(opened)}",
        )
        await open_audit(context)
        opened.append(context)
        return context

    yield start
    for context in opened:
        await close_audit(context)


def _key_file(path: Path) -> Path:
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    return path


def _client(context: ServiceContext, token: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(context))  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=transport, base_url="http://audit.test", headers={"Authorization": f"Bearer {token}"}
    )


async def test_verify_and_proofs_over_http_keep_working_across_a_rotation(
    restart: Restart, viewer_token: str, tmp_path: Path
) -> None:
    before = await restart(_key_file(tmp_path / "old.key"))
    await append(chain_of(before), 5)
    await chain_of(before).checkpoint()
    async with _client(before, viewer_token) as http:
        old_vkey = (await http.get("/v1/audit/checkpoints/latest")).json()["verifier_key"]  # step 1
    await close_audit(before)
    old_id = old_vkey.split("+")[1]
    retired_file = tmp_path / "retired.vkeys"
    retired_file.write_text(old_vkey + "\n")

    after = await restart(_key_file(tmp_path / "new.key"), retired=str(retired_file))
    await chain_of(after).checkpoint()
    await append(chain_of(after), 3)
    await chain_of(after).checkpoint()
    async with _client(after, viewer_token) as http:
        verified = await http.get("/v1/audit/verify", params={"from_sequence": 0})
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True
        assert verified.json()["verified"] == 8
        proved = await http.get("/v1/audit/proof/1")  # an entry the retired key signed
        assert proved.status_code == 200, proved.text
    body = proved.json()
    assert body["verifier_key"].split("+")[1] != old_id
    name, new_public = parse_verifier_key(body["verifier_key"])
    proof = InclusionProof(
        sequence=body["sequence"],
        entry_hash=body["entry_hash"],
        tree_size=body["tree_size"],
        path=tuple(body["path"]),
        checkpoint=body["checkpoint"],
        canonical=body["canonical"],
    )
    assert check_proof_offline(proof, new_public, name).tree_size == 8

    # The same service started without the retired key: verify fails and names the old key id.
    await close_audit(after)
    forgetful = await restart(tmp_path / "new.key")
    async with _client(forgetful, viewer_token) as http:
        broken = await http.get("/v1/audit/verify")
    assert broken.status_code == 409, broken.text
    result = broken.json()
    assert (result["ok"], result["kind"]) == (False, "unknown_key")
    assert result["sequence"] <= 4, "at the old key's first checkpoint (the signer may have made one early)"
    assert f"signed by unknown key id {old_id}" in result["reason"]


async def test_a_bad_retired_key_setting_stops_the_start_up_hook(restart: Restart, tmp_path: Path) -> None:
    key_file = _key_file(tmp_path / "audit.key")
    with pytest.raises(SettingsError, match=f"{RETIRED}: {tmp_path}/audit.key: not text"):
        await restart(key_file, retired=str(key_file))  # the private seed, not its public key


async def test_a_bad_retired_key_setting_stops_start_up_naming_the_variable(
    audit_db: str, nats_url: str, signing_key_file: Path, tmp_path: Path
) -> None:
    process = ServiceProcess(
        AUDIT,
        env={
            "MTS_DATABASE_URL": audit_db,
            "MTS_NATS_URL": nats_url,
            "MTS_AUDIT_SIGNING_KEY": str(signing_key_file),
            "MTS_AUDIT_EXTRA_SUBJECTS": None,
            RETIRED: f"{tmp_path}/missing.vkey",
        },
        log_dir=tmp_path,
    ).start()
    code = await asyncio.to_thread(process.wait_exit, 30)
    assert code == 1
    assert f"{RETIRED}: {tmp_path}/missing.vkey: cannot read the retired public keys" in process.stderr()
