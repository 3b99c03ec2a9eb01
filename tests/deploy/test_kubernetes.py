"""deploy/k8s: every manifest valid for Kubernetes 1.31, and the pieces fit each other and the services.

kustomize is not part of this machine's toolset, so the overlays use only what a few lines here
can apply faithfully — ``resources``, strategic-merge ``patches`` matched by kind and name (maps
merged key by key, lists of named items merged by name, other lists replaced) and ``images`` —
and the test refuses a kustomization using anything else. Each rendered document is validated
with kubernetes-validate (strict: an unknown field is an error); the CloudNativePG ``Cluster``
(a CRD it has no schema for) is checked field by field. Then the references: selectors and the
pods they pick, probe paths and ports, each service's environment read by the service's own
settings code, the network policy, and the Secrets and ConfigMaps operators must create, which
the runbook has to name.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from mts1b_operations.compliance._config import load_config as load_compliance_config
from mts1b_operations.core.funds import load_funds
from mts1b_operations.core.settings import load_settings
from mts1b_operations.marketdata.ratelimit import load_rate_limit_settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
RUNBOOK = REPO / "docs" / "operations" / "deploy-kubernetes.md"
KUBERNETES_VERSION = "1.31"
SERVICES = ("halt", "audit", "watchdogs", "compliance", "marketdata-api")
OPERATOR_FACING = ("halt", "audit", "watchdogs", "compliance")
DB_ROLES = {
    "halt": "mts_halt",
    "audit": "mts_audit",
    "watchdogs": "mts_watchdogs",
    "compliance": "mts_compliance",
    "marketdata-api": "mts_marketdata",
}
TARGETS = ("base", "overlays/dev", "overlays/prod")
SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}
CLUSTER_SCOPED = {"Namespace"}
NOT_VALIDATED_BY_SCHEMA = {("postgresql.cnpg.io/v1", "Cluster")}
PLACEHOLDER_SECRET = "s3cret"

Doc = dict[str, Any]


# --- rendering -----------------------------------------------------------------------------------


def _load_all(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _key(doc: Mapping[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge, as far as these overlays use it."""
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for key, value in patch.items():
            merged[key] = merge_patch(target[key], value) if key in target else copy.deepcopy(value)
        return merged
    named = isinstance(target, list) and isinstance(patch, list)
    if named and all(isinstance(i, dict) and "name" in i for i in [*target, *patch]):
        by_name = {item["name"]: item for item in target}
        out = [
            merge_patch(item, next((p for p in patch if p["name"] == item["name"]), {})) for item in target
        ]
        return out + [copy.deepcopy(p) for p in patch if p["name"] not in by_name]
    return copy.deepcopy(patch)


def _containers(doc: Doc) -> list[Doc]:
    spec = pod_spec(doc)
    return [*spec.get("initContainers", []), *spec.get("containers", [])] if spec else []


