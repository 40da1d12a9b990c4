"""Contradictory answers are refused with a message naming the question and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, answers, question named, fix the message proposes)
    ("registry on the wrong cloud", {"deploy_target": "gcp_cloud_run", "container_registry": "ecr"}, "container_registry", "artifact_registry"),
    ("secrets on the wrong cloud", {"deploy_target": "aws_ecs_fargate", "secrets_manager": "azure_key_vault"}, "secrets_manager", "aws_secrets_manager"),
    ("cdk outside aws", {"deploy_target": "gcp_cloud_run", "iac_tool": "aws_cdk"}, "iac_tool", "needs cloud_provider aws"),
    ("sst on app runner", {"deploy_target": "aws_app_runner", "iac_tool": "sst"}, "iac_tool", "SST has no App Runner or EKS component"),
    ("sst on eks", {"deploy_target": "kubernetes", "k8s_distribution": "eks", "iac_tool": "sst"}, "iac_tool",
     "choose iac_tool aws_cdk, pulumi or terraform for that deploy_target"),
    ("canary without control", {"deploy_target": "railway", "feature_flags": "none", "deployment_strategy": "canary"}, "deployment_strategy", "feature_flags"),
    ("a/b without routing", {"deploy_target": "render", "feature_flags": "none", "deployment_strategy": "ab_testing"}, "deployment_strategy", "feature flags"),
    ("previews on circleci", {"ci_platform": "circleci", "preview_environments": "full_stack"}, "preview_environments", "github_actions"),
    ("no production", {"environments": ["development", "staging"]}, "environments", "production is required"),
    ("canary must end at 100", {"tier": "production", "deployment_strategy": "canary", "canary_steps": [5, 50]}, "canary_steps", "end at 100"),
    ("canary must increase", {"tier": "production", "deployment_strategy": "canary", "canary_steps": [50, 25, 100]}, "canary_steps", "strictly increasing"),
    ("bad slug", {"project_slug": "Bad_Slug"}, "project_slug", "lowercase"),
    ("bad repository", {"repository": "just-a-name"}, "repository", "owner/name"),
    ("bad domain", {"domain": "not a domain"}, "domain", "valid DNS name"),
    ("port out of range", {"app_port": 70000}, "app_port", "1 to 65535"),
    ("port not a number", {"app_port": "http"}, "app_port", "int"),
    ("ttl must be positive", {"preview_environments": "on_demand", "preview_ttl_hours": 0}, "preview_ttl_hours", "1 to 720"),
    ("rollback threshold", {"tier": "enterprise", "rollback_automation": "metric_based", "rollback_error_rate_pct": 0}, "rollback_error_rate_pct", "above 0"),
    ("on-call needs paging", {"on_call": True, "alert_channels": ["email", "slack"]}, "on_call", "pagerduty or opsgenie"),
    ("staging gate without staging", {"auto_deploy": "staging_auto_production_manual", "environments": ["development", "production"]}, "auto_deploy", "Add staging"),
    ("rpo below backup interval", {"database": "postgresql", "backup_strategy": "daily", "rpo_minutes": 15}, "rpo_minutes", "continuous"),
    ("autoscale bounds", {"scaling": "autoscaling", "autoscale_min": 5, "autoscale_max": 2}, "autoscale_max", "below autoscale_min"),
    ("worker on vercel", {"deploy_target": "vercel", "has_worker": True}, "has_worker", "has_worker false"),
    ("container target without image", {"deploy_target": "aws_ecs_fargate", "containerize": False}, "containerize", "must be true"),
    ("ruby on azure functions", {"deploy_target": "azure_functions", "app_language": "ruby"}, "app_language", "azure_container_apps"),
    ("istio gateway without istio", {"deploy_target": "kubernetes", "k8s_service_mesh": "none", "k8s_ingress": "istio_gateway"}, "k8s_ingress", "k8s_service_mesh istio"),
    ("datadog tracing without datadog apm", {"tracing": "datadog", "apm": "sentry_performance"}, "tracing", "apm datadog"),
    ("metric rollback without metrics", {"tier": "production", "rollback_automation": "metric_based", "metrics": "platform", "apm": "none"}, "metrics", "smoke_test"),
    ("costs warning above critical", {"cost_alerts": True, "cost_daily_warning": 200, "cost_daily_critical": 100}, "cost_daily_critical", "above cost_daily_warning"),
    ("dependabot off github", {"ci_platform": "gitlab_ci", "dependency_updates": "dependabot"}, "dependency_updates", "renovate"),
    ("travis cannot federate to a cloud", {"deploy_target": "aws_ecs_fargate", "ci_platform": "travis"}, "ci_platform", "no OIDC federation"),
    ("codepipeline outside aws", {"deploy_target": "gcp_cloud_run", "ci_platform": "aws_codepipeline"}, "ci_platform", "github_actions"),
    ("circleci cannot federate to azure", {"deploy_target": "azure_container_apps", "ci_platform": "circleci", "preview_environments": "none"},
     "ci_platform", "github_actions, gitlab_ci, jenkins, azure_devops"),
    ("jenkins git_flow cannot federate to azure", {"deploy_target": "azure_container_apps", "ci_platform": "jenkins",
                                                   "branch_strategy": "git_flow", "preview_environments": "none"},
     "branch_strategy", "trunk_based or github_flow"),
    ("pulumi on gitlab git_flow cannot federate to azure", {"deploy_target": "azure_container_apps", "ci_platform": "gitlab_ci",
                                                            "iac_tool": "pulumi", "branch_strategy": "git_flow", "preview_environments": "none"},
     "branch_strategy", "trunk_based or github_flow"),
    ("previews on ecs need an iac stack", {"deploy_target": "aws_ecs_fargate", "iac_tool": "manual", "preview_environments": "on_demand"},
     "preview_environments", "Choose iac_tool terraform, opentofu"),
    ("previews on functions need an iac stack", {"deploy_target": "azure_functions", "iac_tool": "manual", "preview_environments": "full_stack"},
     "preview_environments", "one IaC stack per pull request (pr-<number>), which iac_tool manual cannot create"),
    ("gitlab previews cannot federate to azure", {"deploy_target": "azure_container_apps", "ci_platform": "gitlab_ci", "iac_tool": "opentofu",
                                                  "preview_environments": "full_stack", "notifications": ["slack"]},
     "ci_platform", "Choose ci_platform github_actions, or preview_environments none"),
    ("gitlab plans cannot federate to azure", {"deploy_target": "azure_container_apps", "ci_platform": "gitlab_ci", "iac_tool": "terraform",
                                               "preview_environments": "none", "notifications": ["slack"]},
     "ci_platform", "Choose ci_platform github_actions, jenkins, azure_devops, or iac_tool manual"),
    ("pulumi needs a cloud", {"iac_tool": "pulumi", "deploy_target": "render"}, "iac_tool", "Choose iac_tool manual"),
    ("pulumi needs a managed cluster", {"iac_tool": "pulumi", "deploy_target": "kubernetes", "k8s_distribution": "self_managed"},
     "iac_tool", "k8s_distribution self_managed"),
    # ECS shifts traffic itself (CodeDeploy) and is now among the fixes the message proposes; App Runner cannot.
    ("canary on app runner needs flags", {"deploy_target": "aws_app_runner", "feature_flags": "none", "deployment_strategy": "canary"}, "deployment_strategy", "aws_ecs_fargate"),
    ("canary on ecs with cdk rolls", {"deploy_target": "aws_ecs_fargate", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager",
     "iac_tool": "aws_cdk", "feature_flags": "none", "deployment_strategy": "canary", "preview_environments": "none"},
     "deployment_strategy", "iac_tool terraform, opentofu, manual"),
    ("unknown tier", {"tier": "startup"}, "tier", "mvp, production, enterprise"),
    ("unknown option", {"deploy_target": "digital_ocean"}, "deploy_target", "railway"),
]


def copier_cli(template: Path, dst: Path, answers: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    data_file = dst.parent / "answers.yml"
    data_file.write_text(yaml.safe_dump(answers), encoding="utf-8")
    args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet", "--data-file", str(data_file), str(template), str(dst)]
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=120)


@pytest.mark.parametrize(("case", "answers", "question", "fix"), CASES, ids=[c[0] for c in CASES])
def test_bad_answer_is_refused_cleanly(copier_template: Path, tmp_path: Path, case: str, answers: dict, question: str, fix: str) -> None:
    result = copier_cli(copier_template, tmp_path / "app", answers)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"- {question}:" in result.stderr, result.stderr
    assert fix in result.stderr, result.stderr
    assert not (tmp_path / "app" / "docs").exists(), "nothing is generated from refused answers"


def test_every_problem_is_reported_at_once(copier_template: Path, tmp_path: Path) -> None:
    answers = {"project_slug": "X", "app_port": 0, "environments": ["staging"], "deploy_target": "vercel", "has_worker": True}
    result = copier_cli(copier_template, tmp_path / "app", answers)
    assert result.returncode == 1
    for question in ("project_slug", "app_port", "environments", "has_worker"):
        assert f"- {question}:" in result.stderr
    assert "4 problems" in result.stderr or "5 problems" in result.stderr


@pytest.mark.parametrize("target", ["aws_app_runner", "aws_ecs_fargate", "aws_lambda", "azure_container_apps", "azure_functions"])
def test_iac_previews_are_accepted_with_terraform(target: str) -> None:
    """The same previews the questionnaire refuses with iac_tool manual pass with an IaC tool that creates stacks."""
    from extensions.catalog import load_catalog
    from extensions.rules import previews_need_target_support

    catalog = load_catalog()
    for tool in ("terraform", "opentofu"):
        answers = {"deploy_target": target, "iac_tool": tool, "preview_environments": "full_stack"}
        assert list(previews_need_target_support(catalog, answers)) == []
    problems = list(previews_need_target_support(catalog, {"deploy_target": target, "iac_tool": "manual",
                                                           "preview_environments": "on_demand"}))
    assert [p.question for p in problems] == ["preview_environments"]
    assert "iac_tool" in problems[0].message and "preview_environments none" in problems[0].message


def test_good_answers_pass(copier_template: Path, tmp_path: Path) -> None:
    answers = {"tier": "production", "deploy_target": "railway", "feature_flags": "unleash", "deployment_strategy": "canary"}
    result = copier_cli(copier_template, tmp_path / "app", answers)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "app" / "docs" / "decisions.md").is_file()
