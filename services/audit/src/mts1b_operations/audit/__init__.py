"""The mts1b-audit service and its library: the append-only, hash-chained, signed audit trail.

```python
from mts1b_operations.audit import audit_chain, AuditChain, AuditEntry, ChainIntegrityError
entry = await audit_chain.append(actor="mts1b-oms", action="order_rejected",
                                 subject_id="ord-abc", data={"reason": "drawdown_halt"})
trail = await audit_chain.get_trail(subject_id="ord-abc")
ok = await audit_chain.verify(from_sequence=0)
```
"""

from .chain import (
    DEFAULT_ORIGIN,
    MAX_SOURCE_EVENT_ID_CHARS,
    AuditChain,
    AuditChainError,
    CheckpointUnavailableError,
    EntryNotFoundError,
    audit_chain,
)
from .checkpoints import AuditCheckpointRecord, CheckpointSigner
from .domain import (
    AuditEntry,
    AuditInputError,
    ChainHead,
    ChainIntegrityError,
    InclusionProof,
    IntegrityProblem,
    check_proof_offline,
    verify_proof_offline,
)

__all__ = [
    "DEFAULT_ORIGIN",
    "MAX_SOURCE_EVENT_ID_CHARS",
    "AuditChain",
    "AuditChainError",
    "AuditCheckpointRecord",
    "AuditEntry",
    "AuditInputError",
    "ChainHead",
    "ChainIntegrityError",
    "CheckpointSigner",
    "CheckpointUnavailableError",
    "EntryNotFoundError",
    "InclusionProof",
    "IntegrityProblem",
    "audit_chain",
    "check_proof_offline",
    "verify_proof_offline",
]