def render(directory: Path) -> list[Doc]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_KEYS
    assert not unsupported, f"{directory}: kustomization uses {unsupported}, which the test cannot render"
    docs: list[Doc] = []
    for resource in kustomization["resources"]:
        path = (directory / resource).resolve()
        assert path.exists(), f"{directory}: resource {resource} does not exist"
        docs += render(path) if path.is_dir() else _load_all(path)
    for entry in kustomization.get("patches", []):
        assert set(entry) == {"path"}, f"{directory}: only file patches by kind and name are used"
        patch_file = directory / entry["path"]
        assert patch_file.is_file(), f"{directory}: patch {entry['path']} does not exist"
        for patch in _load_all(patch_file):
            matches = [i for i, doc in enumerate(docs) if _key(doc) == _key(patch)]
            assert len(matches) == 1, f"{patch_file.name}: no single {_key(patch)} to patch"
            index = matches[0]
            docs[index] = merge_patch(docs[index], patch)
    for image in kustomization.get("images", []):
        found = False
        for doc in docs:
            for container in _containers(doc):
                if container["image"].rsplit(":", 1)[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
                    found = True
        assert found, f"{directory}: image {image['name']} is used by no container"
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    keys = [(_key(doc), doc["metadata"].get("namespace")) for doc in docs]
    assert len(keys) == len(set(keys)), f"{directory}: a resource is defined twice"
    return docs


def rendered(target: str) -> list[Doc]:
    return render(K8S / target)


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [doc for doc in docs if _key(doc) == (kind, name)]
    return doc


def pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    return None


def pod_templates(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        if pod_spec(doc) is not None:
            yield doc, doc["spec"]["template"]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def default_port(service: str) -> int:
    (ep,) = [ep for ep in entry_points(group="mts1b_operations.services") if ep.name == service]
    port: int = ep.load()().default_port
    return port


# --- structure and schema ---------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_every_manifest_is_valid_kubernetes(target: str) -> None:
    docs = rendered(target)
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in NOT_VALIDATED_BY_SCHEMA:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(map(str, exc.path))
            pytest.fail(f"{target}: {_key(doc)} is invalid at {path}: {exc.message}")
        checked += 1
    assert checked >= 30


def test_the_validator_rejects_an_invalid_manifest() -> None:
    deployment = copy.deepcopy(find(rendered("base"), "Deployment", "mts-halt"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_file_under_deploy_k8s_is_used() -> None:
    """A manifest no kustomization lists would never be applied (nor tested)."""
    listed = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        listed.add(kustomization)
        for entry in [*spec.get("resources", []), *(p["path"] for p in spec.get("patches", []))]:
            listed.add((kustomization.parent / entry).resolve())
    helm_values = {K8S / "overlays" / "prod" / "nats-values.yaml"}
    assert set(K8S.rglob("*.yaml")) - helm_values <= listed


def test_the_merge_used_for_patches_merges_named_lists_and_replaces_others() -> None:
    target = {"spec": {"replicas": 2, "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}}
    patch = {"spec": {"replicas": 1, "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}}
    assert merge_patch(target, patch) == {
        "spec": {
            "replicas": 1,
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
        }
    }
    assert merge_patch({"args": ["a", "b"]}, {"args": ["c"]}) == {"args": ["c"]}


# --- the services --------------------------------------------------------------------------------


def container_env(docs: list[Doc], container: Doc, tmp_path: Path) -> dict[str, str]:
    """The container's environment as the kubelet builds it; secrets become a placeholder."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "secrets are referenced key by key, never whole"
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = f"{PLACEHOLDER_SECRET}-{ref['name']}-{ref['key']}"
            continue
        references = re.findall(r"\$\((\w+)\)", item["value"])
        for reference in references:
            assert reference in env, f"{item['name']} uses $({reference}) before it is defined"
        env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], item["value"])
    return env


def _mounted(docs: list[Doc], spec: Doc, container: Doc, path: str, tmp_path: Path) -> Path:
    """The file at ``path`` inside the container, written out from its ConfigMap (or a stand-in secret)."""
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        key = path.removeprefix(prefix)
        local: Path = tmp_path / mount["name"] / key
        local.parent.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            local.write_text(find(docs, "ConfigMap", volume["configMap"]["name"])["data"][key])
        else:
            assert key in [item["path"] for item in volume["secret"]["items"]]
            local.write_bytes(b"\x01" * 32)
        return local
    raise AssertionError(f"{container['name']}: nothing is mounted at {path}")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", SERVICES)
def test_service_environment_is_complete_and_read_by_its_settings(
    target: str, service: str, tmp_path: Path
) -> None:
    docs = rendered(target)
    deployment = find(docs, "Deployment", f"mts-{service}")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = container_env(docs, container, tmp_path)
    for variable in ("MTS_FUNDS_FILE", "MTS_AUDIT_SIGNING_KEY"):
        if variable in env:
            env[variable] = str(_mounted(docs, spec, container, env[variable], tmp_path))
    settings = load_settings(env)
    assert settings.service_name == service
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == default_port(service)
    assert settings.nats_stream_replicas == (3 if target == "overlays/prod" else 1)
    database = urlsplit(settings.database_url)
    assert (database.username, database.hostname, database.port) == (
        DB_ROLES[service],
        "mts-postgres-rw.mts-data.svc",
        5432,
    )
    assert database.password == f"{PLACEHOLDER_SECRET}-mts-{service}-secrets-postgres-password"
    nats = urlsplit(settings.nats_url)
    assert (nats.username, nats.hostname, nats.port) == (service, "mts-nats.mts-data.svc", 4222)
    assert nats.password == f"{PLACEHOLDER_SECRET}-mts-{service}-secrets-nats-password"
    assert settings.funds_file is not None
    assert load_funds(settings.funds_file).funds, "the funds registry ConfigMap is a valid registry"
    if service == "audit":
        assert settings.audit_signing_key is not None
    if service == "marketdata-api":
        assert load_rate_limit_settings(env).store == "nats", "replicas share one rate limit"
    if service == "compliance":
        output = load_compliance_config(env).output_dir
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(output)]
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        claim = find(docs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert deployment["spec"]["replicas"] == 1, "one writer of a ReadWriteOnce volume"
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (wait,) = spec["initContainers"]
    assert wait["command"][:4] == ["mts", "db", "status", "--check"]
    assert urlsplit(container_env(docs, wait, tmp_path)["MTS_DATABASE_URL"]).username == DB_ROLES[service]


@pytest.mark.parametrize("service", SERVICES)
def test_service_pod_is_locked_down_and_probed_on_its_port(service: str) -> None:
    docs = rendered("base")
    deployment = find(docs, "Deployment", f"mts-{service}")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001, "the images' user"
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["image"].rsplit(":", 1)[0].endswith(f"/mts1b-{service}")
    assert "command" not in container, "the container runs its image's CMD (mts serve <service>)"
    assert "args" not in container
    for each in [*spec["initContainers"], container]:
        assert each["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert set(each["resources"]) == {"requests", "limits"}
        assert each["image"] == container["image"]
    port = default_port(service)
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/v1/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/v1/healthz", "port": "http"}
    service_doc = find(docs, "Service", f"mts-{service}")
    assert service_doc["spec"]["ports"] == [
        {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_selectors_pick_exactly_their_pods(target: str) -> None:
    docs = rendered(target)
    templates = list(pod_templates(docs))
    for doc in docs:
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in ("Deployment", "StatefulSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selects(doc["spec"]["selector"], labels), _key(doc)
        if doc["kind"] in ("Service", "PodDisruptionBudget"):
            selector = doc["spec"]["selector"]
            selector = selector if doc["kind"] == "PodDisruptionBudget" else {"matchLabels": selector}
            picked = [
                owner
                for owner, template in templates
                if owner["metadata"]["namespace"] == namespace
                and selects(selector, template["metadata"]["labels"])
            ]
            assert len(picked) == 1, f"{_key(doc)} selects {[_key(p) for p in picked]}"
            if doc["kind"] == "Service":
                ports = {
                    port["name"]
                    for container in pod_spec(picked[0])["containers"]  # type: ignore[index]
                    for port in container["ports"]
                }
                assert {port["targetPort"] for port in doc["spec"]["ports"]} <= ports, _key(doc)
        if doc["kind"] == "HorizontalPodAutoscaler":
            ref = doc["spec"]["scaleTargetRef"]
            assert find(docs, ref["kind"], ref["name"])["metadata"]["namespace"] == namespace
        if doc["kind"] == "NetworkPolicy" and doc["spec"]["podSelector"]:
            release = doc["metadata"].get("annotations", {}).get("mts.io/pods-from-helm-values")
            if release is not None:  # pods rendered by Helm from these values, not by kustomize
                values = yaml.safe_load((K8S / target / release).read_text())
                pod_labels = values["podTemplate"]["merge"]["metadata"]["labels"]
                assert selects(doc["spec"]["podSelector"], pod_labels), f"{_key(doc)} selects no pod"
                continue
            assert any(
                selects(doc["spec"]["podSelector"], template["metadata"]["labels"])
                for owner, template in templates
                if owner["metadata"]["namespace"] == namespace
            ), f"{_key(doc)} selects no pod"


def test_the_marketdata_api_autoscales_on_cpu_and_the_rest_have_fixed_replicas() -> None:
    docs = rendered("base")
    (hpa,) = [doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "mts-marketdata-api",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert "replicas" not in find(docs, "Deployment", "mts-marketdata-api")["spec"], "the HPA owns it"
    assert find(docs, "Deployment", "mts-watchdogs")["spec"]["replicas"] == 1, "one watchdogs consumer"
    for service in SERVICES:
        assert find(docs, "PodDisruptionBudget", f"mts-{service}")["spec"]["maxUnavailable"] == 1


def test_the_migration_job_upgrades_as_the_schema_owner(tmp_path: Path) -> None:
    docs = rendered("base")
    job = find(docs, "Job", "mts-migrate")
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"][:3] == ["mts", "db", "upgrade"]
    assert container["image"].rsplit(":", 1)[0].endswith("/mts1b-migrate")
    assert (REPO / "deploy" / "migrate" / "Dockerfile").is_file()
    url = urlsplit(container_env(docs, container, tmp_path)["MTS_DATABASE_URL"])
    assert (url.username, url.hostname) == ("mts_migrate", "mts-postgres-rw.mts-data.svc")
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


# --- network policy ------------------------------------------------------------------------------


def _policies(docs: list[Doc], labels: Mapping[str, str], direction: str) -> list[Doc]:
    return [
        doc
        for doc in docs
        if doc["kind"] == "NetworkPolicy"
        and direction in doc["spec"]["policyTypes"]
        and selects(doc["spec"]["podSelector"], labels)
    ]


def test_network_policy_denies_by_default() -> None:
    docs = rendered("base")
    deny = find(docs, "NetworkPolicy", "default-deny-all")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("service", SERVICES)
def test_services_reach_only_nats_postgres_and_dns(service: str) -> None:
    docs = rendered("base")
    labels = find(docs, "Deployment", f"mts-{service}")["spec"]["template"]["metadata"]["labels"]
    allowed = set()
    for policy in _policies(docs, labels, "Egress"):
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), (
                f"{policy['metadata']['name']}: an egress rule without 'to' allows anywhere"
            )
            for peer in rule["to"]:
                assert "ipBlock" not in peer, policy["metadata"]["name"]
                namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                target = tuple(sorted(peer["podSelector"]["matchLabels"].items()))
                for port in rule["ports"]:
                    allowed.add((namespace, target, port["protocol"], port["port"]))
    assert allowed == {
        ("kube-system", (("k8s-app", "kube-dns"),), "UDP", 53),
        ("kube-system", (("k8s-app", "kube-dns"),), "TCP", 53),
        ("mts-data", (("mts.io/datastore", "nats"),), "TCP", 4222),
        ("mts-data", (("mts.io/datastore", "postgres"),), "TCP", 5432),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_marketdata_api_takes_traffic_from_anywhere(service: str) -> None:
    docs = rendered("base")
    labels = find(docs, "Deployment", f"mts-{service}")["spec"]["template"]["metadata"]["labels"]
    rules = [
        rule for policy in _policies(docs, labels, "Ingress") for rule in policy["spec"].get("ingress", [])
    ]
    port = default_port(service)
    if service == "marketdata-api":
        assert rules == [{"ports": [{"protocol": "TCP", "port": port}]}]
        return
    assert service in OPERATOR_FACING
    assert rules, f"{service}: the CLI must reach it from the operators' namespaces"
    for rule in rules:
        assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"mts.io/operator-access": "true"}}}]
        assert {"protocol": "TCP", "port": port} in rule["ports"]


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod"])
def test_the_data_stores_carry_the_labels_the_policy_allows(target: str) -> None:
    docs = rendered(target)
    namespaces = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Namespace"}
    assert namespaces == {"mts", "mts-data"}
    if target == "overlays/dev":
        for store, service, port in (("nats", "mts-nats", 4222), ("postgres", "mts-postgres-rw", 5432)):
            svc = find(docs, "Service", service)
            assert svc["metadata"]["namespace"] == "mts-data"
            assert port in [p["port"] for p in svc["spec"]["ports"]]
            (owner,) = [
                owner
                for owner, template in pod_templates(docs)
                if template["metadata"]["labels"].get("mts.io/datastore") == store
            ]
            assert owner["kind"] == "StatefulSet"
            assert owner["spec"]["replicas"] == 1
    else:
        cluster = find(docs, "Cluster", "mts-postgres")
        assert cluster["spec"]["inheritedMetadata"]["labels"] == {"mts.io/datastore": "postgres"}
        values = yaml.safe_load((K8S / "overlays" / "prod" / "nats-values.yaml").read_text())
        assert values["podTemplate"]["merge"]["metadata"]["labels"] == {"mts.io/datastore": "nats"}


# --- overlays ------------------------------------------------------------------------------------


def test_dev_runs_one_replica_of_everything() -> None:
    docs = rendered("overlays/dev")
    for service in ("halt", "audit", "watchdogs", "compliance"):
        assert find(docs, "Deployment", f"mts-{service}")["spec"]["replicas"] == 1
    hpa = find(docs, "HorizontalPodAutoscaler", "mts-marketdata-api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 1)
    assert find(docs, "ConfigMap", "mts-common")["data"]["MTS_NATS_STREAM_REPLICAS"] == "1"


def test_prod_uses_a_three_instance_cloudnativepg_cluster() -> None:
    """The CRD is not in kubernetes-validate's schemas: its fields are checked here instead."""
    docs = rendered("overlays/prod")
    cluster = find(docs, "Cluster", "mts-postgres")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["metadata"]["namespace"] == "mts-data"
    spec = cluster["spec"]
    assert set(spec) <= {
        "instances",
        "imageName",
        "primaryUpdateStrategy",
        "minSyncReplicas",
        "maxSyncReplicas",
        "inheritedMetadata",
        "storage",
        "resources",
        "bootstrap",
        "managed",
    }
    assert spec["instances"] == 3
    assert 1 <= spec["minSyncReplicas"] <= spec["maxSyncReplicas"] < spec["instances"]
    assert re.fullmatch(r"ghcr\.io/cloudnative-pg/postgresql:\d+\.\d+", spec["imageName"])
    assert re.fullmatch(r"\d+Gi", spec["storage"]["size"])
    initdb = spec["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"]) == ("mts", "mts_migrate")
    assert initdb["secret"]["name"]
    roles = {role["name"]: role for role in spec["managed"]["roles"]}
    for role in roles.values():
        assert set(role) <= {"name", "ensure", "login", "inRoles", "passwordSecret"}
        assert role["ensure"] == "present"
    for service, role_name in DB_ROLES.items():
        role = roles[role_name]
        assert role["login"] is True, service
        assert role["passwordSecret"]["name"] == f"mts-postgres-{role_name.removeprefix('mts_')}"
        for group in role["inRoles"]:
            assert group in roles or group.startswith("pg_"), f"{role_name}: unknown group {group}"
    # The base's URLs point at the cluster's read-write service: <cluster name>-rw.
    assert f"{cluster['metadata']['name']}-rw.mts-data.svc" in str(find(docs, "Deployment", "mts-halt"))


def test_prod_nats_is_a_three_node_jetstream_cluster_with_r3_streams() -> None:
    docs = rendered("overlays/prod")
    assert find(docs, "ConfigMap", "mts-common")["data"]["MTS_NATS_STREAM_REPLICAS"] == "3"
    values = yaml.safe_load((K8S / "overlays" / "prod" / "nats-values.yaml").read_text())
    # No route authorization: nodes whose route URLs lack the credentials never form a cluster;
    # the route port is closed to everything but the NATS pods instead.
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    policy = find(docs, "NetworkPolicy", "nats-ingress")
    [routes] = [rule for rule in policy["spec"]["ingress"] if rule["ports"][0]["port"] == 6222]
    assert routes["from"] == [{"podSelector": {"matchLabels": {"mts.io/datastore": "nats"}}}]
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["merge"]["$include"] == "./mts/accounts.conf"
    assert (REPO / "deploy" / "nats" / "accounts.conf").is_file()
    assert "helm install mts-nats nats/nats" in (K8S / "overlays" / "prod" / "nats-values.yaml").read_text()


# --- what operators create -----------------------------------------------------------------------


def _referenced(docs: list[Doc]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    found.add(("ConfigMap", volume["configMap"]["name"]))
                if "secret" in volume:
                    found.add(("Secret", volume["secret"]["secretName"]))
            for container in _containers(doc):
                for source in container.get("envFrom", []):
                    if "secretRef" in source:
                        found.add(("Secret", source["secretRef"]["name"]))
                    else:
                        found.add(("ConfigMap", source["configMapRef"]["name"]))
                for item in container.get("env", []):
                    if "valueFrom" in item:
                        found.add(("Secret", item["valueFrom"]["secretKeyRef"]["name"]))
        if doc["kind"] == "Cluster":
            found.add(("Secret", doc["spec"]["bootstrap"]["initdb"]["secret"]["name"]))
            for role in doc["spec"]["managed"]["roles"]:
                if "passwordSecret" in role:
                    found.add(("Secret", role["passwordSecret"]["name"]))
    return found


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod"])
def test_the_runbook_names_every_secret_and_config_map_operators_create(target: str) -> None:
    docs = rendered(target)
    defined = {_key(doc) for doc in docs}
    to_create = _referenced(docs) - defined
    if target == "overlays/prod":
        values = (K8S / "overlays" / "prod" / "nats-values.yaml").read_text()
        to_create |= {("Secret", "mts-nats-passwords"), ("ConfigMap", "mts-nats-accounts")}
        assert all(name in values for _, name in to_create if "nats" in name)
    runbook = RUNBOOK.read_text()
    missing = sorted(name for _, name in to_create if f"`{name}`" not in runbook)
    assert not missing, f"docs/operations/deploy-kubernetes.md does not name {missing}"
    assert {name for kind, name in to_create if kind == "Secret"} >= {f"mts-{s}-secrets" for s in SERVICES}
