"""Terraform / OpenTofu for every cloud deploy target: fmt, python-hcl2, checkov, and what the code says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import answers_of, assert_valid, cloud_of, fit_previews, hcl_of, preset

BASE = {"environments": ["development", "staging", "production"], "notifications": ["slack"]}
AWS = {"container_registry": "ecr", "secrets_manager": "aws_secrets_manager"}
GCP = {"container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager", "metrics": "prometheus_grafana"}
AZURE = {"container_registry": "acr", "secrets_manager": "azure_key_vault", "metrics": "prometheus_grafana"}
CASES: list[dict[str, Any]] = [
    {**AWS, "deploy_target": "aws_ecs_fargate", "iac_tool": "terraform", "database": "postgresql", "cost_alerts": True},
    {**AWS, "deploy_target": "aws_app_runner", "iac_tool": "opentofu", "has_worker": False, "database": "mysql",
     "ci_platform": "gitlab_ci", "preview_environments": "none"},
    {**AWS, "deploy_target": "aws_lambda", "iac_tool": "terraform", "has_worker": False, "containerize": False,
     "app_language": "python", "database": "mongodb", "cost_alerts": False},
    {**GCP, "deploy_target": "gcp_cloud_run", "iac_tool": "opentofu", "database": "postgresql", "cost_alerts": True},
    {**GCP, "deploy_target": "gcp_cloud_run", "iac_tool": "terraform", "database": "mysql", "app_language": "go",
     "ci_platform": "circleci", "preview_environments": "none"},
    {**AZURE, "deploy_target": "azure_container_apps", "iac_tool": "terraform", "database": "postgresql", "cost_alerts": True},
    {**AZURE, "deploy_target": "azure_functions", "iac_tool": "opentofu", "has_worker": False, "containerize": False,
     "database": "mongodb", "deployment_strategy": "blue_green", "ci_platform": "azure_devops", "preview_environments": "none"},
    {**AWS, "deploy_target": "kubernetes", "k8s_distribution": "eks", "iac_tool": "terraform", "cost_alerts": True},
    {**GCP, "deploy_target": "kubernetes", "k8s_distribution": "gke", "iac_tool": "opentofu", "database": "mysql"},
    {**AZURE, "deploy_target": "kubernetes", "k8s_distribution": "aks", "iac_tool": "terraform", "database": "mysql",
     "ci_platform": "azure_devops", "preview_environments": "none"},  # GitLab on Azure is refused (merge request plans)
]


def _id(case: dict[str, Any]) -> str:
    return f"{case['deploy_target']}-{case.get('k8s_distribution', case['iac_tool'])}"


def _generate(generate, case: dict[str, Any]) -> Path:
    tier = "enterprise" if case["deploy_target"] == "kubernetes" else "production"
    return generate(**fit_previews({**preset(tier), **BASE, **case}))


_cloud = cloud_of


_hcl = hcl_of  # python-hcl2 with plain strings (conftest)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_terraform_passes_fmt_hcl2_and_checkov(generate, case):
    assert_valid(_generate(generate, case), only={"terraform"})


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_environment_has_a_locked_remote_state_and_its_own_size(generate, case):
    project = _generate(generate, case)
    a = answers_of(project)
    envs = project / "terraform" / "environments"
    from extensions.catalog import load_catalog

    iac_previews = a["preview_environments"] != "none" and load_catalog().fact(
        "deploy_target", a["deploy_target"], "preview_stacks") == "iac"  # terraform/environments/preview: tests/test_infra_previews.py
    assert sorted(p.name for p in envs.iterdir()) == sorted(a["environments"] + (["preview"] if iac_previews else []))
    keys = set()
    for env in a["environments"]:
        backend = _hcl(envs / env / "backend.tf")["terraform"][0]["backend"][0]
        kind, settings = next(iter(backend.items()))
        assert kind == {"aws": "s3", "gcp": "gcs", "azure": "azurerm"}[_cloud(a)]
        if kind == "s3":
            assert settings["use_lockfile"] is True and settings["encrypt"] is True
        keys.add(str(settings.get("key") or settings.get("prefix")))
        versions = (envs / env / "versions.tf").read_text()
        assert 'version = "~> ' in versions and "required_version" in versions
    assert len(keys) == len(a["environments"]), "environments must not share a state file"
    small, large = (_hcl(envs / env / "terraform.tfvars") for env in ("staging", "production"))
    assert large["high_availability"] is True and small["high_availability"] is False
    assert large["backup_retention_days"] == a["backup_retention_days"]
    if a["deploy_target"] != "kubernetes":
        assert large["cpu"] > small["cpu"] and large["min_instances"] == a["autoscale_min"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_ci_identity_outputs_match_the_ci_contract(generate, case):
    project = _generate(generate, case)
    a = answers_of(project)
    outputs = _hcl(project / "terraform" / "environments" / "production" / "outputs.tf")
    names = {name for block in outputs.get("output", []) for name in block}
    expected = {
        "aws": {"aws_deploy_role_arn"},
        "gcp": {"gcp_workload_identity_provider", "gcp_service_account"},
        "azure": {"azure_client_id", "azure_tenant_id", "azure_subscription_id"},
    }[_cloud(a)]
    assert expected <= names
    main = (project / "terraform" / "environments" / "production" / "main.tf").read_text()
    assert 'source = "../../modules/ci_oidc"' in main
    if a["ci_platform"] == "github_actions":
        assert re.search(rf'subjects\s+= \["repo:{a["project_slug"]}/{a["project_slug"]}:environment:production"\]', main)


@pytest.mark.parametrize("case", [c for c in CASES if c.get("cost_alerts")], ids=_id)
def test_cost_alerts_become_budgets(generate, case):
    project = _generate(generate, case)
    a = answers_of(project)
    main = (project / "terraform" / "environments" / "production" / "main.tf").read_text()
    assert re.search(rf"monthly_critical\s+= {a['cost_monthly_critical']}\n", main)
    assert (project / "terraform" / "modules" / "budget" / "main.tf").exists()


def test_no_budget_module_without_cost_alerts(generate):
    project = _generate(generate, CASES[2])
    assert not (project / "terraform" / "modules" / "budget").exists()
    assert "module \"budget\"" not in (project / "terraform" / "environments" / "production" / "main.tf").read_text()


def test_managed_database_keeps_backups_for_the_retention_asked(generate):
    project = _generate(generate, CASES[0])
    a = answers_of(project)
    data = (project / "terraform" / "modules" / "data" / "main.tf").read_text()
    assert "backup_retention_period               = min(var.backup_retention_days, 35)" in data
    assert "manage_master_user_password           = true" in data, "the master password must never enter state"
    tfvars = _hcl(project / "terraform" / "environments" / "production" / "terraform.tfvars")
    assert tfvars["backup_retention_days"] == a["backup_retention_days"]


def test_long_retention_and_continuous_backups_use_aws_backup(generate):
    project = _generate(generate, CASES[7])  # enterprise: continuous backups kept 90 days
    a = answers_of(project)
    data = (project / "terraform" / "modules" / "data" / "main.tf").read_text()
    assert a["backup_strategy"] == "continuous" and a["backup_retention_days"] > 35
    assert 'resource "aws_backup_plan" "this"' in data and "enable_continuous_backup = true" in data


def test_opentofu_uses_the_same_layout(generate):
    project = _generate(generate, CASES[1])
    main = (project / "terraform" / "environments" / "production" / "main.tf").read_text()
    assert "tofu -chdir=terraform/environments/production" in main


def test_no_terraform_for_other_iac_tools(generate):
    project = _generate(generate, {**CASES[0], "iac_tool": "manual"})
    assert not (project / "terraform").exists()


def test_documentdb_gets_a_class_it_offers(generate):
    """DocumentDB's smallest instance class is medium: the micro RDS class would fail at apply."""
    project = _generate(generate, CASES[2])
    for env in ("staging", "production"):
        sizing = _hcl(project / "terraform" / "environments" / env / "terraform.tfvars")
        assert sizing["database_instance_class"] in ("db.t4g.medium", "db.r6g.large"), (env, sizing)


