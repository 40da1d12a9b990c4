"""Monitoring as code (monitoring/terraform): uptime checks, status pages and Sentry alerts from the answers.

The parsed HCL is compared with what the answers ask for: one check per health endpoint of every deployed
environment (the same URLs as the blackbox probes and docs/observability.md), alert contacts from
alert_channels routed like every other critical alert, status page components for what was chosen, Sentry
thresholds from alert_error_rate_pct / alert_latency_p95_ms, providers pinned from the catalog and credentials
only in sensitive variables. terraform fmt, python-hcl2, the module checks and checkov run in the harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest
from harness.monitoring import module_problems

from extensions.catalog import load_catalog
from extensions.observability_model import build_observability

TF = "monitoring/terraform"
CHECKS = {"terraform-monitoring", "pymarkdown"}
URLS = {f"{env}{suffix}": f"https://{host}{path}"
        for env, host in (("staging", "staging.my-app.example.com"), ("production", "my-app.example.com"))
        for suffix, path in (("-health", "/health"), ("-health-ready", "/health/ready"), ("-health-live", "/health/live"))}


def _clean(value: Any) -> Any:
    """python-hcl2 output without its quoting and bookkeeping keys."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) > 1 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def hcl(project: Path, name: str) -> dict[str, Any]:
    return _clean(hcl2.loads((project / TF / name).read_text(encoding="utf-8")))


def resources(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for block in doc.get("resource", []) for rtype, named in block.items() if rtype == kind
            for name, body in named.items()}


def variables(project: Path) -> dict[str, dict[str, Any]]:
    return {name: body for block in hcl(project, "variables.tf")["variable"] for name, body in block.items()}


def model(project: Path):
    import yaml

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return build_observability(load_catalog(), answers)


@pytest.fixture(scope="module")
def uptimerobot(generate) -> Path:
    return generate(tier="production", uptime="uptimerobot", status_page="statuspage_io", error_tracking="sentry",
                    apm="sentry_performance", alert_channels=["email", "slack", "pagerduty", "sms"], on_call=True,
                    has_worker=True, database="postgresql", alert_error_rate_pct=2, alert_latency_p95_ms=750)


@pytest.fixture(scope="module")
def pingdom(generate) -> Path:
    return generate(tier="production", uptime="pingdom", status_page="instatus", error_tracking="sentry", apm="none",
                    alert_channels=["email", "slack", "teams", "discord", "opsgenie", "sms"], on_call=False,
                    has_worker=False, database="mysql", app_language="python")


def test_files_and_pinned_providers_come_from_the_catalog(uptimerobot: Path, pingdom: Path) -> None:
    catalog = load_catalog()
    for project, files, parts in ((uptimerobot, {"uptimerobot.tf", "statuspage.tf", "sentry.tf"},
                                   [("uptime", "uptimerobot"), ("status_page", "statuspage_io"), ("error_tracking", "sentry")]),
                                  (pingdom, {"pingdom.tf", "instatus.tf", "sentry.tf"},
                                   [("uptime", "pingdom"), ("status_page", "instatus"), ("error_tracking", "sentry")])):
        assert files | {"versions.tf", "variables.tf", "backend.tf", "README.md"} == {p.name for p in (project / TF).iterdir()}
        required = hcl(project, "versions.tf")["terraform"][0]["required_providers"][0]
        expected = {f["name"]: {"source": f["source"], "version": f["version"]}
                    for f in (catalog.fact(q, v, "terraform")["provider"] for q, v in parts)}
        assert required == expected


def test_uptimerobot_checks_every_health_endpoint_and_alerts_the_critical_route(uptimerobot: Path) -> None:
    doc = hcl(uptimerobot, "uptimerobot.tf")
    checks = doc["locals"][0]["health_checks"]
    assert checks == URLS
    assert set(checks.values()) == set(model(uptimerobot).probe_urls)  # the blackbox exporter's targets
    contacts = resources(doc, "uptimerobot_integration")
    assert set(contacts) == {"pagerduty", "sms"}  # critical: the on-call tool, plus SMS
    assert contacts["pagerduty"]["value"] == "${var.pagerduty_integration_key}"
    assert contacts["sms"]["value"] == "${var.oncall_phone_number}"
    monitor = resources(doc, "uptimerobot_monitor")["health"]
    assert monitor["for_each"] == "${local.health_checks}" and monitor["type"] == "HTTP" and monitor["interval"] == 60
    assert [c["alert_contact_id"] for c in monitor["assigned_alert_contacts"]] == [
        "${uptimerobot_integration.pagerduty.id}", "${uptimerobot_integration.sms.id}"]
    declared = variables(uptimerobot)
    for name in ("uptimerobot_api_key", "pagerduty_integration_key", "oncall_phone_number"):
        assert declared[name]["sensitive"] is True, name


