"""What the alert rules, their unit tests, the routing and the dashboards say, for given answers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from harness.monitoring import check_promql, dashboard_queries
from harness.tools import run, tool

ANSWERS = dict(tier="production", deploy_target="on_prem_compose", database="postgresql", has_worker=True,
               metrics="prometheus_grafana", logging="loki", tracing="none", alert_channels=["email", "slack", "pagerduty"],
               on_call=True, slo_availability="99.9", alert_error_rate_pct=2.0, alert_latency_p95_ms=800, docs_level="all")


@pytest.fixture(scope="module")
def project(generate) -> Path:
    return generate(**ANSWERS)


def _rules(project: Path) -> dict[str, dict]:
    groups = yaml.safe_load((project / "monitoring/prometheus/rules/alerts.yml").read_text())["groups"]
    return {r.get("alert") or r["record"]: r for g in groups for r in g["rules"]}


def test_alert_thresholds_come_from_the_answers(project: Path) -> None:
    rules = _rules(project)
    assert rules["ErrorRateHigh"]["expr"].endswith("> 0.02")
    assert rules["ErrorRateCritical"]["expr"].endswith("> 0.1")
    assert rules["LatencyP95High"]["expr"].endswith("> 0.8")
    assert "> 80" in rules["DiskSpaceHigh"]["expr"] and "> 85" in rules["MemoryHigh"]["expr"]
    assert {"AppDown", "HealthCheckFailing", "ServerErrors", "DatabaseConnectionFailures", "CPUHigh", "WorkerQueueBacklog",
            "CertificateExpirySoon", "CertificateExpiryCritical"} <= rules.keys()


def test_every_alert_has_a_severity_and_an_existing_runbook(project: Path) -> None:
    alerts = [r for r in _rules(project).values() if "alert" in r]
    assert {a["labels"]["severity"] for a in alerts} == {"critical", "high", "medium", "low"}
    for alert in alerts:
        assert alert["labels"]["priority"] == {"critical": "P0", "high": "P1", "medium": "P2", "low": "P3"}[alert["labels"]["severity"]]
        assert (project / alert["annotations"]["runbook_url"]).is_file(), alert["alert"]


def test_burn_rate_alerts_follow_the_sre_workbook(project: Path) -> None:
    rules = _rules(project)
    budget = 1 - 0.999
    fast, slow = rules["ErrorBudgetBurnFast"], rules["ErrorBudgetBurnSlow"]
    assert fast["expr"] == f"slo:http_errors:ratio_rate1h > {14.4 * budget:.4f} and slo:http_errors:ratio_rate5m > {14.4 * budget:.4f}"
    assert fast["labels"]["severity"] == "critical"
    assert "ratio_rate6h > 0.006" in slow["expr"] and "ratio_rate30m > 0.006" in slow["expr"]
    assert slow["labels"]["severity"] == "high"
    for window in ("5m", "30m", "1h", "6h"):
        assert f"[{window}]" in rules[f"slo:http_errors:ratio_rate{window}"]["expr"]


def test_unit_tests_cover_burn_rates_firing_and_not_firing(project: Path) -> None:
    tests = yaml.safe_load((project / "monitoring/prometheus/rules/alerts.test.yml").read_text())["tests"]
    checks = [(c["alertname"], bool(c["exp_alerts"])) for t in tests for c in t["alert_rule_test"]]
    for expected in [("ErrorBudgetBurnFast", True), ("ErrorBudgetBurnFast", False), ("ErrorBudgetBurnSlow", True),
                     ("ErrorBudgetBurnSlow", False), ("LatencyP95High", True), ("LatencyP95High", False),
                     ("WorkerQueueBacklog", True), ("DatabaseConnectionFailures", True)]:
        assert expected in checks


def test_promtool_unit_tests_catch_a_wrong_threshold(project: Path, tmp_path: Path) -> None:
    """The generated tests are not vacuous: a burn-rate threshold twice too high makes them fail."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(project / "monitoring/prometheus/rules", rules_dir)
    rules = rules_dir / "alerts.yml"
    rules.write_text(rules.read_text().replace("> 0.0144", "> 0.5"))
    code, out = run([tool("promtool"), "test", "rules", "alerts.test.yml"], cwd=rules_dir)
    assert code != 0 and "ErrorBudgetBurnFast" in out


