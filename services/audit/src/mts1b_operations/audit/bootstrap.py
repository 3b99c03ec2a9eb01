"""How the runtime starts mts1b-audit: `service_spec()` (entry point `mts1b_operations.services`).

Start-up (after the runtime has connected Postgres and NATS, checked the schema and created
the streams): read the configuration, open the :class:`AuditChain` on the service's pool with
the signing key, start the :class:`CheckpointSigner` (a checkpoint at most every second, when
the head moved); then the runtime starts its outbox relay (which publishes the chain's
audit.appended and audit.checkpoint events), the recorder's consumers and the HTTP API.

Configuration (environment):

- ``MTS_AUDIT_SIGNING_KEY`` (required here): the Ed25519 key that signs checkpoints, a file of
  32 raw seed bytes (``head -c 32 /dev/urandom > audit.key; chmod 600 audit.key``) or a PEM.
  ``mts dev up`` makes one. Without it the chain could not detect a truncated tail, so the
  service refuses to start.
- ``MTS_AUDIT_RETIRED_PUBLIC_KEYS`` (optional): comma-separated files, each holding the verifier
  key string(s) (``<name>+<key id>+<base64 key>``) of keys that signed checkpoints before a
  rotation. Verify trusts their checkpoints and fails on a checkpoint of any key that is neither
  these nor the signing key (docs/operations/rotate-audit-signing-key.md).
- ``MTS_AUDIT_EXTRA_SUBJECTS`` (optional): comma-separated NATS filter subjects to audit on top
  of every operations fact, e.g. ``mts.v1.oms.order.*,mts.v1.portfolio.position.*``; see
  ``entrypoints._filters`` for what is refused.
"""

from __future__ import annotations

import os
from typing import Final

from mts1b_operations.core.runtime import ServiceContext, ServiceSpec
from mts1b_operations.core.settings import SettingsError

from . import _config
from .chain import DEFAULT_ORIGIN, AuditChain
from .checkpoints import CheckpointSigner
from .entrypoints import (
    CHAIN_STATE_KEY,
    EXTRA_SUBJECTS_VARIABLE,
    AuditController,
    AuditRecorder,
    DrillReportController,
    chain_of,
    parse_extra_subjects,
)

__all__ = ["CHECKPOINT_INTERVAL", "service_spec"]

CHECKPOINT_INTERVAL: Final = 1.0
"""Seconds between checkpoint rounds; a round signs only when the head moved."""

_SIGNER: Final = "checkpoint_signer"
_EXTRA_SUBJECTS: Final = "extra_subjects"


async def open_audit(context: ServiceContext) -> None:
    """Read the configuration, open the chain and start signing checkpoints."""
    context.state[_EXTRA_SUBJECTS] = parse_extra_subjects(os.environ.get(EXTRA_SUBJECTS_VARIABLE))
    key_file = context.settings.audit_signing_key
    if key_file is None:
        raise SettingsError(
            "MTS_AUDIT_SIGNING_KEY",
            "is required by mts1b-audit: the Ed25519 seed file that signs checkpoints "
            "(make one with: head -c 32 /dev/urandom > audit.key && chmod 600 audit.key)",
        )
    retired = _config.retired_keys_from_env(key_name=DEFAULT_ORIGIN)
    # The DSN too, so a long verify can hand half the range to a second process.
    chain = AuditChain(
        context.settings.database_url,
        pool=context.pool,
        source=context.name,
        signing_key=key_file,
        retired_keys=retired,
    )
    await chain.open()
    context.state[CHAIN_STATE_KEY] = chain
    signer = CheckpointSigner(chain, interval=CHECKPOINT_INTERVAL)
    await signer.start()
    context.state[_SIGNER] = signer


async def close_audit(context: ServiceContext) -> None:
    """Stop signing, then flush the appends in flight and close the chain (the pool is the runtime's)."""
    signer = context.state.pop(_SIGNER, None)
    if isinstance(signer, CheckpointSigner):
        await signer.stop()
    chain = context.state.pop(CHAIN_STATE_KEY, None)
    if isinstance(chain, AuditChain):
        await chain.close()


def recorder(context: ServiceContext) -> AuditRecorder:
    """The consumers that append every operations fact (and the configured extra subjects)."""
    return AuditRecorder(context.bus, chain_of(context), extra_subjects=context.state[_EXTRA_SUBJECTS])


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="audit",
        import_name="mts1b_operations.audit",
        default_port=8102,
        migrations=("core", "audit"),
        description=(
            "The hash-chained, append-only audit trail and its signed checkpoints: every operations "
            "fact (halts, watchdog alerts, operator commands) is recorded; the trail, pages of the "
            "chain, its verification and offline-checkable inclusion proofs are served here."
        ),
        route_handlers=[AuditController, DrillReportController],
        consumers=[recorder],
        on_startup=[open_audit],
        on_shutdown=[close_audit],
    )
