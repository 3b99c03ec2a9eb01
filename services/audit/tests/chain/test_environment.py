"""The module-level ``audit_chain``: configured from the environment on first use."""

from __future__ import annotations

from typing import Any

import pytest

from mts1b_operations.audit import AuditChain, audit_chain
from mts1b_operations.core.settings import SettingsError


async def test_audit_chain_reads_the_environment_on_first_use(
    chain_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(audit_chain, AuditChain)
    try:
        with pytest.raises(SettingsError, match="MTS_DATABASE_URL: is required"):
            await audit_chain.append(actor="mts1b-oms", action="order_rejected", subject_id="o", data={})
        monkeypatch.setenv("MTS_DATABASE_URL", "mysql://nope")
        with pytest.raises(SettingsError, match="MTS_DATABASE_URL"):
            await audit_chain.entries()
        monkeypatch.setenv("MTS_DATABASE_URL", chain_url)
        monkeypatch.setenv("MTS_NATS_URL", "http://not-nats")
        with pytest.raises(SettingsError, match="MTS_NATS_URL"):
            await audit_chain.entries()
        monkeypatch.delenv("MTS_NATS_URL")

        entry = await audit_chain.append(
            actor="mts1b-oms", action="order_rejected", subject_id="ord-abc", data={"reason": "drawdown_halt"}
        )
        assert entry.sequence == 0
        assert await audit_chain.get_trail(subject_id="ord-abc") == [entry]
        assert await audit_chain.verify(from_sequence=0)
    finally:
        await audit_chain.close()


async def test_a_closed_chain_opens_again_on_next_use(chain_url: str, append_many: Any) -> None:
    chain = AuditChain(chain_url)
    await append_many(chain, 2)
    await chain.close()
    assert [e.sequence for e in await append_many(chain, 1, start=2)] == [2]
    await chain.close()
