"""The service as its own process: bootstrap wiring, from an input on NATS to an alert, and a clean stop."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Bus
from mts1b_operations.core.testing import ServiceProcess, start_service

from .conftest import AlertWatcher
from .test_runners import greeks


def _put(url: str, token: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, object] = json.loads(response.read())
    return answer


async def test_the_service_process_turns_an_input_into_an_alert_and_stops_cleanly(
    wd_db: str, nats_url: str, tokens: dict[str, str], bus: Bus, alerts: AlertWatcher, tmp_path: Path
) -> None:
    process = await asyncio.to_thread(
        start_service,
        "mts1b_operations.watchdogs",
        database_url=wd_db,
        nats_url=nats_url,
        log_dir=tmp_path,
        env={"MTS_WATCHDOGS": "theta_watchdog", "MTS_WATCHDOG_UPSTREAMS": None, "MTS_FUNDS_FILE": None},
    )
    try:
        view = await asyncio.to_thread(
            _put, f"{process.base_url}/v1/watchdogs/theta_watchdog/config", tokens["olga"], {"limit": 100}
        )
        assert view["params"]["limit"] == 100.0  # type: ignore[index]
        await bus.publish(
            subjects.portfolio_greeks("paper-options"), greeks("paper-options", 100), msg_id="g-1"
        )
        fired = await alerts.wait("theta", "firing", "paper-options", within=15)
        assert fired.threshold == 100.0
        ready = await asyncio.to_thread(process.get, "/v1/readyz")
        assert ready.status == 200
    finally:
        code = await asyncio.to_thread(process.stop)
    assert code == 0, process.stderr()[-2000:]
    assert "watchdogs running: theta_watchdog" in process.stderr()


async def test_a_bad_watchdog_setting_stops_start_up_naming_the_variable(
    wd_db: str, nats_url: str, tmp_path: Path
) -> None:
    process = ServiceProcess(
        "mts1b_operations.watchdogs",
        env={"MTS_DATABASE_URL": wd_db, "MTS_NATS_URL": nats_url, "MTS_WATCHDOGS": "vpin,vpn"},
        log_dir=tmp_path,
    )
    process.start()
    code = await asyncio.to_thread(process.wait_exit, 60)
    assert code == 1
    last = process.stderr().strip().splitlines()[-1]
    assert "MTS_WATCHDOGS" in last, process.stderr()[-1500:]
    assert "unknown watchdog 'vpn'" in last
