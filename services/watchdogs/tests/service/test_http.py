"""The HTTP API in-process: live configuration and pauses that survive a restart, and the error paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mts1b_operations.core import subjects
from mts1b_operations.core.schemas import OperationsCommand, decode
from mts1b_operations.core.testing import eventually
from mts1b_operations.watchdogs.config import WATCHDOG_NAMES

from .conftest import AlertWatcher, Harness
from .test_runners import trade

VPIN = {"vpin": {"bucket_volume": 100, "window": 2, "threshold": 0.5, "clear": 0.2}}


async def one_sided(harness: Harness, start: int, buckets: int, symbol: str = "ACME") -> None:
    for i in range(buckets * 2):
        await harness.publish(subjects.marketdata_trade(symbol), trade(symbol, start + i, 50, 1))


async def balanced(harness: Harness, start: int, buckets: int, symbol: str = "ACME") -> None:
    for i in range(buckets * 2):
        await harness.publish(
            subjects.marketdata_trade(symbol), trade(symbol, start + i, 50, 1 if i % 2 else -1)
        )


async def test_list_and_show_every_watchdog(harness: Harness) -> None:
    await harness.start(["vpin"], VPIN)
    listed = await harness.request("GET", "/v1/watchdogs", as_="vera")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["count"] == 10
    assert [w["name"] for w in body["watchdogs"]] == list(WATCHDOG_NAMES)
    vpin = next(w for w in body["watchdogs"] if w["name"] == "vpin")
    assert vpin["kind"] == "vpin"
    assert vpin["alert_subject"] == "mts.v1.operations.watchdog.vpin"
    assert vpin["active"] is True
    assert vpin["status"] == "running"
    assert vpin["params"]["threshold"] == 0.5
    assert vpin["params"]["window"] == 2
    assert vpin["inputs"] == "mts.v1.marketdata.trade.*"
    news = (await harness.request("GET", "/v1/watchdogs/news_spike", as_="vera")).json()
    assert news["active"] is False, "this instance runs only vpin"
    assert news["params"]["threshold"] == 5.0
    assert news["overrides"] == {}


async def test_a_config_change_takes_effect_live_and_survives_a_restart(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["vpin"], {"vpin": {"bucket_volume": 100, "window": 2}})
    changed = await harness.request(
        "PUT", "/v1/watchdogs/vpin/config", body={"threshold": 0.95, "clear": 0.9}
    )
    assert changed.status_code == 200, changed.text
    view = changed.json()
    assert view["params"]["threshold"] == 0.95
    assert view["overrides"] == {"threshold": 0.95, "clear": 0.9}
    assert view["updated_by"] == "operator:olga"
    runner = harness.runtime.runner("vpin")  # type: ignore[union-attr]
    assert (runner.params.threshold, runner.params.clear) == (0.95, 0.9)

    async def half_toxic() -> None:
        await balanced(harness, 0, 1)
        await one_sided(harness, 10, 1)  # VPIN 0.5: fires at the default 0.4, not at 0.95
        await harness.settled("vpin")

    await alerts.quiet("vpin", after=half_toxic)
    assert runner.last_value == pytest.approx(0.5)

    await harness.restart(["vpin"], overrides={"vpin": {"bucket_volume": 100, "window": 2}})
    runner = harness.runtime.runner("vpin")  # type: ignore[union-attr]
    assert (runner.params.threshold, runner.params.clear) == (0.95, 0.9), "read back from Postgres"
    shown = (await harness.request("GET", "/v1/watchdogs/vpin", as_="vera")).json()
    assert shown["overrides"] == {"threshold": 0.95, "clear": 0.9}

    reset = await harness.request("PUT", "/v1/watchdogs/vpin/config", body={"threshold": None, "clear": None})
    assert reset.json()["overrides"] == {}
    assert reset.json()["params"]["threshold"] == 0.4
    await one_sided(harness, 100, 2)
    await alerts.wait("vpin", "firing", "ACME")


async def test_a_change_is_announced_for_replicas_and_the_audit_trail(
    harness: Harness, alerts: AlertWatcher
) -> None:
    commands: list[OperationsCommand] = []

    async def heard(msg: object) -> None:
        commands.append(decode(msg.data, OperationsCommand))  # type: ignore[attr-defined]

    sub = await harness.bus.nc.subscribe(subjects.operations_command("watchdog"), cb=heard)
    try:
        await harness.start(["vpin"], VPIN)
        await harness.request("PUT", "/v1/watchdogs/vpin/config", body={"window": 3})
        await harness.request("POST", "/v1/watchdogs/vpin/pause", body={"for": "10m", "reason": "drill"})
        await harness.request("POST", "/v1/watchdogs/vpin/resume")

        async def three() -> bool:
            return len(commands) == 3

        await eventually(three, what="three watchdog commands")
    finally:
        await sub.unsubscribe()
    assert [c.args["action"] for c in commands] == ["config", "pause", "resume"]
    assert all(c.requested_by == "operator:olga" and c.targets == ["watchdogs"] for c in commands)
    assert commands[0].args["changed"] == "window"
    assert commands[0].args["origin"] == harness.instance_id


async def test_a_pause_silences_live_survives_a_restart_and_resume_sends_what_it_held(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["vpin"], VPIN)
    paused = await harness.request(
        "POST", "/v1/watchdogs/vpin/pause", body={"for": "30m", "reason": "noisy open"}
    )
    assert paused.status_code == 200, paused.text
    view = paused.json()
    assert view["status"] == "paused"
    assert view["paused_by"] == "operator:olga"
    assert view["pause_reason"] == "noisy open"
    until = datetime.fromisoformat(view["paused_until"])
    assert timedelta(minutes=29) < until - datetime.now(UTC) <= timedelta(minutes=30)

    async def toxic() -> None:
        await one_sided(harness, 0, 2)
        await harness.settled("vpin")

    await alerts.quiet("vpin", after=toxic)
    firing = (await harness.request("GET", "/v1/watchdogs/vpin", as_="vera")).json()["firing"]
    assert [(f["subject_id"], f["notified"]) for f in firing] == [("ACME", False)], "fires, held back"

    await harness.restart(["vpin"], overrides=VPIN)
    shown = (await harness.request("GET", "/v1/watchdogs/vpin", as_="vera")).json()
    assert shown["status"] == "paused"
    assert shown["paused_until"] == view["paused_until"]
    assert [(f["subject_id"], f["notified"]) for f in shown["firing"]] == [("ACME", False)]
    assert harness.runtime.runner("vpin").silenced()  # type: ignore[union-attr]

    resumed = await harness.request("POST", "/v1/watchdogs/vpin/resume")
    assert resumed.json()["status"] == "running"
    assert resumed.json()["paused_until"] is None
    fired = await alerts.wait("vpin", "firing", "ACME")
    assert fired.value == pytest.approx(1.0)
    await balanced(harness, 100, 2)
    await alerts.wait("vpin", "resolved", "ACME")


async def test_a_pause_expires_on_its_own_and_sends_what_it_held(
    harness: Harness, alerts: AlertWatcher
) -> None:
    await harness.start(["vpin"], VPIN)
    # Long enough for the inputs to settle on a loaded machine while the pause still holds.
    paused = await harness.request("POST", "/v1/watchdogs/vpin/pause", body={"for": 3})
    assert paused.json()["status"] == "paused"
    await one_sided(harness, 0, 2)
    await harness.settled("vpin")
    until = datetime.fromisoformat(paused.json()["paused_until"])
    if datetime.now(UTC) < until:  # what was settled inside the pause was held
        assert alerts.matching("vpin") == []
    fired = await alerts.wait("vpin", "firing", "ACME", within=15)
    assert fired.fired_at >= until

    async def back_running() -> tuple[str, object] | None:
        row = await harness.pool.fetchrow(
            "SELECT status, paused_until FROM watchdog_state WHERE name = 'vpin'"
        )
        found = (row["status"], row["paused_until"]) if row is not None else None
        return found if found == ("running", None) else None

    await eventually(back_running, within=15, what="vpin's stored state back to running")


async def test_another_replica_applies_the_change_it_hears(harness: Harness) -> None:
    from .conftest import Harness as Replica

    await harness.start(["vpin"], VPIN)
    other = Replica(
        pool=harness.pool,
        bus=harness.bus,
        wd_db=harness.wd_db,
        nats_url=harness.nats_url,
        tokens=harness.tokens,
    )
    await other.start(["vpin"], VPIN)
    try:
        await harness.request("PUT", "/v1/watchdogs/vpin/config", body={"threshold": 0.7})
        await harness.request("POST", "/v1/watchdogs/vpin/pause", body={"for": "5m"})
        replica = other.runtime.runner("vpin")  # type: ignore[union-attr]

        async def applied() -> bool:
            return replica.params.threshold == 0.7 and replica.silenced()

        await eventually(applied, what="the other replica to apply the change")
    finally:
        await other.stop()


# ---------------------------------------------------------------------------------------------- errors


async def test_unknown_watchdog_is_a_404_naming_the_valid_ones(harness: Harness) -> None:
    await harness.start(["vpin"], VPIN)
    for method, path, body in (
        ("GET", "/v1/watchdogs/vpn", None),
        ("PUT", "/v1/watchdogs/vpn/config", {"threshold": 0.5}),
        ("POST", "/v1/watchdogs/vpn/pause", {}),
        ("POST", "/v1/watchdogs/vpn/resume", None),
    ):
        response = await harness.request(method, path, body=body)
        assert response.status_code == 404, (path, response.text)
        error = response.json()
        assert error["extra"]["code"] == "unknown_watchdog"
        assert error["extra"]["field"] == "name"
        assert "'vpn'" in error["detail"]
        assert "news_spike" in error["detail"]
        assert error["extra"]["watchdogs"] == list(WATCHDOG_NAMES)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"threshold": 1.5}, "threshold", "<= 1.0"),
        ({"threshold": 0.1}, "clear", "must be <= threshold (0.2 > 0.1)"),
        ({"window": 0}, "window", ">= 1"),
        ({"window": "fifty"}, "window", "Expected `int`"),
        ({"thresold": 0.5}, "thresold", "is not a parameter of vpin"),
        ({"bucket_volumes": {"AC ME": 10}}, "bucket_volumes", ""),
        ({"for": 0}, "for", ">= 1"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it_and_changes_nothing(
    harness: Harness, body: dict[str, object], field: str, words: str
) -> None:
    await harness.start(["vpin"], VPIN)
    response = await harness.request("PUT", "/v1/watchdogs/vpin/config", body=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["extra"]["code"] == "invalid"
    assert error["extra"]["field"].startswith(field)
    assert error["detail"].startswith(f"vpin: {field}")
    assert words in error["detail"]
    assert await harness.pool.fetchval("SELECT count(*) FROM watchdog_config") == 0
    assert harness.runtime.runner("vpin").params.threshold == 0.5  # type: ignore[union-attr]


async def test_a_config_body_that_is_not_an_object_is_a_400(harness: Harness) -> None:
    await harness.start(["vpin"], VPIN)
    for body in ([1, 2], "threshold=0.5"):
        response = await harness.request("PUT", "/v1/watchdogs/vpin/config", body=body)
        assert response.status_code == 400, response.text
        assert response.json()["extra"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"for": "soon"}, "for"),
        ({"for": "-5m"}, "for"),
        ({"for": 0}, "for"),
        ({"for": "8d"}, "for"),
        ({"until": "2020-01-01T00:00:00Z"}, "until"),
        ({"until": "2099-01-01T00:00:00"}, "until"),
        ({"until": "2099-01-01T00:00:00Z", "for": "1h"}, "for"),
        ({"until": "tomorrow"}, "until"),
        ({"forever": True}, "forever"),
    ],
)
async def test_a_bad_pause_is_a_400_naming_the_field(
    harness: Harness, body: dict[str, object], field: str
) -> None:
    await harness.start(["vpin"], VPIN)
    response = await harness.request("POST", "/v1/watchdogs/vpin/pause", body=body)
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == field, response.text
    assert not harness.runtime.runner("vpin").silenced()  # type: ignore[union-attr]


async def test_reads_need_a_token_and_changes_need_an_operator(harness: Harness) -> None:
    await harness.start(["vpin"], VPIN)
    assert harness.http is not None
    anonymous = await harness.http.get("/v1/watchdogs")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    for method, path, body in (
        ("PUT", "/v1/watchdogs/vpin/config", {"threshold": 0.6}),
        ("POST", "/v1/watchdogs/vpin/pause", {}),
        ("POST", "/v1/watchdogs/vpin/resume", None),
    ):
        response = await harness.request(method, path, as_="vera", body=body)
        assert response.status_code == 403, (path, response.text)
        assert "operator" in response.json()["detail"]
    assert harness.runtime.runner("vpin").params.threshold == 0.5  # type: ignore[union-attr]
    assert not harness.runtime.runner("vpin").silenced()  # type: ignore[union-attr]


async def test_the_sdk_client_reads_changes_and_maps_errors(harness: Harness) -> None:
    from mts1b_operations.client import BadRequestError, NotFoundError, WatchdogsClient

    await harness.start(["vpin"], VPIN)
    assert harness.http is not None
    transport = harness.http._transport  # the app, in-process
    async with WatchdogsClient(
        "http://watchdogs.test", token=harness.tokens["olga"], transport=transport
    ) as client:
        views = await client.list_watchdogs()
        assert [v.name for v in views] == list(WATCHDOG_NAMES)
        view = await client.configure("vpin", {"for": 2}, threshold=0.6)
        assert (view.params["for"], view.params["threshold"]) == (2, 0.6)
        until = datetime.now(UTC) + timedelta(hours=2)
        paused = await client.pause("vpin", until=until, reason="drill")
        assert paused.status == "paused"
        assert paused.paused_until == until
        assert (await client.resume("vpin")).status == "running"
        assert (await client.show("vpin")).overrides == {"for": 2, "threshold": 0.6}
        with pytest.raises(NotFoundError) as missing:
            await client.show("vpn")
        assert "news_spike" in str(missing.value)
        with pytest.raises(BadRequestError) as bad:
            await client.configure("vpin", window=-1)
        assert bad.value.field == "window"