def _route(project: Path, *labels: str) -> str:
    proc = subprocess.run([tool("amtool"), "config", "routes", "test", "--config.file",
                           str(project / "monitoring/alertmanager/alertmanager.yml"), *labels],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_alertmanager_routes_by_severity(project: Path) -> None:
    config = yaml.safe_load((project / "monitoring/alertmanager/alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    for severity, kinds in {"critical": {"pagerduty_configs"}, "high": {"slack_configs", "email_configs"},
                            "medium": {"slack_configs"}, "low": {"email_configs"}}.items():
        receiver = _route(project, f"severity={severity}", "service=my-app")
        assert receiver == f"my-app-{severity}"
        assert set(receivers[receiver]) - {"name"} == kinds
    low = next(r for r in config["route"]["routes"] if r["receiver"] == "my-app-low")
    assert low["group_interval"] == "24h" and low["repeat_interval"] == "24h"  # daily digest
    critical_inhibits = config["inhibit_rules"][0]
    assert critical_inhibits["source_matchers"] == ['severity="critical"'] and critical_inhibits["equal"] == ["service"]


def test_receiver_secrets_are_files_never_values(project: Path) -> None:
    text = (project / "monitoring/alertmanager/alertmanager.yml").read_text()
    assert "routing_key_file: /etc/alertmanager/secrets/alertmanager-receivers/pagerduty_routing_key" in text
    assert "slack_api_url_file:" in text and "hooks.slack.com" not in text
    compose = yaml.safe_load((project / "monitoring/compose.monitoring.yaml").read_text())
    assert compose["secrets"]["pagerduty_routing_key"] == {"environment": "ALERTMANAGER_PAGERDUTY_ROUTING_KEY"}


def test_dashboard_shows_the_golden_signals(project: Path) -> None:
    board = json.loads((project / "monitoring/grafana/dashboards/service.json").read_text())
    titles = {p["title"] for p in board["panels"]}
    assert {"Request rate", "Error rate (5xx)", "Latency", "CPU saturation", "Worker queue depth", "Database pool"} <= titles
    latency = next(p for p in board["panels"] if p["title"] == "Latency")
    assert [t["legendFormat"] for t in latency["targets"]] == ["p50", "p95", "p99"]
    assert check_promql(dashboard_queries(project / "monitoring/grafana/dashboards/service.json"))[0] == 0
    assert check_promql(["sum(rate(http_requests_total[5m]"])[0] != 0


def test_prometheus_scrapes_the_app_worker_exporters_and_health_endpoints(project: Path) -> None:
    config = yaml.safe_load((project / "monitoring/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"app", "worker", "node", "cadvisor", "blackbox-health", "loki"} <= jobs.keys()
    probes = jobs["blackbox-health"]["static_configs"][0]["targets"]
    assert "https://staging.my-app.example.com/health/ready" in probes and "https://my-app.example.com/health/live" in probes


def test_compose_runs_only_the_chosen_components(project: Path) -> None:
    services = yaml.safe_load((project / "monitoring/compose.monitoring.yaml").read_text())["services"]
    assert {"prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "blackbox-exporter", "loki", "promtail"} == set(services)
    for service in services.values():
        assert ":" in service["image"] and not service["image"].endswith(":latest")
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))


def test_kubernetes_gets_operator_resources_instead_of_compose(generate) -> None:
    project = generate(tier="enterprise", metrics="prometheus_grafana", has_worker=True)
    assert not (project / "monitoring/compose.monitoring.yaml").exists()
    kinds = {yaml.safe_load(p.read_text()).get("kind") for p in (project / "monitoring/kubernetes").glob("*.yaml")}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe", "ConfigMap", "Kustomization"} <= kinds
    rule = yaml.safe_load((project / "monitoring/kubernetes/prometheusrule.yaml").read_text())
    compose_rules = yaml.safe_load((project / "monitoring/prometheus/rules/alerts.yml").read_text())
    assert rule["spec"]["groups"] == compose_rules["groups"]


def test_vendor_monitors_as_code_share_the_thresholds(generate) -> None:
    project = generate(tier="enterprise", alert_error_rate_pct=2.0, alert_latency_p95_ms=750, slo_availability="99.95",
                       uptime="better_uptime", status_page="better_uptime")
    datadog = (project / "monitoring/terraform/datadog.tf").read_text()
    assert ".as_count() * 100 > 2\"" in datadog and "p95:trace.http.request{service:my-app,env:production} > 0.75" in datadog
    assert "target    = 99.95" in datadog and 'long_window(\\"1h\\").short_window(\\"5m\\") > 14.4' in datadog
    uptime = (project / "monitoring/terraform/better-uptime.tf").read_text()
    assert '"https://my-app.example.com/health/ready",' in uptime and 'custom_domain = "status.my-app.example.com"' in uptime
    assert 'backend "s3"' in (project / "monitoring/terraform/backend.tf").read_text()
    assert "sensitive   = true" in (project / "monitoring/terraform/variables.tf").read_text()
    assert not (project / "monitoring/compose.monitoring.yaml").exists()


def test_cloudwatch_alarms_use_the_targets_metrics(generate) -> None:
    project = generate(tier="production", deploy_target="aws_ecs_fargate", preview_environments="none",
                       metrics="cloudwatch", alert_error_rate_pct=1.5, alert_latency_p95_ms=600)
    alarms = (project / "monitoring/terraform/cloudwatch.tf").read_text()
    assert 'namespace   = "AWS/ApplicationELB"' in alarms and 'namespace           = "AWS/ECS"' in alarms
    assert "high     = 1.5" in alarms and "threshold           = 0.6" in alarms  # TargetResponseTime is in seconds
    assert 'aws_cloudwatch_composite_alarm" "burn_fast"' in alarms and "fast_short = { minutes = 5" in alarms
    assert 'variable "load_balancer_arn_suffix"' in (project / "monitoring/terraform/variables.tf").read_text()


def test_datadog_agent_scrapes_the_metric_contract_on_self_hosted_targets(generate) -> None:
    project = generate(tier="enterprise", deploy_target="docker_swarm", metrics="datadog", apm="datadog", has_worker=True)
    agent = yaml.safe_load((project / "monitoring/datadog/compose.datadog.yaml").read_text())["services"]["datadog-agent"]
    assert agent["image"].startswith("gcr.io/datadoghq/agent:7.") and agent["environment"]["DD_APM_ENABLED"] == "true"
    assert agent["environment"]["DD_API_KEY"] == "${DD_API_KEY:?set DD_API_KEY}"
    scrape = yaml.safe_load((project / "monitoring/datadog/conf.d/openmetrics.d/conf.yaml").read_text())["instances"]
    assert "http_requests_total" in scrape[0]["metrics"] and scrape[1]["openmetrics_endpoint"].endswith(":9464/metrics")
