"""The deployment files parse and run every service with the health its probes expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from relay_common.services import SERVICE_MODULES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_compose_runs_every_service() -> None:
    compose = _docs(DEPLOY / "docker-compose.yml")[0]
    commands = {
        name: svc.get("command")
        for name, svc in compose["services"].items()
        if svc.get("image") == "relay:latest"
    }
    assert commands == {name: ["python", "-m", module] for name, module in SERVICE_MODULES.items()}


def test_kubernetes_deploys_every_service_with_probes() -> None:
    deployments = {
        d["metadata"]["name"]: d
        for f in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for d in _docs(f)
        if d.get("kind") == "Deployment"
    }
    assert set(deployments) == set(SERVICE_MODULES)
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", SERVICE_MODULES[name]]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    kustomization = _docs(DEPLOY / "k8s" / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).exists()
