"""deploy/compose: valid against the Compose Specification, and every reference in it holds.

No Docker engine runs here (and the client has no compose plugin), so the files are checked the way
compose would read them: ``${...}`` interpolated from env.example (its empty passwords filled in),
validated against the Compose Specification's JSON schema (the copy check-jsonschema ships,
``vendor/compose-spec.json``, Apache-2.0, from github.com/compose-spec/compose-spec), then every
reference followed: depends_on targets, build contexts and Dockerfiles, mounted files, the NATS users
and Postgres roles, and each service's environment read by the same settings code the service runs.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from mts1b_operations.compliance._config import load_config as load_compliance_config
from mts1b_operations.core.settings import load_settings
from mts1b_operations.marketdata.ratelimit import load_rate_limit_settings
from mts1b_operations.watchdogs.config import parse_upstreams

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILES = ("compose.yaml", "compose.operator.yaml")
SERVICES = ("halt", "audit", "watchdogs", "compliance", "marketdata-api")
DB_ROLES = {
    "halt": "mts_halt",
    "audit": "mts_audit",
    "watchdogs": "mts_watchdogs",
    "compliance": "mts_compliance",
    "marketdata-api": "mts_marketdata",
}
# Secrets the operator creates on the host (never committed); the check uses a temporary file.
OPERATOR_CREATED = {"audit_signing_key"}

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


class InterpolationError(ValueError):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        found = env.get(name)
        unset_or_empty = not found if op and op.startswith(":") else found is None
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise InterpolationError(f"{name}: {arg}")
        return found or ""

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def variables_used(text: str) -> set[str]:
    return {m["name"] or m["bare"] for m in _VARIABLE.finditer(text.replace("$$", ""))}


def env_example() -> dict[str, str]:
    found = {}
    for line in (COMPOSE_DIR / "env.example").read_text().splitlines():
        if match := re.fullmatch(r"(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)", line.strip()):
            found[match["name"]] = match["value"]
    return found


def documented_variables() -> set[str]:
    """Every variable env.example sets or shows commented out (``# NAME=...``)."""
    text = (COMPOSE_DIR / "env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def filled_env() -> dict[str, str]:
    """env.example with each empty password set, as an operator's .env would be."""
    return {name: value or secrets.token_hex(12) for name, value in env_example().items()}


def load_compose(name: str = "compose.yaml", env: Mapping[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load((COMPOSE_DIR / name).read_text())
    document: dict[str, Any] = interpolate(raw, filled_env() if env is None else env)
    return document


def compose_schema() -> dict[str, Any]:
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(schema_file.read_text())
    return schema


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def host_path(relative: str) -> Path:
    return (COMPOSE_DIR / relative).resolve()


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_is_valid_against_the_compose_specification(name: str) -> None:
    assert schema_errors(load_compose(name)) == []


def test_the_schema_check_rejects_a_broken_file() -> None:
    document = load_compose()
    document["services"]["halt"]["depends_on"]["migrate"]["condition"] = "service_finished"
    document["services"]["audit"]["restart"] = 3
    errors = schema_errors(document)
    assert any(e.startswith("services/halt/depends_on") for e in errors), errors
    assert not any(e.startswith("services/watchdogs/") for e in errors), "only the broken services fail"
    assert any(e.startswith("services/audit/restart") for e in errors), errors


def test_an_unset_password_stops_compose_naming_it() -> None:
    env = filled_env()
    env["PG_HALT_PASSWORD"] = ""
    with pytest.raises(InterpolationError, match="PG_HALT_PASSWORD"):
        load_compose(env=env)


def test_env_example_documents_exactly_the_variables_the_compose_files_use() -> None:
    used = set().union(*(variables_used((COMPOSE_DIR / name).read_text()) for name in COMPOSE_FILES))
    assert used == documented_variables()
    required = set(re.findall(r"\$\{(\w+):\?", (COMPOSE_DIR / "compose.yaml").read_text()))
    assert {name for name, value in env_example().items() if not value} == required, "secrets ship empty"


def test_dependencies_builds_and_mounted_files_exist() -> None:
    document = load_compose()
    services = document["services"]
    assert set(services) == {"nats", "postgres", "migrate", *SERVICES}
    for name, service in services.items():
        for target in service.get("depends_on", {}):
            assert target in services, f"{name} depends on unknown service {target}"
        if "build" in service:
            context = host_path(service["build"]["context"])
            assert context == REPO, f"{name}: images build from the workspace root"
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert host_path(source).exists(), f"{name}: mounted {source} does not exist"
            else:
                assert source in document["volumes"], f"{name}: volume {source} is not declared"
        for entry in service.get("env_file", []):
            assert entry.get("required", True) is False or host_path(entry["path"]).is_file(), name
        for kind in ("configs", "secrets"):
            for ref in service.get(kind, []):
                source = ref if isinstance(ref, str) else ref["source"]
                assert source in document[kind], f"{name}: {kind} {source} is not declared"
    for kind in ("configs", "secrets"):
        for name, entry in document[kind].items():
            assert name in OPERATOR_CREATED or host_path(entry["file"]).is_file(), f"{kind} {name}"


def test_the_five_services_wait_for_their_dependencies_and_restart() -> None:
    services = load_compose()["services"]
    for name in SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
        assert service["restart"] == "unless-stopped"
        assert service["depends_on"] == {
            "nats": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
    migrate = services["migrate"]
    assert migrate["build"]["dockerfile"] == "deploy/migrate/Dockerfile"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert urlsplit(migrate["environment"]["MTS_DATABASE_URL"]).username == "mts_migrate"


def test_only_the_marketdata_api_publishes_a_port_by_default() -> None:
    services = load_compose()["services"]
    assert {name for name, service in services.items() if service.get("ports")} == {"marketdata-api"}
    assert services["marketdata-api"]["ports"] == ["8105:8105"]
    operator = load_compose("compose.operator.yaml")["services"]
    assert set(operator) == {"nats", "halt", "audit", "watchdogs", "compliance"}
    for service in operator.values():
        (port,) = service["ports"]
        assert port.startswith("127.0.0.1:"), "operator ports stay on loopback by default"


def _nats_users() -> dict[str, str]:
    """NATS user -> the server environment variable holding its password (deploy/nats/accounts.conf)."""
    text = (REPO / "deploy" / "nats" / "accounts.conf").read_text()
    return dict(re.findall(r"user:\s*([\w-]+)\s*\n\s*password:\s*\$(\w+)", text))


def _mounted_files(
    service: Mapping[str, Any], document: Mapping[str, Any], tmp_path: Path
) -> dict[str, Path]:
    """Container path -> the host file compose mounts there (operator-created secrets: a temp file)."""
    mounted = {}
    for ref in service.get("configs", []):
        mounted[ref["target"]] = host_path(document["configs"][ref["source"]]["file"])
    for ref in service.get("secrets", []):
        name = ref if isinstance(ref, str) else ref["source"]
        target = f"/run/secrets/{name}" if isinstance(ref, str) else ref.get("target", f"/run/secrets/{name}")
        stand_in = tmp_path / name
        stand_in.write_bytes(secrets.token_bytes(32))
        mounted[target] = (
            stand_in if name in OPERATOR_CREATED else host_path(document["secrets"][name]["file"])
        )
    return mounted


def _service_port(name: str) -> int:
    (ep,) = [ep for ep in entry_points(group="mts1b_operations.services") if ep.name == name]
    port: int = ep.load()().default_port
    return port


@pytest.mark.parametrize("name", SERVICES)
def test_service_environment_is_complete_and_read_by_the_service_settings(name: str, tmp_path: Path) -> None:
    document = load_compose()
    service = document["services"][name]
    env = dict(service["environment"])
    mounted = _mounted_files(service, document, tmp_path)
    for variable in ("MTS_FUNDS_FILE", "MTS_AUDIT_SIGNING_KEY"):
        if variable in env:
            assert env[variable] in mounted, f"{name}: {variable} names a file compose does not mount"
            env[variable] = str(mounted[env[variable]])
    settings = load_settings(env)
    port = _service_port(name)
    assert settings.service_name == name
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == port
    assert settings.nats_stream_replicas == 1
    assert f"http://127.0.0.1:{port}/v1/healthz" in " ".join(service["healthcheck"]["test"])
    database = urlsplit(settings.database_url)
    assert (database.username, database.hostname, database.port, database.path) == (
        DB_ROLES[name],
        "postgres",
        5432,
        "/mts",
    )
    nats = urlsplit(settings.nats_url)
    assert nats.username == name, "each service connects as its own NATS user"
    assert nats.hostname == "nats"
    assert nats.password == document["services"]["nats"]["environment"][_nats_users()[name]]
    if name == "audit":
        assert settings.audit_signing_key is not None
    if name in ("halt", "watchdogs", "compliance", "marketdata-api"):
        assert settings.funds_file is not None
    if name == "watchdogs":
        upstreams = parse_upstreams(env["MTS_WATCHDOG_UPSTREAMS"])
        assert len(upstreams) == 4
    if name == "marketdata-api":
        assert load_rate_limit_settings(env).requests == 600
    if name == "compliance":
        output = str(load_compliance_config(env).output_dir)
        assert [v for v in service["volumes"] if v.split(":")[1] == output] == [f"compliance-files:{output}"]


def test_each_service_uses_a_password_no_other_service_gets() -> None:
    services = load_compose()["services"]
    seen: dict[str, str] = {}
    for name in SERVICES:
        env = services[name]["environment"]
        for url in (env["MTS_DATABASE_URL"], env["MTS_NATS_URL"]):
            password = urlsplit(url).password
            assert password, f"{name}: {url.split('@')[-1]} has no password"
            assert password not in seen, f"{name} shares a password with {seen.get(password)}"
            seen[password] = name


def test_nats_gets_its_configuration_and_every_password_it_reads() -> None:
    nats = load_compose()["services"]["nats"]
    assert nats["command"] == ["-c", "/etc/nats/nats.conf"]
    assert "../nats:/etc/nats:ro" in nats["volumes"]
    assert (REPO / "deploy" / "nats" / "nats.conf").is_file()
    config = "\n".join(p.read_text() for p in (REPO / "deploy" / "nats").glob("*.conf"))
    wanted = set(re.findall(r"\$(NATS_\w+)", config))
    assert wanted, "the NATS configuration reads its passwords from the environment"
    assert wanted <= set(nats["environment"]), wanted - set(nats["environment"])
    store = re.search(r"store_dir:\s*(\S+)", (REPO / "deploy" / "nats" / "nats.conf").read_text())
    assert store is not None
    assert any(v.startswith("nats-data:") and store[1].startswith(v.split(":")[1]) for v in nats["volumes"])
    assert "8222/healthz" in " ".join(nats["healthcheck"]["test"])


def test_postgres_creates_the_roles_with_the_passwords_of_the_environment() -> None:
    postgres = load_compose()["services"]["postgres"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in postgres["volumes"] if v.startswith("."))
    assert mounts["../postgres/init-roles.sql"] == "/mts/init-roles.sql"
    init = mounts["./postgres/10-mts-roles.sh"]
    assert init.startswith("/docker-entrypoint-initdb.d/")
    script = (COMPOSE_DIR / "postgres" / "10-mts-roles.sh").read_text()
    assert "-f /mts/init-roles.sql" in script
    sql = (REPO / "deploy" / "postgres" / "init-roles.sql").read_text()
    expected = set(re.findall(r":\{\?(\w+)\}", sql))
    passed = dict(re.findall(r'-v (\w+)="\$(\w+)"', script))
    assert set(passed) == expected
    assert set(passed.values()) <= set(postgres["environment"])
    assert "pg_isready" in postgres["healthcheck"]["test"]