def test_uptimerobot_free_plan_interval_and_chat_contacts(generate) -> None:
    project = generate(tier="mvp", uptime="uptimerobot", iac_tool="terraform", alert_channels=["slack", "email"], on_call=False)
    doc = hcl(project, "uptimerobot.tf")
    assert resources(doc, "uptimerobot_monitor")["health"]["interval"] == 300  # 1-minute checks are paid
    contacts = resources(doc, "uptimerobot_integration")
    assert contacts["slack"]["value"] == "${var.slack_webhook_url}"
    assert contacts["email"]["value"] == "oncall@my-app.example.com"
    assert "every 5 minutes" in (project / "docs/observability.md").read_text(encoding="utf-8")


def test_pingdom_checks_contacts_and_integrations(pingdom: Path) -> None:
    doc = hcl(pingdom, "pingdom.tf")
    checks = doc["locals"][0]["health_checks"]
    assert {name: f"https://{c['host']}{c['path']}" for name, c in checks.items()} == URLS
    check = resources(doc, "pingdom_check")["health"]
    assert check["encryption"] is True and check["port"] == 443 and check["resolution"] == 1
    assert check["teamids"] == ["${pingdom_team.oncall.id}"]
    assert check["integrationids"] == "${var.pingdom_integration_ids}"
    # critical route: the on-call tool (Opsgenie, a Pingdom webhook integration) plus SMS to the on-call contact
    contact = resources(doc, "pingdom_contact")["oncall"]
    assert "email_notification" not in contact
    assert contact["sms_notification"][0]["number"] == "${var.oncall_phone_number}"
    assert contact["sms_notification"][0]["country_code"] == "${var.oncall_phone_country_code}"
    declared = variables(pingdom)
    assert declared["pingdom_integration_ids"]["type"] == "${list(number)}"
    assert "(opsgenie webhooks" in declared["pingdom_integration_ids"]["description"]
    assert declared["oncall_phone_number"]["sensitive"] is True


def test_status_page_components_follow_the_answers(uptimerobot: Path, pingdom: Path) -> None:
    statuspage = resources(hcl(uptimerobot, "statuspage.tf"), "statuspage_component")
    assert {k: v["name"] for k, v in statuspage.items()} == {"api": "API", "worker": "Background jobs", "database": "Data storage"}
    assert {v["page_id"] for v in statuspage.values()} == {"${var.statuspage_page_id}"}
    assert all(v["lifecycle"][0]["ignore_changes"] == ["status"] for v in statuspage.values())
    instatus = resources(hcl(pingdom, "instatus.tf"), "instatus_component")
    assert {k: v["name"] for k, v in instatus.items()} == {"api": "API", "database": "Data storage"}  # no worker chosen
    assert instatus["database"]["description"] == "The MySQL database and its backups"
    output = hcl(pingdom, "instatus.tf")["output"][0]["instatus_component_emails"]
    assert output["sensitive"] is True


def test_sentry_project_key_and_alerts_use_the_answers(uptimerobot: Path) -> None:
    doc = hcl(uptimerobot, "sentry.tf")
    project = resources(doc, "sentry_project")["app"]
    assert project["slug"] == "my-app" and project["platform"] == "node" and project["default_rules"] is False
    assert resources(doc, "sentry_key")["app"]["project"] == "${sentry_project.app.slug}"
    dsn = doc["output"][0]["sentry_dsn"]
    assert dsn["sensitive"] is True and dsn["value"] == '${sentry_key.app.dsn["public"]}'

    issue = resources(doc, "sentry_issue_alert")
    assert set(issue) == {"new_issue", "regression", "frequency"}
    assert issue["new_issue"]["conditions_v2"] == [{"first_seen_event": {}}]
    assert issue["regression"]["conditions_v2"] == [{"regression_event": {}}]
    assert issue["frequency"]["conditions_v2"][0]["event_frequency"]["value"] == 100
    for alert in issue.values():
        assert alert["filters_v2"] == [{"tagged_event": {"key": "environment", "match": "EQUAL", "value": "production"}}]
    high = [next(iter(a)) for a in issue["new_issue"]["actions_v2"]]
    assert high == ["slack_notify_service", "notify_email"]  # high: chat + e-mail
    assert [next(iter(a)) for a in issue["frequency"]["actions_v2"]] == ["pagerduty_notify_service"]  # critical, no SMS

    metric = resources(doc, "sentry_metric_alert")
    rate, latency = metric["error_rate"], metric["latency_p95"]
    assert rate["aggregate"] == "failure_rate()" and rate["dataset"] == "transactions"
    assert {t["label"]: t["alert_threshold"] for t in rate["trigger"]} == {"critical": 0.1, "warning": 0.02}  # 2% and 5x
    critical = next(t for t in rate["trigger"] if t["label"] == "critical")
    assert [a["type"] for a in critical["action"]] == ["pagerduty"]
    assert critical["action"][0]["target_identifier"] == "${sentry_integration_pagerduty.oncall.id}"
    warning = next(t for t in rate["trigger"] if t["label"] == "warning")
    assert [a["type"] for a in warning["action"]] == ["slack", "email"]
    assert latency["aggregate"] == "p95(transaction.duration)" and latency["trigger"][0]["alert_threshold"] == 750
    assert resources(doc, "sentry_integration_pagerduty")["oncall"]["integration_key"] == "${var.pagerduty_integration_key}"
    assert variables(uptimerobot)["sentry_auth_token"]["sensitive"] is True


