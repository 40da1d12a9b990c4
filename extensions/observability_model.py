"""Derived values for the observability and operations templates.

Templates call ``obs()`` once and read plain attributes: the alert catalogue (one list
feeds the Prometheus rules, their unit tests, the PrometheusRule and the docs), the
severity routing, the SLO arithmetic, backup retention tiers and the runbook index.
Images and tool names come from ``catalog/facts/observability.yml``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from .catalog import Catalog, load_catalog
from .docs_model import environment_url

SEVERITIES = ("critical", "high", "medium", "low")
# Incident priority of each alert severity (docs/runbooks/incident-response.md).
PRIORITY = {"critical": "P0", "high": "P1", "medium": "P2", "low": "P3"}
ON_CALL_CHANNELS = ("pagerduty", "opsgenie")
CHAT_CHANNELS = ("slack", "teams", "discord")
HEALTH_PATHS = ("/health", "/health/ready", "/health/live")
# Histogram buckets (seconds) every service exposes; the p95 threshold is always added.
BASE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# SRE workbook multi-window multi-burn-rate pairs: (name, long, short, burn rate, for, severity).
BURN_WINDOWS = (("fast", "1h", "5m", 14.4, "2m", "critical"), ("slow", "6h", "30m", 6.0, "15m", "high"))
WORKER_METRICS_PORT = 9464
DISK_PCT, MEMORY_PCT, CPU_PCT = 80, 85, 80
QUEUE_BACKLOG = 100
CERT_WARN_DAYS, CERT_CRITICAL_DAYS = 30, 7
# monitoring/terraform part -> the (question, option) whose catalog facts describe its Terraform.
TF_PART_SOURCES = {
    "datadog": ("metrics", "datadog"), "newrelic": ("apm", "new_relic"), "cloudwatch": ("metrics", "cloudwatch"),
    "better_uptime": ("uptime", "better_uptime"), "checkly": ("uptime", "checkly"), "uptimerobot": ("uptime", "uptimerobot"),
    "pingdom": ("uptime", "pingdom"), "statuspage_io": ("status_page", "statuspage_io"), "instatus": ("status_page", "instatus"),
    "sentry": ("error_tracking", "sentry"),
}


@dataclass(frozen=True)
class Alert:
    """One alert rule: PromQL, severity and the runbook that handles it."""

    name: str
    severity: str
    expr: str
    duration: str
    summary: str
    description: str
    runbook: str

    @property
    def priority(self) -> str:
        return PRIORITY[self.severity]


@dataclass(frozen=True)
class ReadinessItem:
    """One checklist item: the maturity level that needs it, and how to get it from the answers."""

    level: int
    area: str
    title: str
    met: bool
    how: str


@dataclass(frozen=True)
class Runbook:
    file: str
    title: str


def _number(value: float) -> str:
    """PromQL/YAML literal without float noise (0.005, 14.4, 1)."""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class Observability:
    answers: Mapping[str, Any]
    catalog: Catalog

    def _a(self, name: str) -> Any:
        return self.answers[name]

    # --- what is deployed ---
    @property
    def slug(self) -> str:
        return str(self._a("project_slug"))

    @property
    def prometheus(self) -> bool:
        return self._a("metrics") == "prometheus_grafana"

    @property
    def kubernetes(self) -> bool:
        return self._a("deploy_target") == "kubernetes"

    @property
    def compose(self) -> bool:
        """The self-hosted stack runs with docker compose (Kubernetes uses kube-prometheus-stack)."""
        return self.prometheus and not self.kubernetes

    @property
    def worker(self) -> bool:
        return bool(self._a("has_worker"))

    @property
    def database(self) -> str:
        return str(self._a("database"))

    @property
    def loki(self) -> bool:
        return self._a("logging") == "loki"

    @property
    def elk(self) -> bool:
        return self._a("logging") == "elk"

    @property
    def tracing_backend(self) -> str:
        """Self-hosted trace store: tempo, jaeger or none."""
        return str(self._a("tracing")) if self._a("tracing") in ("tempo", "jaeger") else "none"

    @property
    def otel_collector(self) -> bool:
        return self._a("apm") == "opentelemetry" or self.tracing_backend != "none"

    @property
    def images(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for question in ("metrics", "logging", "tracing"):
            found.update(self.catalog.fact(question, self._a(question), "images", {}) or {})
        if self.otel_collector:
            found.update(self.catalog.fact("apm", "opentelemetry", "images"))
        return found

    @property
    def chart_version(self) -> str:
        return str(self.catalog.fact("metrics", "prometheus_grafana", "kube_prometheus_stack_chart"))

    @property
    def app_port(self) -> int:
        return int(self._a("app_port"))

    @property
    def worker_port(self) -> int:
        return WORKER_METRICS_PORT

    @property
    def health_paths(self) -> tuple[str, ...]:
        return HEALTH_PATHS

    @property
    def self_hosted(self) -> bool:
        """The app runs on a host the monitoring stack shares (docker compose, swarm, nomad)."""
        return self._a("deploy_target") in ("docker_swarm", "nomad", "on_prem_compose")

    @property
    def remote_hosts(self) -> dict[str, str]:
        """Environment -> public host Prometheus scrapes over HTTPS (platforms it cannot share a host with)."""
        if self.self_hosted:
            return {}
        return {env: environment_url(self.answers, env).removeprefix("https://")
                for env in self._a("environments") if env != "development"}

    @property
    def k8s_namespaces(self) -> list[str]:
        """Namespaces of the deployed environments (the infrastructure's <slug>-<environment>)."""
        return [f"{self.slug}-{env}" for env in self._a("environments") if env != "development"]

    @property
    def metrics_path(self) -> str:
        return "/metrics"

    @property
    def probe_urls(self) -> list[str]:
        """Synthetic checks: every health endpoint of every deployed environment."""
        envs = [e for e in self._a("environments") if e != "development"]
        return [environment_url(self.answers, env) + path for env in envs for path in HEALTH_PATHS]

    # --- SLO arithmetic ---
    @property
    def slo_percent(self) -> str:
        return str(self._a("slo_availability"))

    @property
    def error_budget(self) -> float:
        return round(1 - float(self.slo_percent) / 100, 6)

    @property
    def budget_minutes(self) -> float:
        return round(30 * 24 * 60 * self.error_budget, 2)

    def burn_threshold(self, rate: float) -> str:
        return _number(round(rate * self.error_budget, 8))

    @property
    def burn_windows(self) -> tuple[tuple[str, str, str, float, str, str], ...]:
        return BURN_WINDOWS

    def budget_spent_pct(self, rate: float, window_hours: float) -> str:
        """Share of a 30-day budget that a burn rate consumes in a window."""
        return _number(round(rate * window_hours / (30 * 24) * 100, 1))

    # --- thresholds ---
    @property
    def error_ratio(self) -> float:
        return float(self._a("alert_error_rate_pct")) / 100

    @property
    def critical_error_ratio(self) -> float:
        return min(1.0, self.error_ratio * 5)

    @property
    def latency_seconds(self) -> float:
        return int(self._a("alert_latency_p95_ms")) / 1000

    @property
    def buckets(self) -> list[float]:
        return sorted({*BASE_BUCKETS, self.latency_seconds, self.latency_seconds * 4})

    def fmt(self, value: float) -> str:
        return _number(value)

    # --- alerts ---
    @property
    def alerts(self) -> list[Alert]:
        s = self.slug
        app = 'job="app"'
        errors = f'sum(rate(http_requests_total{{{app},status=~"5.."}}[5m]))'
        total = f"sum(rate(http_requests_total{{{app}}}[5m]))"
        pct = _number(float(self._a("alert_error_rate_pct")))
        alerts = [
            Alert("AppDown", "critical", f"up{{{app}}} == 0", "2m", f"{s} API target is down",
                  "Prometheus cannot scrape {{ $labels.instance }} for 2 minutes.", "service-down"),
            Alert("HealthCheckFailing", "critical", 'probe_success{job="blackbox-health"} == 0', "2m",
                  f"{s} health check {{{{ $labels.instance }}}} fails",
                  "The synthetic check of {{ $labels.instance }} has failed for 2 minutes.", "service-down"),
            Alert("ErrorRateCritical", "critical", f"{errors} / {total} > {_number(self.critical_error_ratio)}", "5m",
                  f"{s} error rate above {_number(self.critical_error_ratio * 100)}%",
                  "{{ $value | humanizePercentage }} of requests fail with 5xx.", "service-down"),
            Alert("ErrorRateHigh", "high", f"{errors} / {total} > {_number(self.error_ratio)}", "5m",
                  f"{s} error rate above {pct}%",
                  "{{ $value | humanizePercentage }} of requests fail with 5xx.", "incident-response"),
            Alert("ServerErrors", "medium", f'sum(increase(http_requests_total{{{app},status=~"5.."}}[15m])) > 0', "15m",
                  f"{s} keeps answering 5xx",
                  "{{ $value }} server errors in 15 minutes, below the error-rate threshold.", "incident-response"),
            Alert("LatencyP95High", "high",
                  f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{app}}}[5m])))"
                  f" > {_number(self.latency_seconds)}", "10m",
                  f"{s} p95 latency above {self._a('alert_latency_p95_ms')} ms",
                  f"95% of requests take longer than {self._a('alert_latency_p95_ms')} ms.", "high-resource-usage"),
        ]
        if self.database != "none":
            alerts += [
                Alert("DatabaseConnectionFailures", "critical", "sum(increase(db_connection_errors_total[5m])) > 0", "2m",
                      f"{s} cannot connect to {self.database}",
                      "{{ $value }} failed database connections in 5 minutes.", "database-failure"),
                Alert("DatabasePoolSaturated", "high",
                      'sum(db_pool_connections{state="in_use"}) / sum(db_pool_max_connections) > 0.9', "10m",
                      f"{s} database pool above 90% in use",
                      "{{ $value | humanizePercentage }} of the pool is in use; requests wait for connections.",
                      "database-failure"),
            ]
        alerts += [
            Alert("DiskSpaceHigh", "high",
                  '(1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"})'
                  f" * 100 > {DISK_PCT}", "10m", f"Disk above {DISK_PCT}% on {{{{ $labels.instance }}}}",
                  "{{ $labels.mountpoint }} is {{ $value | humanize }}% full.", "high-resource-usage"),
            Alert("MemoryHigh", "high",
                  f"(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > {MEMORY_PCT}", "10m",
                  f"Memory above {MEMORY_PCT}% on {{{{ $labels.instance }}}}",
                  "Memory use is {{ $value | humanize }}%.", "high-resource-usage"),
            Alert("CPUHigh", "medium",
                  f'(1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[5m]))) * 100 > {CPU_PCT}', "15m",
                  f"CPU above {CPU_PCT}% on {{{{ $labels.instance }}}}",
                  "CPU use is {{ $value | humanize }}%.", "high-resource-usage"),
        ]
        if self.worker:
            alerts += [
                Alert("WorkerDown", "critical", 'up{job="worker"} == 0', "5m", f"{s} worker is offline",
                      "No worker has been scraped for 5 minutes; jobs are not processed.", "worker-backlog"),
                Alert("WorkerQueueBacklog", "high", f"sum(worker_queue_depth) > {QUEUE_BACKLOG}", "10m",
                      f"{s} queue backlog above {QUEUE_BACKLOG} jobs",
                      "{{ $value }} jobs are waiting.", "worker-backlog"),
                Alert("WorkerJobsFailing", "medium",
                      'sum(rate(worker_jobs_processed_total{status="failed"}[15m]))'
                      " / sum(rate(worker_jobs_processed_total[15m])) > 0.1", "15m",
                      f"{s} worker fails more than 10% of jobs",
                      "{{ $value | humanizePercentage }} of jobs fail.", "worker-backlog"),
            ]
        expiry = '(probe_ssl_earliest_cert_expiry{job="blackbox-health"} - time()) / 86400'
        alerts += [
            Alert("CertificateExpiryCritical", "high", f"{expiry} < {CERT_CRITICAL_DAYS}", "1h",
                  f"TLS certificate of {{{{ $labels.instance }}}} expires within {CERT_CRITICAL_DAYS} days",
                  "{{ $value | humanize }} days left.", "certificate-expiry"),
            Alert("CertificateExpirySoon", "low", f"{expiry} < {CERT_WARN_DAYS}", "1h",
                  f"TLS certificate of {{{{ $labels.instance }}}} expires within {CERT_WARN_DAYS} days",
                  "{{ $value | humanize }} days left.", "certificate-expiry"),
        ]
        for name, long, short, rate, duration, severity in BURN_WINDOWS:
            threshold = self.burn_threshold(rate)
            alerts.append(Alert(
                f"ErrorBudgetBurn{name.title()}", severity,
                f"slo:http_errors:ratio_rate{long} > {threshold} and slo:http_errors:ratio_rate{short} > {threshold}",
                duration, f"{s} burns its {self.slo_percent}% error budget {_number(rate)}x too fast",
                f"At this rate {self.budget_spent_pct(rate, int(long[:-1]))}% of the 30-day budget is gone in {long}.",
                "incident-response"))
        return alerts

    @property
    def slo_windows(self) -> list[str]:
        return sorted({w for _, long, short, *_ in BURN_WINDOWS for w in (long, short)}, key=_minutes)

    def alert(self, name: str) -> Alert:
        return next(a for a in self.alerts if a.name == name)

    def expected(self, name: str, value: float, **labels: str) -> dict[str, dict[str, str]]:
        """The labels and expanded annotations promtool must see for a firing alert."""
        rule = self.alert(name)
        return {
            "labels": {"severity": rule.severity, "priority": rule.priority, "service": self.slug, **labels},
            "annotations": {"summary": expand(rule.summary, value, labels), "description": expand(rule.description, value, labels),
                            "runbook_url": self.runbook_url(rule.runbook)},
        }

    def _traffic(self, error_ratio: float, minutes: int) -> list[tuple[str, str]]:
        """1000 requests a minute, a share of them 5xx, for ``minutes``."""
        errors = round(1000 * error_ratio, 6)
        return [('http_requests_total{job="app",status="200"}', f"0+{_number(1000 - errors)}x{minutes}"),
                ('http_requests_total{job="app",status="500"}', f"0+{_number(errors)}x{minutes}")]

    def _latency(self, seconds_bucket: float) -> list[tuple[str, str]]:
        """100 requests a minute, all observed in the bucket that ends at ``seconds_bucket``."""
        return [(f'http_request_duration_seconds_bucket{{job="app",le="{_number(le)}"}}',
                 f"0+{100 if le >= seconds_bucket else 0}x20") for le in [*self.buckets, float("inf")]]

    def unit_tests(self) -> list[UnitTest]:
        budget = self.error_budget
        fast, slow = BURN_WINDOWS[0][3], BURN_WINDOWS[1][3]
        healthy = min(budget, self.error_ratio) / 2
        fast_ratio = min(1.0, fast * budget * 2)
        slow_ratio = (fast + slow) / 2 * budget
        high_ratio = (self.error_ratio + min(1.0, self.critical_error_ratio)) / 2 if self.critical_error_ratio < 1 else (
            (self.error_ratio + 1) / 2)
        threshold = self.latency_seconds
        above = min(b for b in self.buckets if b > threshold)
        tests = [
            UnitTest("healthy traffic within the error budget fires nothing", self._traffic(healthy, 420),
                     [("7h", name, []) for name in ("ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "ErrorRateHigh", "ErrorRateCritical")]),
            UnitTest(f"burning the budget {_number(fast)}x fast pages", self._traffic(fast_ratio, 70),
                     [("1h", "ErrorBudgetBurnFast", [self.expected("ErrorBudgetBurnFast", fast_ratio)])]),
            UnitTest(f"a slow {_number((fast + slow) / 2)}x burn tickets but does not page", self._traffic(slow_ratio, 420),
                     [("6h20m", "ErrorBudgetBurnSlow", [self.expected("ErrorBudgetBurnSlow", slow_ratio)]),
                      ("6h20m", "ErrorBudgetBurnFast", [])]),
            UnitTest("error rate above the alert threshold", self._traffic(high_ratio, 20),
                     [("15m", "ErrorRateHigh", [self.expected("ErrorRateHigh", high_ratio)])]),
            UnitTest("p95 latency above the threshold fires", self._latency(above),
                     [("15m", "LatencyP95High", [self.expected("LatencyP95High", 0)])]),
            UnitTest("p95 latency just below the threshold does not fire", self._latency(threshold),
                     [("15m", "LatencyP95High", [])]),
            UnitTest("the API target down pages", [(f'up{{job="app",instance="app:{self.app_port}"}}', "1 1 0x10")],
                     [("10m", "AppDown", [self.expected("AppDown", 0, instance=f"app:{self.app_port}", job="app")])]),
            UnitTest("disk above 80% fires", [
                ('node_filesystem_avail_bytes{instance="host:9100",mountpoint="/",fstype="ext4"}', "10x20"),
                ('node_filesystem_size_bytes{instance="host:9100",mountpoint="/",fstype="ext4"}', "100x20")],
                [("15m", "DiskSpaceHigh", [self.expected("DiskSpaceHigh", 90, instance="host:9100", mountpoint="/", fstype="ext4")])]),
            UnitTest("a certificate expiring in 10 days warns but does not escalate", [
                (f'probe_ssl_earliest_cert_expiry{{job="blackbox-health",instance="https://{self._a("domain")}/health"}}',
                 "864000x90")],
                [("70m", "CertificateExpirySoon", [self.expected(
                    "CertificateExpirySoon", 864000 / 86400 - 70 * 60 / 86400,
                    job="blackbox-health", instance=f"https://{self._a('domain')}/health")]),
                 ("70m", "CertificateExpiryCritical", [])]),
        ]
        if self.worker:
            tests.append(UnitTest("a queue backlog fires", [('worker_queue_depth{job="worker",queue="default"}', "150x20")],
                                  [("15m", "WorkerQueueBacklog", [self.expected("WorkerQueueBacklog", 150)])]))
        if self.database != "none":
            tests.append(UnitTest("database connection errors page", [('db_connection_errors_total{job="app"}', "0+2x10")],
                                  [("8m", "DatabaseConnectionFailures", [self.expected("DatabaseConnectionFailures", 10)])]))
        return tests

    # --- dashboards ---
    def panels(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """The service dashboard: (title, unit, [(legend, PromQL)]) per panel."""
        app = 'job="app"'
        latency = f"sum by (le) (rate(http_request_duration_seconds_bucket{{{app}}}[5m]))"
        panels = [
            ("Request rate", "reqps", [("{{status}}", f"sum by (status) (rate(http_requests_total{{{app}}}[5m]))")]),
            ("Error rate (5xx)", "percentunit", [("errors", "slo:http_errors:ratio_rate5m")]),
            ("Latency", "s", [(f"p{q}", f"histogram_quantile(0.{q}, {latency})") for q in (50, 95, 99)]),
            ("Error budget remaining (30 days)", "percentunit", [(
                "budget", f'1 - (sum(increase(http_requests_total{{{app},status=~"5.."}}[30d]))'
                f" / sum(increase(http_requests_total{{{app}}}[30d]))) / {_number(self.error_budget)}")]),
            ("CPU saturation", "percentunit", [("{{instance}}", '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))')]),
            ("Memory saturation", "percentunit", [("{{instance}}", "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes")]),
            ("Container CPU (cores)", "short", [("{{name}}", 'sum by (name) (rate(container_cpu_usage_seconds_total{name!=""}[5m]))')]),
        ]
        if self.worker:
            panels += [
                ("Worker queue depth", "short", [("{{queue}}", "sum by (queue) (worker_queue_depth)")]),
                ("Worker jobs", "ops", [("{{status}}", "sum by (status) (rate(worker_jobs_processed_total[5m]))")]),
            ]
        if self.database != "none":
            panels.append(("Database pool", "short", [("{{state}}", "sum by (state) (db_pool_connections)"),
                                                      ("max", "sum(db_pool_max_connections)")]))
        return panels

    def dashboard_json(self, indent: int | None = 2) -> str:
        """Grafana dashboard JSON (schema 39) of the panels, two per row."""
        panels = []
        for index, (title, unit, queries) in enumerate(self.panels()):
            panels.append({
                "id": index + 1, "type": "timeseries", "title": title,
                "datasource": {"type": "prometheus", "uid": "prometheus"},
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
                "targets": [{"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend,
                             "datasource": {"type": "prometheus", "uid": "prometheus"}}
                            for n, (legend, expr) in enumerate(queries)],
            })
        dashboard = {
            "uid": f"{self.slug}-service"[:40], "title": f"{self._a('project_name')} service", "tags": [self.slug, "service"],
            "schemaVersion": 39, "version": 1, "editable": False, "timezone": "utc", "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"}, "panels": panels,
            "templating": {"list": []}, "annotations": {"list": []},
        }
        return json.dumps(dashboard, indent=indent)

    @property
    def metric_contract(self) -> list[tuple[str, str, str, str]]:
        """(metric, type, labels, meaning) the app and worker expose; rules and dashboards use only these."""
        metrics = [
            ("http_requests_total", "counter", "method, route, status", "HTTP requests served (status is the numeric code)"),
            ("http_request_duration_seconds", "histogram", "method, route",
             "request latency; buckets " + ", ".join(_number(b) for b in self.buckets) + " s"),
        ]
        if self.database != "none":
            metrics += [
                ("db_pool_connections", "gauge", "state (idle, in_use, waiting)", "connections of the pool by state"),
                ("db_pool_max_connections", "gauge", "", f"configured pool maximum ({self._a('db_pool_max')})"),
                ("db_connection_errors_total", "counter", "", "failed attempts to open a database connection"),
            ]
        if self.worker:
            metrics += [
                ("worker_queue_depth", "gauge", "queue", "jobs waiting"),
                ("worker_jobs_processed_total", "counter", "queue, status (succeeded, failed)", "finished jobs"),
                ("worker_job_duration_seconds", "histogram", "queue", "job run time"),
            ]
        return metrics

    # --- alert routing ---
    @property
    def channels(self) -> list[str]:
        return list(self._a("alert_channels"))

    def routes(self) -> dict[str, list[str]]:
        """Receivers' channels per severity (seed 004 5.3)."""
        chosen = self.channels
        on_call = [c for c in chosen if c in ON_CALL_CHANNELS]
        chat = [c for c in chosen if c in CHAT_CHANNELS]
        email = [c for c in chosen if c == "email"]
        sms = [c for c in chosen if c == "sms"]
        fallback = chat + email or on_call or sms
        routes = {
            "critical": (on_call or chat + email) + sms,
            "high": chat + email,
            "medium": chat or email,
            "low": email or chat,
        }
        return {severity: routes[severity] or fallback for severity in SEVERITIES}

    @property
    def secrets_dir(self) -> str:
        """Where Alertmanager reads receiver secrets: a compose secret target or a Kubernetes secret mount."""
        return "/etc/alertmanager/secrets/alertmanager-receivers"

    @property
    def receiver_secrets(self) -> dict[str, str]:
        """Secret file name -> environment variable (.env / secrets manager) of each chosen channel."""
        names = {"slack": "slack_webhook_url", "pagerduty": "pagerduty_routing_key", "opsgenie": "opsgenie_api_key",
                 "email": "smtp_password", "teams": "teams_webhook_url", "discord": "discord_webhook_url"}
        return {names[c]: "ALERTMANAGER_" + names[c].upper() for c in self.channels if c in names}

    @property
    def severities(self) -> tuple[str, ...]:
        return SEVERITIES

    def priority(self, severity: str) -> str:
        return PRIORITY[severity]

    # --- backups ---
    @property
    def backup_scheme(self) -> str:
        return str(self.catalog.fact("cloud_provider", self._a("cloud_provider"), "backup_scheme"))

    def db_fact(self, fact: str) -> str:
        return str(self.catalog.fact("database", self.database, fact))

    @property
    def retention(self) -> dict[str, int]:
        """Days each backup tier is kept (seed 004 7.1), never below the answer."""
        days = int(self._a("backup_retention_days"))
        return {"hourly": min(7, days), "daily": days, "weekly": max(days, 90), "monthly": max(days, 365)}

    @property
    def backup_schedule(self) -> str:
        return str(self.catalog.fact("backup_strategy", self._a("backup_strategy"), "schedule"))

    @property
    def daily_hour(self) -> int:
        """UTC hour of the run that counts as the daily backup (the schedule's hour, 0 when hourly)."""
        hour = self.backup_schedule.split()[1]
        return 0 if hour == "*" else int(hour)

    @property
    def backup_interval_minutes(self) -> int:
        return int(self.catalog.fact("backup_strategy", self._a("backup_strategy"), "interval_minutes"))

    @property
    def backup_scheduler(self) -> str:
        """Where the schedule lives: the infrastructure's CronJob, a systemd timer, or cron."""
        if self.database == "none":
            return "none"
        if self.kubernetes:
            return "kubernetes"
        if self._a("deploy_target") in ("docker_swarm", "nomad", "on_prem_compose"):
            return "systemd"
        return "cron"

    @property
    def on_calendar(self) -> str:
        """systemd OnCalendar of the backup schedule (cron fields minute hour * * weekday)."""
        minute, hour, _, _, weekday = self.backup_schedule.split()
        hour_part = "*" if hour == "*" else f"{int(hour):02d}"
        day_part = "" if weekday == "*" else ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][int(weekday)] + " "
        return f"{day_part}*-*-* {hour_part}:{int(minute):02d}:00"

    # --- architecture ---
    @property
    def instances(self) -> int:
        """API instances drawn in the deployment view (production minimum, at most 3)."""
        count = int(self._a("autoscale_min")) if self._a("scaling") == "autoscaling" else 2
        return max(1, min(3, count))

    def cloud_fact(self, fact: str) -> Any:
        return self.catalog.fact("cloud_provider", self._a("cloud_provider"), fact)

    def managed(self, kind: str) -> str:
        """Name of the data service running ``kind`` (postgresql, mysql, mongodb or redis)."""
        if self.kubernetes and self._a("k8s_distribution") == "self_managed":
            return f"{kind.title() if kind != 'postgresql' else 'PostgreSQL'} StatefulSet"
        return str(self.cloud_fact("managed")[kind])

    @property
    def edge(self) -> str:
        edge = str(self.catalog.fact("deploy_target", self._a("deploy_target"), "edge"))
        return f"{edge} ({self._a('k8s_ingress')})" if self.kubernetes else edge

    # --- vendor monitoring as code (monitoring/terraform) ---
    @property
    def terraform_parts(self) -> list[str]:
        """Vendors whose monitors, checks, status pages or alert rules the IaC tool manages."""
        if self._a("iac_tool") not in ("terraform", "opentofu"):
            return []
        parts = []
        if "datadog" in (self._a("metrics"), self._a("apm")):
            parts.append("datadog")
        if self._a("apm") == "new_relic":
            parts.append("newrelic")
        if self._a("metrics") == "cloudwatch" and self.cloudwatch:
            parts.append("cloudwatch")
        if self._a("uptime") != "none":
            parts.append(str(self._a("uptime")))
        if self._a("status_page") != "none" and self._a("status_page") not in parts:
            parts.append(str(self._a("status_page")))
        if self.sentry:
            parts.append("sentry")
        return parts

    def tf(self, part: str) -> dict[str, Any]:
        """A vendor's Terraform facts: file, what it manages, provider, variables (catalog/facts/observability.yml)."""
        return dict(self.catalog.fact(*TF_PART_SOURCES[part], "terraform"))

    def tf_file(self, part: str) -> str:
        return str(self.tf(part)["file"])

    @property
    def tf_providers(self) -> list[dict[str, str]]:
        """The pinned providers of monitoring/terraform (name, source, version), one per vendor."""
        return [dict(self.tf(part)["provider"]) for part in self.terraform_parts]

    @property
    def tf_variables(self) -> list[dict[str, Any]]:
        """Every input of monitoring/terraform: the vendors' credentials and settings, then the alert channels'."""
        found = [dict(v) for part in self.terraform_parts for v in self.tf(part).get("variables", [])]
        if "cloudwatch" in self.terraform_parts:
            found.append({"name": "aws_region", "description": "Region of the production stack",
                          "default": self.catalog.fact("cloud_provider", "aws", "default_region")})
            found += [{"name": name,
                       "description": f"{name.replace('_', ' ').capitalize()} (an output of the production stack in terraform/)"}
                      for name in self.cw_inputs]
            on_call = [c for c in self.channels if c in ON_CALL_CHANNELS]
            if on_call:
                found.append({"name": "oncall_webhook_url", "sensitive": True,
                              "description": f"CloudWatch integration URL of {' / '.join(on_call)} (receives critical alarms)"})
        found += self.channel_variables
        return found

    @property
    def channel_variables(self) -> list[dict[str, Any]]:
        """Secrets and names of the alert channels the uptime service and Sentry notify (catalog facts)."""
        found: list[dict[str, Any]] = []
        uptime = str(self._a("uptime"))
        if uptime in ("uptimerobot", "pingdom") and uptime in self.terraform_parts:
            contacts = self.tf(uptime)["contacts"]
            for channel in self.uptime_channels:
                contact = contacts.get(channel, {})
                found += [contact["variable"]] if "variable" in contact else list(contact.get("variables", []))
            if uptime == "pingdom" and self.pingdom_integrations:
                found.append({"name": "pingdom_integration_ids", "type": "list(number)",
                              "description": f"IDs of the Pingdom integrations ({', '.join(self.pingdom_integrations)} webhooks,"
                                             " created in Pingdom > Integrations) that receive critical alerts"})
        if "sentry" in self.terraform_parts:
            integrations = self.tf("sentry")["integrations"]
            for channel in self.sentry_channels:
                found += integrations.get(channel, {}).get("variables", [])
        unique: dict[str, dict[str, Any]] = {}
        for variable in found:
            unique.setdefault(variable["name"], dict(variable))
        return list(unique.values())

    def uptime_contact(self, channel: str) -> dict[str, str]:
        """An UptimeRobot alert contact: its type and the HCL expression of its value."""
        contact = self.tf("uptimerobot")["contacts"][channel]
        if "variable" in contact:
            return {"type": contact["type"], "value": f'var.{contact["variable"]["name"]}'}
        return {"type": contact["type"], "value": f'"{contact["address"].format(domain=self._a("domain"))}"'}

    def sentry_integration(self, channel: str) -> dict[str, Any]:
        """A channel's Sentry integration: provider_key and the variables naming the installed integration."""
        return dict(self.tf("sentry")["integrations"][channel])

    # --- uptime checks and status pages ---
    @property
    def health_checks(self) -> dict[str, str]:
        """Synthetic check name (<environment>-health[-ready|-live]) -> URL: the same URLs as probe_urls."""
        envs = [e for e in self._a("environments") if e != "development"]
        return {f"{env}{path.replace('/', '-')}": environment_url(self.answers, env) + path for env in envs for path in HEALTH_PATHS}

    def check_host(self, url: str) -> str:
        return url.removeprefix("https://").split("/", 1)[0]

    def check_path(self, url: str) -> str:
        return "/" + url.removeprefix("https://").split("/", 1)[1]

    @property
    def uptime_channels(self) -> list[str]:
        """An uptime check failing is critical (HealthCheckFailing): it notifies the critical route."""
        return self.routes()["critical"]

    @property
    def pingdom_integrations(self) -> list[str]:
        """Channels Pingdom reaches through its webhook integrations (everything but e-mail and SMS contacts)."""
        return [c for c in self.uptime_channels if c not in ("email", "sms")]

    def uptime_interval(self) -> int:
        """Check interval of the uptime service for the tier (seconds for UptimeRobot, minutes for Pingdom)."""
        facts = self.tf(str(self._a("uptime")))
        table = facts.get("interval_seconds") or facts.get("interval_minutes")
        return int(table.get(str(self.answers.get("tier", "production")), table["production"]))

    @property
    def status_components(self) -> list[tuple[str, str, str]]:
        """(key, public name, description) of the status page's components: what was chosen, nothing else."""
        found = [("api", "API", f"The {self.answers.get('project_name', self.slug)} API at https://{self._a('domain')}")]
        if self.worker:
            found.append(("worker", "Background jobs", "Queued work: e-mails, exports and scheduled jobs"))
        if self.database != "none":
            label = self.catalog.option("database", self.database).label
            found.append(("database", "Data storage", f"The {label} database and its backups"))
        return found

    # --- Sentry alerts as code ---
    @property
    def sentry(self) -> bool:
        return self._a("error_tracking") == "sentry" or self._a("apm") == "sentry_performance"

    @property
    def sentry_performance(self) -> bool:
        """Transactions reach Sentry (traces sample rate), so error rate and latency alerts have data."""
        return self._a("apm") == "sentry_performance"

    @property
    def sentry_channels(self) -> list[str]:
        """The alert channels Sentry integrates with (no SMS: the on-call tool texts its responders)."""
        return [c for c in self.channels if c != "sms"]

    def sentry_route(self, severity: str) -> list[str]:
        route = [c for c in self.routes()[severity] if c in self.sentry_channels]
        return route or (["email"] if "email" in self.sentry_channels else self.sentry_channels[:1]) or ["email"]

    @property
    def sentry_platform(self) -> str:
        return str(self.tf("sentry")["platform"][self._a("app_language")])

    @property
    def sentry_spike(self) -> int:
        return int(self.tf("sentry")["spike_events_per_hour"])

    @property
    def datadog_agent(self) -> str:
        """Where the Datadog agent configuration goes: Helm values on Kubernetes, compose on self-hosted
        targets, else the platform's integration."""
        if "datadog" not in (self._a("metrics"), self._a("apm"), self._a("logging"), self._a("tracing")):
            return "none"
        if self.kubernetes:
            return "helm"
        return "compose" if self.self_hosted else "none"

    @property
    def datadog_agent_image(self) -> str:
        return str(self.catalog.fact("metrics", "datadog", "agent_image"))

    @property
    def monitoring_dir(self) -> bool:
        return self.prometheus or bool(self.terraform_parts) or self.datadog_agent != "none"

    @property
    def cloudwatch(self) -> dict[str, Any]:
        """The deploy target's CloudWatch metrics (http and/or compute), empty when it has none."""
        return dict(self.catalog.fact("deploy_target", self._a("deploy_target"), "cloudwatch", {}) or {})

    def cw_dimensions(self, part: str) -> dict[str, str]:
        """HCL expressions of a metric group's dimensions: quoted names or module inputs (var.*)."""
        values = {}
        for key, value in self.cloudwatch[part]["dimensions"].items():
            text = str(value).format(app=f"{self.slug}-production", slug=self.slug)
            values[key] = text if text.startswith("var.") else f'"{text}"'
        return values

    @property
    def cw_inputs(self) -> list[str]:
        return sorted({v[4:] for part in self.cloudwatch for v in self.cw_dimensions(part).values() if v.startswith("var.")})

    def notify(self, severity: str) -> str:
        """Datadog @-handles of the channels a severity routes to."""
        handles = {"slack": f"@slack-{self.slug}-alerts", "pagerduty": f"@pagerduty-{self.slug}", "opsgenie": f"@opsgenie-{self.slug}",
                   "email": f"@{'oncall' if severity == 'critical' else 'alerts'}@{self._a('domain')}", "teams": f"@teams-{self.slug}",
                   "discord": f"@webhook-discord-{self.slug}", "sms": ""}
        return " ".join(h for c in self.routes()[severity] if (h := handles[c]))

    def datadog_monitors(self) -> list[tuple[str, str, str, str]]:
        """(key, severity, query, runbook) of the Datadog metric monitors, from the same thresholds as the alert rules."""
        scope = f"service:{self.slug},env:production"
        hits, errors = f"sum:trace.http.request.hits{{{scope}}}.as_count()", f"sum:trace.http.request.errors{{{scope}}}.as_count()"
        host = f"service:{self.slug}"
        monitors = [
            ("error_rate", "high", f"sum(last_5m):{errors} / {hits} * 100 > {_number(float(self._a('alert_error_rate_pct')))}",
             "incident-response"),
            ("error_rate_critical", "critical", f"sum(last_5m):{errors} / {hits} * 100 > {_number(self.critical_error_ratio * 100)}",
             "service-down"),
            ("latency_p95", "high", f"avg(last_10m):p95:trace.http.request{{{scope}}} > {_number(self.latency_seconds)}",
             "high-resource-usage"),
            ("cpu", "medium", f"avg(last_15m):avg:system.cpu.user{{{host}}} by {{host}} > {CPU_PCT}", "high-resource-usage"),
            ("memory", "high", f"avg(last_10m):(1 - avg:system.mem.pct_usable{{{host}}} by {{host}}) * 100 > {MEMORY_PCT}",
             "high-resource-usage"),
            ("disk", "high", f"avg(last_10m):max:system.disk.in_use{{{host}}} by {{host,device}} * 100 > {DISK_PCT}",
             "high-resource-usage"),
        ]
        if self.worker:
            monitors.append(("queue_backlog", "high", f"avg(last_10m):sum:worker_queue_depth{{{host}}} > {QUEUE_BACKLOG}",
                             "worker-backlog"))
        return monitors

    # --- production readiness (seed 003 checklist, seed 004 maturity levels) ---
    def readiness(self) -> list[ReadinessItem]:
        a = self._a
        db = self.database != "none"
        on_call_tool = any(c in ON_CALL_CHANNELS for c in self.channels)
        return [
            ReadinessItem(2, "CI/CD", "Automated deployments", a("auto_deploy") != "manual",
                          "set auto_deploy to staging_auto_production_manual"),
            ReadinessItem(2, "Backups", "Automated database backups", not db or a("backup_strategy") != "weekly",
                          "set backup_strategy to daily or continuous"),
            ReadinessItem(2, "Monitoring", "External uptime monitoring", a("uptime") != "none", "choose an uptime service"),
            ReadinessItem(2, "Monitoring", "Error tracking", a("error_tracking") != "none", "choose Sentry, Rollbar or Bugsnag"),
            ReadinessItem(2, "Monitoring", "Centralised, structured logs", a("logging") != "console", "choose a log aggregation"),
            ReadinessItem(3, "Monitoring", "Metrics with alert rules and dashboards", a("metrics") != "platform",
                          "set metrics to prometheus_grafana, datadog or cloudwatch"),
            ReadinessItem(3, "Monitoring", "On-call rotation with paging", bool(a("on_call")) and on_call_tool,
                          "enable on_call with PagerDuty or Opsgenie among the alert channels"),
            ReadinessItem(3, "CI/CD", "Staging environment before production", "staging" in a("environments"), "add staging"),
            ReadinessItem(3, "CI/CD", "Zero-downtime blue-green or canary releases", a("deployment_strategy") != "rolling",
                          "set deployment_strategy to blue_green or canary"),
            ReadinessItem(3, "Infrastructure", "Infrastructure as code", a("iac_tool") != "manual", "choose Terraform or OpenTofu"),
            ReadinessItem(3, "Infrastructure", "Auto-scaling", a("scaling") == "autoscaling", "set scaling to autoscaling"),
            ReadinessItem(3, "Security", "Secrets in a secrets manager", a("secrets_manager") != "env_files",
                          "choose a secrets manager instead of env files"),
            ReadinessItem(3, "Security", "Automated dependency updates", a("dependency_updates") != "none",
                          "enable Renovate or Dependabot"),
            ReadinessItem(3, "Resilience", "Disaster recovery plan and runbooks", self.runbooks_enabled,
                          "set docs_level to critical or all"),
            ReadinessItem(3, "Resilience", "Graceful shutdown", bool(a("graceful_shutdown")), "enable graceful_shutdown"),
            ReadinessItem(3, "Cost", "Cost alerts", bool(a("cost_alerts")), "enable cost_alerts"),
            ReadinessItem(4, "CI/CD", "Canary deployments", a("deployment_strategy") == "canary", "set deployment_strategy to canary"),
            ReadinessItem(4, "CI/CD", "Feature flags", a("feature_flags") != "none", "choose a feature flag service"),
            ReadinessItem(4, "CI/CD", "Automated rollback", a("rollback_automation") != "none", "set rollback_automation to metric_based"),
            ReadinessItem(4, "Monitoring", "Distributed tracing", a("tracing") != "none", "choose a tracing backend"),
            ReadinessItem(4, "Monitoring", "Public status page", a("status_page") != "none", "choose a status page"),
            ReadinessItem(4, "Backups", "Continuous backups with point-in-time recovery", not db or a("backup_strategy") == "continuous",
                          "set backup_strategy to continuous"),
            ReadinessItem(4, "Resilience", "Circuit breakers on external calls", bool(a("circuit_breakers")), "enable circuit_breakers"),
            ReadinessItem(4, "Resilience", "Availability objective of 99.9% or more", float(self.slo_percent) >= 99.9,
                          "raise slo_availability to 99.9"),
            ReadinessItem(4, "Infrastructure", "GitOps workflow", self.kubernetes and a("gitops") != "none",
                          "deploy to Kubernetes with Argo CD or Flux"),
        ]

    @property
    def readiness_score(self) -> float:
        """Seed 003 score out of 10: the share of checklist items met."""
        items = self.readiness()
        return round(10 * sum(item.met for item in items) / len(items), 1)

    @property
    def maturity_level(self) -> int:
        """Seed 004 level: the highest level whose items (and every lower level's) are all met."""
        level = 1
        for candidate in (2, 3, 4):
            if all(item.met for item in self.readiness() if item.level <= candidate):
                level = candidate
        return level

    def missing_for(self, level: int) -> list[ReadinessItem]:
        return [item for item in self.readiness() if item.level <= level and not item.met]

    # --- docs ---
    def command(self, kind: str, env: str = "production") -> str:
        """A runbook command of the deploy target (status, logs, restart, rollback) for an environment."""
        template = str(self.catalog.fact("deploy_target", self._a("deploy_target"), kind))
        host = environment_url(self.answers, env).removeprefix("https://")
        return template.format(app=f"{self.slug}-{env}", slug=self.slug, env=env, host=host)

    @property
    def db_shell(self) -> str:
        return {"postgresql": 'psql "$DATABASE_URL"', "mysql": 'mysqlsh --sql "$DATABASE_URL"',
                "mongodb": 'mongosh "$MONGODB_URI"'}.get(self.database, "")

    @property
    def runbooks(self) -> list[Runbook]:
        books = [Runbook("deployment", "Deployment"), Runbook("rollback", "Rollback"),
                 Runbook("incident-response", "Incident response"), Runbook("service-down", "Service down"),
                 Runbook("high-resource-usage", "High CPU, memory, disk or latency")]
        if self.database != "none":
            books += [Runbook("database-failure", "Database failure"), Runbook("restore-from-backup", "Restore from backup")]
        if self.worker:
            books.append(Runbook("worker-backlog", "Worker backlog"))
        books += [Runbook("certificate-expiry", "Certificate expiry"), Runbook("disaster-recovery", "Disaster recovery")]
        return books

    @property
    def runbooks_enabled(self) -> bool:
        return self._a("docs_level") != "later"

    def runbook_url(self, file: str) -> str:
        return f"docs/runbooks/{file}.md" if self.runbooks_enabled else "docs/operations.md"

    def runbook_title(self, file: str) -> str:
        return next(book.title for book in self.runbooks if book.file == file)


def _go_float(value: float) -> str:
    """How Prometheus templates print a float: {{ $value }} and humanize (%.4g)."""
    return f"{value:.4g}"


def expand(text: str, value: float, labels: Mapping[str, str]) -> str:
    """Expand the annotation templates the rules use, as Prometheus does (for the unit tests)."""
    text = text.replace("{{ $value | humanizePercentage }}", _go_float(value * 100) + "%")
    text = text.replace("{{ $value | humanize }}", _go_float(value)).replace("{{ $value }}", _go_float(value))
    for key, label in labels.items():
        text = text.replace("{{ $labels." + key + " }}", label)
    return text


@dataclass(frozen=True)
class UnitTest:
    """One promtool test case: input series and, per evaluation, the alerts expected to fire."""

    title: str
    series: list[tuple[str, str]]
    checks: list[tuple[str, str, list[dict[str, dict[str, str]]]]]


def _minutes(window: str) -> int:
    return int(window[:-1]) * (60 if window.endswith("h") else 1)


def quote(text: object) -> str:
    """A YAML single-quoted scalar (PromQL and annotations stay readable)."""
    return "'" + str(text).replace("'", "''") + "'"


def build_observability(catalog: Catalog, answers: Mapping[str, Any]) -> Observability:
    return Observability(answers, catalog)


@pass_context
def obs(ctx: Context) -> Observability:
    """The observability model of the answers being rendered."""
    from .jinja_globals import _answers

    return build_observability(load_catalog(), _answers(ctx))


GLOBALS: dict[str, Callable[..., Any]] = {"obs": obs, "quote": quote}