def test_log_groups_can_use_the_data_key(generate):
    """Log groups are encrypted with the data module's key, so its policy lets CloudWatch Logs use it."""
    project = _generate(generate, CASES[0])
    data = _hcl(project / "terraform" / "modules" / "data" / "main.tf")
    statements = next(d["aws_iam_policy_document"]["key"]["statement"] for d in data["data"] if "aws_iam_policy_document" in d)
    logs = [s for s in statements if s.get("sid") == "CloudWatchLogsEncrypt"]
    assert logs and logs[0]["principals"][0]["identifiers"] == ["logs.${data.aws_region.current.region}.amazonaws.com"]


def test_lambda_reaches_its_database_inside_the_vpc(generate):
    project = _generate(generate, CASES[2])
    module = _hcl(project / "terraform" / "modules" / "aws_lambda" / "main.tf")
    groups = [r["aws_security_group"] for r in module["resource"] if "aws_security_group" in r]
    group = next(g["function"] for g in groups if "function" in g)
    assert any(e["from_port"] == 0 and e["cidr_blocks"] == ["${data.aws_vpc.this.cidr_block}"] for e in group["egress"])


def test_lambda_first_apply_starts_from_a_placeholder_package(generate):
    """No code package exists before the first deploy: the function is created from a placeholder zip in the bucket."""
    import base64
    import io
    import zipfile

    module = _hcl(_generate(generate, CASES[2]) / "terraform" / "modules" / "aws_lambda" / "main.tf")
    resources = {(kind, name): body for r in module["resource"] for kind, named in r.items() for name, body in named.items()}
    bootstrap = resources[("aws_s3_object", "bootstrap")]
    assert zipfile.ZipFile(io.BytesIO(base64.b64decode(bootstrap["content_base64"]))).testzip() is None
    assert resources[("aws_lambda_function", "this")]["s3_key"] == "${aws_s3_object.bootstrap.key}"
