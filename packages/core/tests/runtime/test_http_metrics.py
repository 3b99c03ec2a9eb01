"""The label-caching Prometheus middleware records exactly what Litestar's own does."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import PathParameter
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from prometheus_client import REGISTRY, generate_latest

from mts1b_operations.core.runtime._app import untraced_paths
from mts1b_operations.core.runtime._http_metrics import LabelCachingPrometheusMiddleware


@get("/items/{item_id:int}")
async def item(item_id: Annotated[int, PathParameter()]) -> dict[str, int]:
    if item_id == 13:
        raise RuntimeError("unlucky")
    return {"item": item_id}


def _app(prefix: str, middleware: type[PrometheusMiddleware]) -> Litestar:
    config = PrometheusConfig(app_name="t", prefix=prefix, group_path=True, middleware_class=middleware)
    return Litestar([item], middleware=[config.middleware], logging_config=None)


async def _drive(app: Litestar) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/items/1", "/items/2", "/items/13", "/items/x", "/nowhere", "/items/3"):
            await client.get(path)
        await client.post("/items/1")


def _samples(prefix: str) -> dict[str, float]:
    """Every sample of the prefix's metrics except durations' values, keyed without the prefix."""
    text = generate_latest(REGISTRY).decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        name, value = line.rsplit(" ", 1)
        name = name.removeprefix(prefix)
        if name.startswith("_request_duration_seconds_sum") or "created" in name:
            continue
        samples[name] = float(value)
    return samples


def _only(samples: dict[str, float], name: str, *labels: str) -> float:
    [value] = [v for k, v in samples.items() if k.startswith(name + "{") and all(lb in k for lb in labels)]
    return value


async def test_cached_labels_give_the_same_samples_as_the_stock_middleware() -> None:
    stock, cached = f"stock_{uuid.uuid4().hex[:8]}", f"cached_{uuid.uuid4().hex[:8]}"
    await _drive(_app(stock, PrometheusMiddleware))
    await _drive(_app(cached, LabelCachingPrometheusMiddleware))
    want, got = _samples(stock), _samples(cached)
    assert want, "the stock middleware recorded nothing"
    # Durations differ run to run; which bucket a request lands in can too, so compare counts only.
    counts = {k: v for k, v in want.items() if "_bucket" not in k}
    assert {k: v for k, v in got.items() if "_bucket" not in k} == counts
    item_path = 'path="/items/{item_id}"'
    assert _only(counts, "_requests_total", item_path, 'status_code="200"', 'method="GET"') == 3
    assert _only(counts, "_requests_error_total", item_path, 'status_code="500"') == 1
    assert any(re.search(r'_bucket\{.*le="\+Inf".*status_code="200"', k) for k in got)


@pytest.mark.parametrize("variable", ["OTEL_PYTHON_LITESTAR_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"])
def test_opentelemetry_excluded_urls_are_skipped_by_litestar_too(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("OTEL_PYTHON_LITESTAR_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"):
        monkeypatch.delenv(name, raising=False)
    assert untraced_paths() == ["/v1/healthz", "/v1/readyz", "/metrics"]
    monkeypatch.setenv(variable, "/v1/quotes/, /v1/bars/ ,")
    assert untraced_paths() == ["/v1/healthz", "/v1/readyz", "/metrics", "/v1/quotes/", "/v1/bars/"]
