"""A child process for the chain tests: its own AuditChain, appending, printing every acknowledgement.

    python _appender.py <dsn> <tag> <callers> <appends per caller, or 0 for forever>

Prints ``ready`` once connected, waits for ``go`` on stdin, then runs ``callers`` concurrent
callers and prints ``<sequence> <hash>`` as each append returns (flushed at once, so a kill -9
loses no acknowledged line), then ``done``.
"""

from __future__ import annotations

import asyncio
import sys

from mts1b_operations.audit import AuditChain


async def main(dsn: str, tag: str, callers: int, per_caller: int) -> None:
    async with AuditChain(dsn) as chain:
        print("ready", flush=True)
        if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
            return

        async def caller(k: int) -> None:
            i = 0
            while per_caller == 0 or i < per_caller:
                entry = await chain.append(
                    actor=f"proc-{tag}",
                    action="test.append",
                    subject_id=f"{tag}-{k}-{i}",
                    data={"k": k, "i": i},
                )
                sys.stdout.write(f"{entry.sequence} {entry.hash}\n")
                sys.stdout.flush()
                i += 1

        await asyncio.gather(*(caller(k) for k in range(callers)))
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
