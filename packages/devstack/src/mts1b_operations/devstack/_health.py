"""HTTP probes of the services' /v1/healthz and /v1/readyz."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import httpx

__all__ = ["probe", "probe_all", "wait_healthy"]


async def probe(client: httpx.AsyncClient, base_url: str, path: str, request_timeout: float = 2.0) -> bool:
    """True when ``GET base_url + path`` answers 200 within ``request_timeout`` seconds."""
    try:
        response = await client.get(f"{base_url}{path}", timeout=request_timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def probe_all(urls: Mapping[str, str], path: str, request_timeout: float = 2.0) -> dict[str, bool]:
    async with httpx.AsyncClient(trust_env=False) as client:  # local: never through a proxy
        results = await asyncio.gather(*(probe(client, url, path, request_timeout) for url in urls.values()))
    return dict(zip(urls, results, strict=True))


async def wait_healthy(
    urls: Mapping[str, str],
    *,
    within: float,
    stop: asyncio.Event | None = None,
    poll: float = 0.25,
) -> dict[str, bool]:
    """Poll /v1/healthz of every service until all answer, ``within`` seconds pass or ``stop`` is set.

    Returns each service's last result.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    healthy = dict.fromkeys(urls, False)
    async with httpx.AsyncClient(trust_env=False) as client:  # local: never through a proxy
        while True:
            pending = [name for name, ok in healthy.items() if not ok]
            results = await asyncio.gather(
                *(probe(client, urls[name], "/v1/healthz", 1.0) for name in pending)
            )
            healthy.update(zip(pending, results, strict=True))
            remaining = deadline - loop.time()
            if all(healthy.values()) or remaining <= 0 or (stop is not None and stop.is_set()):
                return healthy
            if stop is None:
                await asyncio.sleep(min(poll, remaining))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=min(poll, remaining))
