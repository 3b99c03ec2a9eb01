"""The OMS commands still owed to order management (table ``halt_oms_resends``).

A halt's cancel_all / flatten that not every OMS acked is re-sent in the background; the row
recorded when that starts is what lets a restarted service resume it. It is pending until
:meth:`ResendStore.finish` records why it ended: acked, its halt lifted, or its window expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import asyncpg

from mts1b_operations.core.schemas import OmsCommand, decode, encode

__all__ = ["PendingResend", "ResendEnd", "ResendStore"]

ResendEnd = Literal["acked", "lifted", "expired"]

_RECORD: Final = """
INSERT INTO halt_oms_resends (command_id, halt_id, command, payload)
VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (halt_id, command) WHERE done_at IS NULL DO NOTHING
"""
# age is measured by the database's clock, the one created_at was written with.
_PENDING_COLUMNS: Final = """
r.command_id, r.halt_id, r.payload::text AS payload, h.active,
extract(epoch FROM now() - r.created_at)::float8 AS age
"""
_PENDING_ONE: Final = f"""
SELECT {_PENDING_COLUMNS} FROM halt_oms_resends r JOIN halts h USING (halt_id)
WHERE r.halt_id = $1 AND r.command = $2 AND r.done_at IS NULL
"""  # noqa: S608 - constants only
_PENDING_ALL: Final = f"""
SELECT {_PENDING_COLUMNS} FROM halt_oms_resends r JOIN halts h USING (halt_id)
WHERE r.done_at IS NULL ORDER BY r.created_at
"""  # noqa: S608 - constants only
_FINISH: Final = """
UPDATE halt_oms_resends SET done_at = now(), outcome = $3
WHERE halt_id = $1 AND command = $2 AND done_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class PendingResend:
    """A command still owed: ``age`` seconds since it was first recorded, ``halt_active`` now."""

    command: OmsCommand
    halt_active: bool
    age: float


def _pending(row: asyncpg.Record) -> PendingResend:
    return PendingResend(
        command=decode(row["payload"].encode(), OmsCommand), halt_active=row["active"], age=row["age"]
    )


@dataclass(frozen=True, slots=True)
class ResendStore:
    pool: asyncpg.Pool

    async def record(self, command: OmsCommand) -> PendingResend:
        """Record ``command`` as owed; if its halt already owes one, that one (and its age) stands."""
        if command.halt_id is None:
            raise ValueError("command.halt_id: a re-sent command belongs to a halt (got None)")
        payload = encode(command).decode()
        async with self.pool.acquire() as conn:
            # Twice: the pending row that made the insert a no-op may be finished before it is read.
            for _ in range(2):
                await conn.execute(_RECORD, command.command_id, command.halt_id, command.command, payload)
                row = await conn.fetchrow(_PENDING_ONE, command.halt_id, command.command)
                if row is not None:
                    return _pending(row)
        raise RuntimeError(f"halt {command.halt_id}: {command.command} could not be recorded as owed")

    async def pending(self) -> list[PendingResend]:
        """Every command still owed, oldest first."""
        async with self.pool.acquire() as conn:
            return [_pending(row) for row in await conn.fetch(_PENDING_ALL)]

    async def finish(self, halt_id: str, command: str, end: ResendEnd) -> bool:
        """Mark the halt's pending ``command`` done; False when none was pending."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(_FINISH, halt_id, command, end)
        return bool(status != "UPDATE 0")
