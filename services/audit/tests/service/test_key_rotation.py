"""The service across a signing-key rotation: MTS_AUDIT_RETIRED_PUBLIC_KEYS, verify and proofs over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from mts1b_operations.audit import check_proof_offline
from mts1b_operations.audit.bootstrap import service_spec
from mts1b_operations.audit.domain import InclusionProof, parse_verifier_key
from mts1b_operations.audit.entrypoints import chain_of
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.settings import SettingsError
from mts1b_operations.core.testing import RunningService, ServiceProcessError, running_service, start_service

from .conftest import AUDIT, append

RETIRED = "MTS_AUDIT_RETIRED_PUBLIC_KEYS"
Restart = Callable[..., AbstractAsyncContextManager[RunningService]]


@pytest.fixture
def restart(
    audit_db: str, nats_url: str, pool: asyncpg.Pool, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> Restart:
    """``async with restart(key_file, retired=...) as service``: the service run with that configuration."""
    monkeypatch.delenv("MTS_AUDIT_EXTRA_SUBJECTS", raising=False)

    def start(key_file: Path, *, retired: str | None = None) -> AbstractAsyncContextManager[RunningService]:
        if retired is None:
            monkeypatch.delenv(RETIRED, raising=False)
        else:
            monkeypatch.setenv(RETIRED, retired)
        return running_service(
            service_spec(),
            database_url=audit_db,
            nats_url=nats_url,
            pool=pool,
            bus=bus,
            audit_signing_key=key_file,
        )

    return start


def _key_file(path: Path) -> Path:
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    return path


def _viewer(service: RunningService, token: str) -> httpx.AsyncClient:
    return service.client(headers={"Authorization": f"Bearer {token}"})


async def test_verify_and_proofs_over_http_keep_working_across_a_rotation(
    restart: Restart, viewer_token: str, tmp_path: Path
) -> None:
    async with restart(_key_file(tmp_path / "old.key")) as before:
        await append(chain_of(before.context), 5)
        await chain_of(before.context).checkpoint()
        latest = await _viewer(before, viewer_token).get("/v1/audit/checkpoints/latest")  # step 1
        old_vkey = latest.json()["verifier_key"]
    old_id = old_vkey.split("+")[1]
    retired_file = tmp_path / "retired.vkeys"
    retired_file.write_text(old_vkey + "\n")

    async with restart(_key_file(tmp_path / "new.key"), retired=str(retired_file)) as after:
        chain = chain_of(after.context)
        await chain.checkpoint()
        await append(chain, 3)
        await chain.checkpoint()
        http = _viewer(after, viewer_token)
        verified = await http.get("/v1/audit/verify", params={"from_sequence": 0})
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True
        assert verified.json()["verified"] == 8
        proved = await http.get("/v1/audit/proof/1")  # an entry the retired key signed
        assert proved.status_code == 200, proved.text
    body = proved.json()
    assert body["verifier_key"].split("+")[1] != old_id
    name, new_public = parse_verifier_key(body["verifier_key"])
    proof = msgspec.convert(body, InclusionProof)
    assert check_proof_offline(proof, new_public, name).tree_size == 8

    # The same service started without the retired key: verify fails and names the old key id.
    async with restart(tmp_path / "new.key") as forgetful:
        broken = await _viewer(forgetful, viewer_token).get("/v1/audit/verify")
    assert broken.status_code == 409, broken.text
    result = broken.json()
    assert (result["ok"], result["kind"]) == (False, "unknown_key")
    assert result["sequence"] <= 4, "at the old key's first checkpoint (the signer may have made one early)"
    assert f"signed by unknown key id {old_id}" in result["reason"]


async def test_a_bad_retired_key_setting_stops_the_start_up_hook(restart: Restart, tmp_path: Path) -> None:
    key_file = _key_file(tmp_path / "audit.key")
    with pytest.raises(SettingsError, match=f"{RETIRED}: {tmp_path}/audit.key: not text"):
        async with restart(key_file, retired=str(key_file)):  # the private seed, not its public key
            pass


async def test_a_bad_retired_key_setting_stops_start_up_naming_the_variable(
    audit_db: str, nats_url: str, signing_key_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ServiceProcessError) as caught:
        await asyncio.to_thread(
            start_service,
            AUDIT,
            database_url=audit_db,
            nats_url=nats_url,
            log_dir=tmp_path,
            env={
                "MTS_AUDIT_SIGNING_KEY": str(signing_key_file),
                "MTS_AUDIT_EXTRA_SUBJECTS": None,
                RETIRED: f"{tmp_path}/missing.vkey",
            },
        )
    assert f"{AUDIT} exited with status 1" in str(caught.value)
    assert f"{RETIRED}: {tmp_path}/missing.vkey: cannot read the retired public keys" in str(caught.value)
