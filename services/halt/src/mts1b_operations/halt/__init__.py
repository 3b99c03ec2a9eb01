"""The mts1b-halt service and its library: firm, fund and strategy halts that stick.

```python
from mts1b_operations.halt import HaltManager, HaltRequest
mgr = HaltManager()                      # MTS_DATABASE_URL, MTS_NATS_URL, MTS_FUNDS_FILE
halt = await mgr.request(HaltRequest(severity="FUND_HALT", fund_id="paper-momentum",
                                     reason="daily PL -3.2% breached -3.0%",
                                     requested_by="mts1b-riskengine"))
await mgr.resume(fund_id="paper-momentum", cosigned_by="operator:mondipsen")
```
"""

from .adapters.kv import BUCKET, ReconcileReport, escape_id, kv_key
from .domain import (
    AlertView,
    Halt,
    HaltError,
    HaltRequest,
    HaltRequestedEvent,
    HaltResumedEvent,
    HaltStatus,
    HaltValidationError,
    NoAlerts,
    NotHaltedError,
    Preflight,
    Refusal,
    RefusalNote,
    RequestRecord,
    ResumeRefusedError,
    ResumeResult,
)
from .manager import HaltManager

__all__ = [
    "BUCKET",
    "AlertView",
    "Halt",
    "HaltError",
    "HaltManager",
    "HaltRequest",
    "HaltRequestedEvent",
    "HaltResumedEvent",
    "HaltStatus",
    "HaltValidationError",
    "NoAlerts",
    "NotHaltedError",
    "Preflight",
    "ReconcileReport",
    "Refusal",
    "RefusalNote",
    "RequestRecord",
    "ResumeRefusedError",
    "ResumeResult",
    "escape_id",
    "kv_key",
]
