"""What the operations documents and schedules say for given answers: diagrams, readiness, runbooks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import preset
from harness.mermaid import mermaid_blocks, parse_errors

from extensions.catalog import load_catalog
from extensions.docs_model import project_for
from extensions.recommend import effective_answers


def _diagrams(project: Path) -> list[str]:
    return mermaid_blocks((project / "docs/architecture.md").read_text())


def test_architecture_has_the_four_seed_formats(generate) -> None:
    blocks = _diagrams(generate(tier="enterprise"))
    assert [b.splitlines()[0] for b in blocks] == ["graph TD", "flowchart LR", "graph TB", "graph TD"]
    assert "Amazon RDS for PostgreSQL" in blocks[0] and "ElastiCache for Redis" in blocks[0]
    assert "|1. HTTPS request|" in blocks[1] and "Enqueue job" in blocks[1]
    assert "Amazon ECR" in blocks[2] and "AWS Secrets Manager" in blocks[2]


def test_diagrams_draw_only_chosen_components(generate) -> None:
    project = generate(tier="production", deploy_target="fly_io", database="none", cache="none", has_worker=False,
                       metrics="platform", logging="cloud_native", tracing="none", apm="none", error_tracking="none",
                       uptime="none", docs_level="all")
    text = "\n".join(_diagrams(project))
    for absent in ("Redis", "Worker", "DB[", "Backups", "Prometheus", "Grafana", "Sentry", "Loki", "Jaeger", "AWS"):
        assert absent not in text, absent
    assert "Fly.io Anycast proxy" in text


def test_monitoring_diagram_follows_the_observability_answers(generate) -> None:
    project = generate(tier="production", metrics="prometheus_grafana", logging="loki", tracing="tempo", apm="opentelemetry",
                       alert_channels=["email", "opsgenie"], docs_level="all")
    monitoring = _diagrams(project)[3]
    assert "Prometheus" in monitoring and "Grafana Loki" in monitoring and "OpenTelemetry Collector" in monitoring
    assert "Opsgenie" in monitoring and "Slack" not in monitoring and "Elasticsearch" not in monitoring


@pytest.mark.parametrize(("tier", "level", "score"), [("mvp", 2, "3.2/10"), ("production", 3, "8.0/10"), ("enterprise", 4, "10.0/10")])
def test_readiness_report_scores_the_answers(generate, tier: str, level: int, score: str) -> None:
    text = (generate(**preset(tier)) / "docs/production-readiness.md").read_text()
    assert f"Readiness score: **{score}**" in text
    assert re.search(rf"Maturity level: \*\*{level}, ", text)
    if level < 4:
        next_section = text.split("## To reach the next level")[1].split("##")[0]
        assert next_section.count("\n- ") >= 1
    if tier == "mvp":
        assert "- Infrastructure as code: choose Terraform or OpenTofu." in text


def test_runbooks_follow_the_stack(generate) -> None:
    project = generate(tier="production", deploy_target="heroku", database="postgresql", has_worker=True, docs_level="critical")
    runbooks = {p.stem for p in (project / "docs/runbooks").glob("*.md")}
    assert runbooks == {"deployment", "rollback", "incident-response", "service-down", "high-resource-usage", "database-failure",
                        "restore-from-backup", "worker-backlog", "certificate-expiry", "disaster-recovery"}
    assert "heroku releases:rollback -a my-app-production" in (project / "docs/runbooks/rollback.md").read_text()
    incident = (project / "docs/runbooks/incident-response.md").read_text()
    assert all(f"| P{n} |" in incident for n in range(4))
    assert not (project / "docs/architecture.md").exists()  # critical docs only


def test_no_runbooks_when_docs_are_deferred(generate) -> None:
    project = generate(tier="production", metrics="prometheus_grafana", docs_level="later", database="none", has_worker=False)
    assert not (project / "docs/runbooks").exists()
    assert "runbook_url: docs/operations.md" in (project / "monitoring/prometheus/rules/alerts.yml").read_text()
    assert not (project / "scripts/backup-database.sh").exists()


def test_observability_doc_states_slo_budget_and_routing(generate) -> None:
    text = (generate(tier="production", metrics="prometheus_grafana", slo_availability="99.95",
                     alert_channels=["email", "slack", "opsgenie"]) / "docs/observability.md").read_text()
    assert "**99.95%**" in text and "**21.6 minutes**" in text
    assert "| ErrorBudgetBurnFast | 1h | 5m | 14.4x | 0.0072 | 2% | critical |" in text
    assert "| critical | P0 | opsgenie |" in text and "| low | P3 | email | daily digest |" in text
    assert "`http_request_duration_seconds`" in text and "`worker_queue_depth`" in text


@pytest.mark.parametrize(("answers", "expected"), [
    (dict(deploy_target="on_prem_compose", backup_strategy="weekly", rpo_minutes=10080), "OnCalendar=Sun *-*-* 03:00:00 UTC"),
    (dict(deploy_target="nomad", backup_strategy="continuous", rpo_minutes=60), "OnCalendar=*-*-* *:00:00 UTC"),
])
def test_self_hosted_backups_run_from_systemd_timers(generate, answers: dict, expected: str) -> None:
    project = generate(tier="production", database="postgresql", **answers)
    assert expected in (project / "ops/systemd/my-app-backup.timer").read_text()
    assert "ExecStart=/opt/my-app/scripts/backup-database.sh" in (project / "ops/systemd/my-app-backup.service").read_text()


def test_platform_backups_run_from_cron_and_kubernetes_from_the_cluster(generate) -> None:
    cron = generate(tier="production", deploy_target="render", database="mysql") / "ops/cron/backup.crontab"
    assert "0 2 * * * cd /opt/my-app" in cron.read_text() and "scripts/restore-drill.sh" in cron.read_text()
    kubernetes = generate(tier="enterprise")
    assert not (kubernetes / "ops").exists() and (kubernetes / "scripts/backup-database.sh").exists()


@pytest.mark.parametrize(("answers", "target"), [
    ({**preset("production"), "deploy_target": "aws_ecs_fargate", "container_registry": "ecr",
      "secrets_manager": "aws_secrets_manager", "preview_environments": "none"}, "s3://my-app-backups-production/postgresql"),
    (preset("production"), "gs://my-app-backups-production/postgresql"),
])
def test_backup_variables_reach_the_configuration(answers: dict, target: str) -> None:
    catalog = load_catalog()
    variables = {v.name: v for v in project_for(catalog, effective_answers(catalog, {**answers, "project_name": "My App"})).variables}
    assert variables["BACKUP_TARGET"].value_for("production") == target
    assert variables["BACKUP_ENCRYPTION_KEY"].secret
    assert variables["ALERTMANAGER_OPSGENIE_API_KEY"].secret and variables["GRAFANA_ADMIN_PASSWORD"].secret


def test_mermaid_check_rejects_a_broken_diagram() -> None:
    errors = parse_errors([{"file": "ok.md", "index": 1, "source": "graph TD\n    A[\"API\"] -->|HTTPS| B[(\"DB\")]\n"},
                           {"file": "bad.md", "index": 1, "source": "graph TD\n    A[\"API\" --> B\n"}])
    assert [e["file"] for e in errors] == ["bad.md"]
