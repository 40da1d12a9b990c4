"""The observability and operations files validate with their real tools across a pairwise matrix.

Each case generates a project and runs the harness checks that own monitoring/, the backup
scripts and schedules, the runbooks and the Mermaid diagrams (promtool check/test, amtool,
compose config, Grafana PromQL, kubernetes-validate + Prometheus Operator schemas, kustomize, the kept
schemas of the OpenTelemetry Collector/Loki/Promtail/Tempo/Fluent Bit configurations, Terraform checks,
systemd-analyze, shellcheck, yamllint, pymarkdown, mermaid).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import uncovered, validate_tree

OWN_CHECKS = {"promtool-rules", "promtool-test", "promtool-config", "amtool", "compose-monitoring", "grafana-dashboards",
              "k8s-monitoring", "kustomize-monitoring", "terraform-monitoring", "monitoring-configs", "systemd", "crontab",
              "mermaid"}
SHARED_CHECKS = {"yamllint", "shell", "pymarkdown"}
OWN_PATHS = ("monitoring/", "scripts/backup-database.sh", "scripts/restore-database.sh", "scripts/restore-drill.sh", "ops/",
             "docs/runbooks/", "docs/observability.md", "docs/architecture.md", "docs/production-readiness.md")

# Pairwise over the answers that change these files (deploy target x database x worker x logs x
# tracing x channels x SLO x docs level); every value of each appears at least once.
CASES: dict[str, dict[str, Any]] = {
    "compose-loki-tempo-postgres": dict(tier="production", deploy_target="on_prem_compose", database="postgresql", has_worker=True,
                                        metrics="prometheus_grafana", logging="loki", tracing="tempo", apm="opentelemetry",
                                        alert_channels=["email", "slack", "pagerduty"], on_call=True, slo_availability="99.9",
                                        docs_level="all", uptime="better_uptime", status_page="better_uptime"),
    "ecs-elk-jaeger-mysql": dict(tier="production", database="mysql", has_worker=False, metrics="prometheus_grafana", logging="elk",
                                 tracing="jaeger", alert_channels=["teams", "discord", "opsgenie", "sms"], slo_availability="99.99",
                                 docs_level="critical", backup_strategy="continuous", rpo_minutes=60),
    "kubernetes-prometheus-mongodb": dict(tier="enterprise", database="mongodb", metrics="prometheus_grafana", logging="loki",
                                          tracing="none", alert_channels=["email", "slack", "opsgenie"], slo_availability="99.0",
                                          docs_level="all"),
    "fly-platform-no-db": dict(tier="mvp", deploy_target="fly_io", database="none", has_worker=True, cache="redis",
                               docs_level="all", slo_availability="99.5"),
    "enterprise-datadog-terraform": dict(tier="enterprise", uptime="better_uptime", status_page="better_uptime"),
    "swarm-datadog-agent": dict(tier="enterprise", deploy_target="docker_swarm", metrics="datadog", apm="datadog", logging="datadog",
                                tracing="datadog", has_worker=True),
    "app-runner-cloudwatch": dict(tier="production", deploy_target="aws_app_runner", metrics="cloudwatch", apm="cloudwatch",
                                  tracing="xray", uptime="none", alert_channels=["email", "slack"], on_call=False),
    "cloud-run-new-relic-checkly": dict(tier="production", deploy_target="gcp_cloud_run", container_registry="artifact_registry",
                                        secrets_manager="gcp_secret_manager", apm="new_relic", metrics="platform", uptime="checkly",
                                        iac_tool="opentofu"),
    "pingdom-instatus-sentry": dict(tier="production", uptime="pingdom", status_page="instatus", error_tracking="sentry",
                                    apm="sentry_performance", alert_channels=["teams", "discord", "opsgenie", "email"],
                                    on_call=True, has_worker=True, database="postgresql"),
    "uptimerobot-statuspage-sentry": dict(tier="mvp", iac_tool="terraform", uptime="uptimerobot", status_page="statuspage_io",
                                          error_tracking="sentry", alert_channels=["slack", "sms"], database="mysql"),
    "swarm-later-docs": dict(tier="production", deploy_target="docker_swarm", metrics="prometheus_grafana", logging="console",
                             tracing="none", apm="none", docs_level="later", alert_channels=["email"], on_call=False,
                             backup_strategy="weekly", rpo_minutes=10080, rto_minutes=480),
}


def own_findings(project: Path) -> list[str]:
    findings = validate_tree(project, OWN_CHECKS | SHARED_CHECKS)
    return [str(f) for f in findings
            if f.check in OWN_CHECKS or f.check == "mermaid" or any(p in f.path or p in f.message for p in OWN_PATHS)]


@pytest.mark.parametrize("case", CASES)
def test_generated_operations_files_pass_their_validators(generate, case: str) -> None:
    project = generate(**CASES[case])
    problems = own_findings(project)
    assert not problems, "\n".join(problems)
    assert not [f for f in uncovered(project) if f.startswith(OWN_PATHS)]
