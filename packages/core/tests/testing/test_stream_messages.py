"""``stream_messages``: an empty stream, a deleted message and a subject prefix."""

from __future__ import annotations

import uuid

from mts1b_operations.core.testing import open_bus, stream_messages


async def test_empty_stream_gaps_and_prefix(nats_url: str) -> None:
    stream = f"READBACK_{uuid.uuid4().hex[:8].upper()}"
    async with open_bus(nats_url, name="stream-read-test", ensure_streams=False) as bus:
        await bus.js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
        try:
            assert await stream_messages(bus, stream) == []  # first_seq 0 is not looked up
            for n, kind in enumerate(("a", "b", "a", "b")):
                await bus.js.publish(f"{stream.lower()}.{kind}", str(n).encode())
            await bus.js.delete_msg(stream, 3)  # a gap
            everything = await stream_messages(bus, stream)
            assert [m.data for m in everything] == [b"0", b"1", b"3"]
            only_a = await stream_messages(bus, stream, prefix=f"{stream.lower()}.a")
            assert [m.data for m in only_a] == [b"0"]
        finally:
            await bus.js.delete_stream(stream)
