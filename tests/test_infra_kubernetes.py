"""Kubernetes: every packaging x ingress x mesh pair, validated with kubectl kustomize, Helm and the schemas."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answers_of, assert_valid, preset

# Pairwise cover of packaging x ingress x mesh (istio_gateway needs istio), rotating the
# strategies, distributions, secrets managers and GitOps controllers through the cases.
CASES: list[dict[str, Any]] = [
    {"k8s_packaging": "helm", "k8s_ingress": "nginx", "k8s_service_mesh": "none", "deployment_strategy": "rolling",
     "k8s_distribution": "eks", "secrets_manager": "aws_secrets_manager", "gitops": "none", "container_registry": "ecr"},
    {"k8s_packaging": "helm", "k8s_ingress": "traefik", "k8s_service_mesh": "linkerd", "deployment_strategy": "blue_green",
     "k8s_distribution": "gke", "secrets_manager": "gcp_secret_manager", "gitops": "argocd", "container_registry": "artifact_registry"},
    {"k8s_packaging": "helm", "k8s_ingress": "istio_gateway", "k8s_service_mesh": "istio", "deployment_strategy": "canary",
     "k8s_distribution": "aks", "secrets_manager": "azure_key_vault", "gitops": "flux", "container_registry": "acr",
     "metrics": "prometheus_grafana", "apm": "opentelemetry", "tracing": "tempo"},
    {"k8s_packaging": "helm", "k8s_ingress": "kong", "k8s_service_mesh": "cilium", "deployment_strategy": "ab_testing",
     "k8s_distribution": "self_managed", "secrets_manager": "vault", "gitops": "none", "container_registry": "ghcr",
     "database": "mysql"},
    {"k8s_packaging": "helm", "k8s_ingress": "kong", "k8s_service_mesh": "istio", "deployment_strategy": "canary",
     "k8s_distribution": "eks", "secrets_manager": "doppler", "gitops": "argocd", "container_registry": "ecr"},
    {"k8s_packaging": "helm", "k8s_ingress": "nginx", "k8s_service_mesh": "linkerd", "deployment_strategy": "canary",
     "k8s_distribution": "self_managed", "secrets_manager": "sops", "gitops": "flux", "container_registry": "dockerhub"},
    {"k8s_packaging": "kustomize", "k8s_ingress": "nginx", "k8s_service_mesh": "istio", "deployment_strategy": "ab_testing",
     "k8s_distribution": "eks", "secrets_manager": "aws_secrets_manager", "gitops": "argocd", "container_registry": "ecr"},
    {"k8s_packaging": "kustomize", "k8s_ingress": "traefik", "k8s_service_mesh": "cilium", "deployment_strategy": "canary",
     "k8s_distribution": "gke", "secrets_manager": "doppler", "gitops": "flux", "container_registry": "artifact_registry"},
    {"k8s_packaging": "kustomize", "k8s_ingress": "istio_gateway", "k8s_service_mesh": "istio", "deployment_strategy": "blue_green",
     "k8s_distribution": "self_managed", "secrets_manager": "sops", "gitops": "none", "container_registry": "ghcr"},
    {"k8s_packaging": "kustomize", "k8s_ingress": "kong", "k8s_service_mesh": "linkerd", "deployment_strategy": "rolling",
     "k8s_distribution": "aks", "secrets_manager": "onepassword", "gitops": "argocd", "container_registry": "acr"},
    {"k8s_packaging": "kustomize", "k8s_ingress": "kong", "k8s_service_mesh": "none", "deployment_strategy": "rolling",
     "k8s_distribution": "gke", "secrets_manager": "vault", "gitops": "none", "container_registry": "ghcr",
     "database": "mongodb"},
    {"k8s_packaging": "raw", "k8s_ingress": "nginx", "k8s_service_mesh": "cilium", "deployment_strategy": "blue_green",
     "k8s_distribution": "self_managed", "secrets_manager": "env_files", "gitops": "flux", "container_registry": "ghcr",
     "database": "mongodb"},
    {"k8s_packaging": "raw", "k8s_ingress": "traefik", "k8s_service_mesh": "none", "deployment_strategy": "canary",
     "k8s_distribution": "eks", "secrets_manager": "aws_secrets_manager", "gitops": "none", "container_registry": "ecr"},
    {"k8s_packaging": "raw", "k8s_ingress": "istio_gateway", "k8s_service_mesh": "istio", "deployment_strategy": "rolling",
     "k8s_distribution": "gke", "secrets_manager": "gcp_secret_manager", "gitops": "argocd", "container_registry": "artifact_registry"},
    {"k8s_packaging": "raw", "k8s_ingress": "kong", "k8s_service_mesh": "linkerd", "deployment_strategy": "ab_testing",
     "k8s_distribution": "aks", "secrets_manager": "azure_key_vault", "gitops": "none", "container_registry": "acr",
     "database": "postgresql"},
    {"k8s_packaging": "raw", "k8s_ingress": "traefik", "k8s_service_mesh": "istio", "deployment_strategy": "canary",
     "k8s_distribution": "self_managed", "secrets_manager": "onepassword", "gitops": "flux", "container_registry": "dockerhub"},
]
CHECKS = {"kubernetes-manifests", "helm", "gitops", "yamllint"}


def _id(case: dict[str, Any]) -> str:
    return "-".join(str(case[k]) for k in ("k8s_packaging", "k8s_ingress", "k8s_service_mesh", "deployment_strategy"))


def _generate(generate, case: dict[str, Any]) -> Path:
    """The enterprise preset (worker, autoscaling, metric-based rollback) with the case's Kubernetes choices.

    Every fourth case keeps all five environments; the others deploy staging and production only.
    """
    envs = {} if CASES.index(case) % 4 == 0 else {"environments": ["development", "staging", "production"]}
    answers = {**preset("enterprise"), "deploy_target": "kubernetes", **envs, **case}
    return generate(**answers)


def manifests(project: Path, env: str) -> list[dict[str, Any]]:
    """The resources one environment receives, whatever the packaging."""
    a = answers_of(project)
    if a["k8s_packaging"] == "raw":
        text = (project / "k8s" / env / "manifests.yaml").read_text()
    elif a["k8s_packaging"] == "kustomize":
        text = subprocess.run(["kubectl", "kustomize", str(project / "k8s" / "overlays" / env)],
                              capture_output=True, text=True, check=True).stdout
    else:
        from helm_python import Chart

        chart = project / "helm" / a["project_slug"]
        values = yaml.safe_load((chart / f"values-{env}.yaml").read_text())
        rendered = Chart.load(str(chart)).render(values, name=a["project_slug"])
        text = "\n---\n".join(t for name, t in rendered.items() if name.endswith(".yaml"))
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_kubernetes_files_pass_their_validators(generate, case):
    assert_valid(_generate(generate, case), only=CHECKS)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_production_manifests_follow_the_answers(generate, case):
    project = _generate(generate, case)
    a = answers_of(project)
    slug = a["project_slug"]
    docs = manifests(project, "production")
    kind = "Deployment" if a["deployment_strategy"] == "rolling" else "Rollout"
    web = next(d for d in by_kind(docs, kind) if d["metadata"]["name"] == slug)
    pod = web["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert any(d["metadata"]["name"] == f"{slug}-worker" for d in by_kind(docs, "Deployment"))
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[0]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (a["autoscale_min"], a["autoscale_max"])
    assert hpa["spec"]["scaleTargetRef"]["kind"] == kind
    assert by_kind(docs, "PodDisruptionBudget")
    deny = [p for p in by_kind(docs, "NetworkPolicy") if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    host = a["domain"]
    if a["k8s_ingress"] == "istio_gateway":
        assert by_kind(docs, "VirtualService")[0]["spec"]["hosts"] == [host]
        cert = by_kind(docs, "Certificate")[0]
        assert cert["metadata"]["namespace"] == "istio-system" and cert["spec"]["dnsNames"] == [host]
    else:
        ingress = by_kind(docs, "Ingress")[0]
        assert ingress["spec"]["ingressClassName"] == a["k8s_ingress"]
        assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
        assert ingress["spec"]["rules"][0]["host"] == host and ingress["spec"]["tls"][0]["hosts"] == [host]
    mesh = a["k8s_service_mesh"]
    assert bool(by_kind(docs, "PeerAuthentication")) is (mesh == "istio")
    assert bool(by_kind(docs, "CiliumNetworkPolicy")) is (mesh == "cilium")
    external = a["secrets_manager"] not in ("env_files", "sops")
    assert bool(by_kind(docs, "ExternalSecret")) is external
    in_cluster_db = a["k8s_distribution"] == "self_managed" and a["database"] != "none"
    assert bool(by_kind(docs, "CronJob")) is in_cluster_db


@pytest.mark.parametrize("case", [c for c in CASES if c["deployment_strategy"] != "rolling"], ids=_id)
def test_progressive_delivery_uses_argo_rollouts(generate, case):
    project = _generate(generate, case)
    a = answers_of(project)
    docs = manifests(project, "staging")
    strategy = by_kind(docs, "Rollout")[0]["spec"]["strategy"]
    analysis = by_kind(docs, "AnalysisTemplate")
    assert analysis, "metric_based rollback needs an AnalysisTemplate"
    metric = analysis[0]["spec"]["metrics"][0]
    assert str(a["rollback_error_rate_pct"] / 100) in metric["successCondition"] or "cloudWatch" in metric["provider"]
    if a["deployment_strategy"] == "blue_green":
        assert strategy["blueGreen"]["autoPromotionEnabled"] is False
        assert strategy["blueGreen"]["prePromotionAnalysis"]["templates"][0]["templateName"].endswith("-error-rate")
    elif a["deployment_strategy"] == "canary":
        weights = [s["setWeight"] for s in strategy["canary"]["steps"] if "setWeight" in s]
        assert weights == [w for w in a["canary_steps"] if w < 100]
    else:
        assert {"pause": {}} in strategy["canary"]["steps"]
    routing = strategy.get("canary", {}).get("trafficRouting", {})
    if a["k8s_ingress"] == "istio_gateway" and "canary" in strategy:
        assert routing["istio"]["virtualService"]["name"] == a["project_slug"]
    elif a["k8s_ingress"] == "nginx" and "canary" in strategy:
        assert routing["nginx"]["stableIngress"] == a["project_slug"]


def test_every_environment_gets_its_own_host_and_size(generate):
    project = _generate(generate, CASES[6])  # kustomize
    a = answers_of(project)
    for env in a["environments"]:
        docs = manifests(project, env)
        host = a["domain"] if env == "production" else f"{env}.{a['domain']}"
        assert by_kind(docs, "Ingress")[0]["spec"]["rules"][0]["host"] == host
        assert by_kind(docs, "ConfigMap")[0]["data"]["APP_ENV"] == env
        assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {f"{a['project_slug']}-{env}"}


def test_gitops_syncs_automatically_only_where_auto_deploy_allows(generate):
    project = _generate(generate, CASES[1])  # argocd, staging_auto_production_manual
    docs = [d for d in yaml.safe_load_all((project / "gitops" / "argocd" / "applications.yaml").read_text()) if d]
    apps = {d["metadata"]["name"].rsplit("-", 1)[1]: d for d in by_kind(docs, "Application")}
    assert set(apps) == set(answers_of(project)["environments"])
    assert "automated" in apps["staging"]["spec"]["syncPolicy"]
    assert "automated" not in apps["production"]["spec"]["syncPolicy"]
    assert apps["production"]["spec"]["source"]["helm"]["valueFiles"] == ["values-production.yaml"]
