"""``stream_messages``: what a JetStream stream holds, read back message by message."""

from __future__ import annotations

from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from mts1b_operations.core.bus import Bus

__all__ = ["stream_messages"]


async def stream_messages(bus: Bus, stream: str, prefix: str = "") -> list[RawStreamMsg]:
    """Every message ``stream`` holds on a subject starting with ``prefix``, in stream order.

    An empty stream reports ``first_seq`` 0, which the server refuses to look up (400), and a
    deleted message leaves a gap (404): both are "nothing there", not errors.
    """
    state = (await bus.js.stream_info(stream)).state
    if state.messages == 0:
        return []
    found = []
    for seq in range(max(state.first_seq, 1), state.last_seq + 1):
        try:
            msg = await bus.js.get_msg(stream, seq)
        except NotFoundError:
            continue
        if msg.subject is not None and msg.subject.startswith(prefix):
            found.append(msg)
    return found
