"""The areas of the template agree with each other in the generated project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

KUBERNETES = {"tier": "enterprise", "deploy_target": "kubernetes", "k8s_packaging": "raw", "metrics": "prometheus_grafana",
              "apm": "opentelemetry", "tracing": "tempo", "logging": "loki", "has_worker": True}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_prometheus_can_scrape_what_the_monitors_select(generate) -> None:
    project = generate(**KUBERNETES)
    manifests = documents(project / "k8s" / "production" / "manifests.yaml")
    monitor = documents(project / "monitoring" / "kubernetes" / "podmonitor.yaml")[0]
    port_name = monitor["spec"]["podMetricsEndpoints"][0]["port"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    workers = [d for d in manifests if d["kind"] in ("Deployment", "Rollout")
               and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
    assert workers, "the PodMonitor selects no workload"
    ports = {p["name"]: p["containerPort"] for c in workers[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    assert port_name in ports, f"worker pods expose no port named {port_name}"
    policies = [d for d in manifests if d["kind"] == "NetworkPolicy"]
    allowed = [
        p for p in policies
        if selector.items() <= p["spec"]["podSelector"].get("matchLabels", {}).items()
        and any(port["port"] == ports[port_name] for rule in p["spec"].get("ingress", []) for port in rule.get("ports", []))
    ]
    assert allowed, "a default-deny NetworkPolicy blocks the metrics port"


def test_operations_guide_names_the_scripts_ci_runs(generate) -> None:
    project = generate(tier="production", mode="full", db_migrations="expand_contract", rollback_automation="smoke_test")
    workflow = (project / ".github" / "workflows" / "deploy-environment.yml").read_text(encoding="utf-8")
    for script in ("scripts/deploy.sh", "scripts/smoke-test.sh", "scripts/rollback.sh", "scripts/migrate.sh"):
        assert script in workflow
        assert (project / script).is_file(), f"CI runs {script}, which is not generated"


def test_datadog_agent_on_kubernetes(generate) -> None:
    from conftest import assert_valid, preset

    project = generate(**preset("enterprise"))  # Kubernetes with Datadog APM, metrics and tracing
    values = yaml.safe_load((project / "monitoring" / "datadog-kubernetes" / "values.yaml").read_text(encoding="utf-8"))
    assert values["datadog"]["apiKeyExistingSecret"] == "datadog-secret"
    assert values["datadog"]["apm"]["portEnabled"] is True
    assert values["datadog"]["logs"]["enabled"] is False, "enterprise logs go to ELK"
    assert values["datadog"]["prometheusScrape"]["enabled"] is True
    assert values["clusterAgent"]["enabled"] is True
    assert "datadog-kubernetes/values.yaml" in (project / "docs" / "observability.md").read_text(encoding="utf-8")
    assert_valid(project, only={"yamllint", "pymarkdown", "markdown-structure"})