def test_sentry_without_performance_has_issue_alerts_only(pingdom: Path) -> None:
    doc = hcl(pingdom, "sentry.tf")
    assert resources(doc, "sentry_project")["app"]["platform"] == "python"
    assert not resources(doc, "sentry_metric_alert")  # no transactions without Sentry Performance
    assert set(resources(doc, "sentry_integration_opsgenie")) == {"oncall"}
    actions = [next(iter(a)) for a in resources(doc, "sentry_issue_alert")["frequency"]["actions_v2"]]
    assert actions == ["opsgenie_notify_team"]
    high = [next(iter(a)) for a in resources(doc, "sentry_issue_alert")["new_issue"]["actions_v2"]]
    assert high == ["slack_notify_service", "msteams_notify_service", "discord_notify_service", "notify_email"]
    docs = (pingdom / "docs/observability.md").read_text(encoding="utf-8")
    assert "Error rate and latency alerts need transactions" in docs and "Sentry has no SMS integration" in docs


def test_docs_say_how_to_apply_and_which_credentials(uptimerobot: Path) -> None:
    readme = (uptimerobot / TF / "README.md").read_text(encoding="utf-8")
    for name in variables(uptimerobot):
        assert f"`TF_VAR_{name}`" in readme, name
    assert "terraform -chdir=monitoring/terraform init -backend-config=backend.hcl" in readme
    assert 'apply "$plan"' in readme and "output -raw sentry_dsn" in readme
    docs = (uptimerobot / "docs/observability.md").read_text(encoding="utf-8")
    assert "## Monitoring as code" in docs and "`TF_VAR_uptimerobot_api_key`" in docs
    assert "`monitoring/terraform/uptimerobot.tf`" in docs and "`monitoring/terraform/statuspage.tf`" in docs


def test_no_secret_literal_in_the_module(uptimerobot: Path, pingdom: Path) -> None:
    for project in (uptimerobot, pingdom):
        for path in (project / TF).glob("*.tf"):
            text = path.read_text(encoding="utf-8")
            assert "hooks.slack.com" not in text and "NRAK-" not in text and "sntrys_" not in text, path.name


@pytest.mark.parametrize("fixture", ["uptimerobot", "pingdom"])
def test_generated_module_passes_its_validators(request: pytest.FixtureRequest, fixture: str) -> None:
    from conftest import assert_valid

    assert_valid(request.getfixturevalue(fixture), CHECKS)


def test_module_check_catches_undeclared_variables_and_plain_credentials(tmp_path: Path) -> None:
    """The offline stand-in for `terraform validate` rejects what it must."""
    module = tmp_path / TF
    module.mkdir(parents=True)
    files = {
        "versions.tf": 'terraform {\n  required_providers {\n    sentry = {\n      source = "jianyuan/sentry"\n    }\n  }\n}\n',
        "variables.tf": 'variable "sentry_auth_token" {\n  type = string\n}\n',
        "sentry.tf": 'provider "sentry" {\n  token = var.sentry_auth_token\n}\n\nresource "sentry_project" "app" {\n'
                     '  organization = var.sentry_organization\n}\n',
    }
    for name, text in files.items():
        (module / name).write_text(text, encoding="utf-8")
    parsed = {name: hcl2.loads(text) for name, text in files.items()}
    problems = module_problems(tmp_path, parsed)
    assert "var.sentry_organization is used but not declared" in problems
    assert "provider sentry is not pinned in versions.tf required_providers" in problems
    assert "provider sentry: variable sentry_auth_token must be sensitive" in problems
    assert "variable sentry_auth_token holds a credential and must be sensitive" in problems
