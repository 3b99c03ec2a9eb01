"""dependency_watchdog: upstream health endpoints, probed every ``interval`` seconds.

Each upstream of ``upstreams`` (name → URL; defaults from MTS_WATCHDOG_UPSTREAMS, e.g.
``oms=http://oms:8080/healthz;halt=http://halt:8101/v1/healthz``) gets an HTTP GET per round,
all upstreams at once; a 2xx answer within ``timeout`` seconds is a good probe, anything else
(an error status, a refused connection, a timeout) a failed one. The up/down state follows the
Kubernetes probe rule (:class:`maths.dependency.HealthTracker`): down after
``failure_threshold`` failures in a row (3), up again after ``success_threshold`` good probes
(1). The alert fires while an upstream is down and resolves when it is up; the subject is the
upstream's name. While it fires, the watchdogs listing it in ``inhibited_by`` (db, strategy)
are muted for that dependency.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from ..alerting import Evaluation, flag_evaluation
from ..config import DependencyParams
from ..maths.dependency import HealthState, HealthTracker
from ..store import StoredState
from ._base import Runner, RunnerEnv

__all__ = ["DependencyRunner", "ProbeResult"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    detail: str


class DependencyRunner(Runner[DependencyParams]):
    name = "dependency_watchdog"

    def __init__(self, env: RunnerEnv, params: DependencyParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.trackers: dict[str, HealthTracker] = {}
        self.last_probe: dict[str, ProbeResult] = {}
        self._client: httpx.AsyncClient | None = None

    def interval(self) -> float:
        return self.params.interval

    def describe_inputs(self) -> str:
        names = ", ".join(f"{name}={url}" for name, url in self.params.upstreams.items()) or "no upstreams"
        return f"HTTP probes every {self.params.interval:g}s: {names}"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": "mts1b-watchdogs"})

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reconfigured(self, old: DependencyParams, new: DependencyParams) -> None:
        if (old.failure_threshold, old.success_threshold) != (new.failure_threshold, new.success_threshold):
            self.trackers = {
                name: HealthTracker(new.failure_threshold, new.success_threshold, initial=tracker.state)
                for name, tracker in self.trackers.items()
            }

    def _tracker(self, name: str) -> HealthTracker:
        tracker = self.trackers.get(name)
        if tracker is None:
            # A subject still firing from before a restart starts down: it must prove it is up.
            initial: HealthState = "down" if name in self.book.firing else "up"
            tracker = HealthTracker(
                self.params.failure_threshold, self.params.success_threshold, initial=initial
            )
            self.trackers[name] = tracker
        return tracker

    async def probe(self, url: str) -> ProbeResult:
        assert self._client is not None, "start() the runner first"
        try:
            response = await self._client.get(url, timeout=self.params.timeout)
        except httpx.TimeoutException:
            return ProbeResult(False, f"no answer within {self.params.timeout:g}s")
        except httpx.HTTPError as exc:
            return ProbeResult(False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if 200 <= response.status_code < 300:
            return ProbeResult(True, f"HTTP {response.status_code}")
        return ProbeResult(False, f"HTTP {response.status_code}")

    async def tick(self) -> None:
        upstreams = dict(self.params.upstreams)
        names = list(upstreams)
        results = await asyncio.gather(*(self.probe(upstreams[name]) for name in names))
        evaluations: list[Evaluation] = []
        for name, result in zip(names, results, strict=True):
            tracker = self._tracker(name)
            tracker.observe(result.ok)
            self.last_probe[name] = result
            down = tracker.state == "down"
            if down:
                message = (
                    f"{name} ({upstreams[name]}) is down: {tracker.consecutive_failures} failed "
                    f"probe(s) in a row (down at {tracker.failure_threshold}); last: {result.detail}"
                )
            else:
                message = f"{name} ({upstreams[name]}) is up: last probe {result.detail}"
            evaluations.append(
                flag_evaluation(
                    name,
                    down,
                    message=message,
                    value=float(tracker.consecutive_failures),
                    threshold=float(tracker.failure_threshold),
                )
            )
        for name in list(self.trackers):
            if name not in upstreams:
                del self.trackers[name]
                self.last_probe.pop(name, None)
        for name in self.book.firing:
            if name not in upstreams:
                evaluations.append(flag_evaluation(name, False, message=f"{name} is no longer probed"))
        self.queue(evaluations)
