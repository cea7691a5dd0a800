"""The deployment files, read as data: the Kubernetes manifests validated against the API's
schemas with kubernetes-validate (no cluster is available to apply them), and the compose file
checked for what docs/deploy.md promises. `make deploy-test` runs the compose file for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from earmark.settings import registry

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s" / "base"
COMPOSE = ROOT / "deploy" / "compose.yaml"
KUBERNETES = "1.30.0"
SETTINGS = {info.env_var for info in registry()} | {
    info.env_var + "_FILE" for info in registry() if info.secret
}


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def resources() -> list[dict[str, Any]]:
    return [
        doc
        for name in kustomization()["resources"]
        for doc in yaml.safe_load_all((K8S / name).read_text())
        if doc
    ]


def test_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize(
    "resource", resources(), ids=lambda r: f"{r['kind']}/{r['metadata']['name']}"
)
def test_manifest_is_valid_for_kubernetes(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, KUBERNETES, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    """The validation has teeth: a probe port of the wrong type and an unknown field fail."""
    (deployment,) = [
        r
        for r in resources()
        if r["metadata"]["name"] == "earmark-api" and r["kind"] == "Deployment"
    ]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["port"] = 8.5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    container["readinessProbe"]["httpGet"]["port"] = "http"
    container["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def _workloads() -> list[dict[str, Any]]:
    return [r for r in resources() if r["kind"] in ("Deployment", "StatefulSet", "Job")]


def test_workloads_are_bounded_probed_and_configured() -> None:
    config_maps = {r["metadata"]["name"]: r for r in resources() if r["kind"] == "ConfigMap"}
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert {"requests", "limits"} <= set(container["resources"]), workload["metadata"]
            if container.get("ports"):
                assert "readinessProbe" in container
                assert "livenessProbe" in container
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] == "earmark-secrets"
    for config in config_maps.values():
        unknown = set(config["data"]) - SETTINGS
        assert not unknown, f"not Earmark settings: {unknown}"


def test_the_api_has_a_disruption_budget_and_the_index_a_volume() -> None:
    (budget,) = [r for r in resources() if r["kind"] == "PodDisruptionBudget"]
    (api,) = [r for r in _workloads() if r["metadata"]["name"] == "earmark-api"]
    assert budget["spec"]["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]
    (index,) = [r for r in _workloads() if r["kind"] == "StatefulSet"]
    assert index["spec"]["volumeClaimTemplates"]


def test_compose_publishes_only_http_entry_points_on_localhost() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == {"api1", "api2", "web", "catalog", "prometheus"}
    for ports in published.values():
        for port in ports:
            assert port.startswith("${EARMARK_BIND:-127.0.0.1}:"), port


def test_compose_settings_are_earmark_settings_and_secrets_are_declared() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    declared = set(compose["secrets"])
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        earmark = {k for k in env if k.startswith("EARMARK_")}
        assert earmark <= SETTINGS, (name, earmark - SETTINGS)
        assert set(service.get("secrets", [])) <= declared, name
        for key, value in env.items():
            if key.endswith("_FILE"):
                assert value.rsplit("/", 1)[1] in service["secrets"], (name, key)
        assert "restart" in service, name
        assert "mem_limit" in service or "profiles" in service, name
