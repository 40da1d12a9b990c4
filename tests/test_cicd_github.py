"""GitHub Actions: the job graph (triggers, order, approval gate), deploy steps, OIDC, previews, IaC, add-ons.

Every generated project is also checked by the real validators (actionlint with shellcheck, the
github-workflows / dependabot / renovate schemas, pre-commit, git-cliff, yamllint, pymarkdown).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.ci import assert_ci_valid

CHECKS = {"github-actions", "dependabot", "renovate", "pre-commit", "git-cliff", "codeowners", "yamllint",
          "pymarkdown", "shell"}
BASE = {"tier": "production", "ci_platform": "github_actions", "environments": ["development", "staging", "production"]}
WORKFLOWS = ".github/workflows"


def workflow(project: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load((project / WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def step_names(job: dict[str, Any]) -> list[str]:
    return [s.get("name", "") for s in job["steps"]]


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


@pytest.mark.parametrize(("strategy", "auto"), list(itertools.product(
    ["trunk_based", "github_flow", "git_flow"], ["staging_auto_production_manual", "production_auto", "manual"])))
def test_job_graph_follows_branch_strategy_and_auto_deploy(generate, strategy: str, auto: str) -> None:
    project = generate(**BASE, branch_strategy=strategy, auto_deploy=auto)
    ci = workflow(project, "ci.yml")
    jobs = ci["jobs"]

    push = ci["on"]["push"]
    expected_push = {"trunk_based": ["**"], "github_flow": ["main"],
                     "git_flow": ["main", "develop", "release/*", "hotfix/*"]}[strategy]
    assert push["branches"] == expected_push
    assert push.get("tags", []) == (["v*"] if strategy == "git_flow" else [])
    assert ci["on"]["pull_request"]["branches"] == (["develop", "main"] if strategy == "git_flow" else ["main"])

    checks = ["lint", "typecheck", "test", "build", "security"]
    assert all(name in jobs for name in checks)
    assert jobs["image"]["needs"] == checks
    assert "pull_request" not in ci["on"]["push"]

    deploys = [name for name in jobs if name.startswith("deploy-")]
    if auto == "manual":
        assert deploys == []
        manual = workflow(project, "deploy.yml")
        assert manual["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["staging", "production"]
        assert manual["jobs"]["deploy"]["uses"] == "./.github/workflows/deploy-environment.yml"
        return

    assert deploys == ["deploy-staging", "deploy-production"]
    staging, production = jobs["deploy-staging"], jobs["deploy-production"]
    assert staging["needs"] == ["image"]
    assert production["needs"] == ["image", "deploy-staging"]  # production only after staging
    for job, environment in ((staging, "staging"), (production, "production")):
        assert job["uses"] == "./.github/workflows/deploy-environment.yml"
        assert job["with"]["environment"] == environment
        assert "github.event_name == 'push'" in job["if"]  # never from a pull request
    if strategy == "git_flow":
        assert "refs/heads/develop" in staging["if"] and "refs/heads/develop" not in production["if"]
        for ref in ("refs/heads/release/", "refs/heads/hotfix/", "refs/tags/v"):
            assert ref in production["if"]
    else:
        assert staging["if"].count("github.ref == 'refs/heads/main'") == 1
        assert "refs/heads/main" in production["if"]

    # The gate: the reusable deploy job runs in the GitHub environment named after its input, and the
    # setup page tells which environment needs required reviewers.
    reusable = workflow(project, "deploy-environment.yml")["jobs"]["deploy"]
    assert reusable["environment"]["name"] == "${{ inputs.environment }}"
    setup = (project / ".github/DEPLOYMENTS.md").read_text(encoding="utf-8")
    production_row = next(line for line in setup.splitlines() if line.startswith("| production |"))
    assert ("required reviewers" in production_row) == (auto == "staging_auto_production_manual")
    assert_ci_valid(project, CHECKS)


@pytest.mark.parametrize(("strategy", "rollback", "migrations", "expected"), [
    ("canary", "metric_based", "expand_contract",
     ["Apply infrastructure (terraform)", "Expand the schema", "Deploy (canary 5%, 25%, 100%", "Smoke test",
      "Watch the error rate (roll back above 2.5%)", "Roll back", "Contract the schema"]),
    ("blue_green", "smoke_test", "pre_deploy",
     ["Apply infrastructure (terraform)", "Run database migrations", "Deploy (blue/green", "Smoke test", "Roll back"]),
    ("rolling", "none", "manual", ["Apply infrastructure (terraform)", "Deploy (rolling update)", "Smoke test"]),
])
def test_deploy_steps_show_strategy_rollback_and_migrations(generate, strategy: str, rollback: str, migrations: str,
                                                            expected: list[str]) -> None:
    project = generate(**BASE, deploy_target="aws_ecs_fargate", preview_environments="none", mode="full",
                       deployment_strategy=strategy, canary_steps=[5, 25, 100],
                       rollback_automation=rollback, rollback_error_rate_pct=2.5, db_migrations=migrations)
    jobs = workflow(project, "deploy-environment.yml")["jobs"]
    names = [n for n in step_names(jobs["deploy"]) if n not in ("Check out the repository", "Set up Terraform")
             and "OIDC" not in n]
    assert len(names) == len(expected)
    assert all(name.startswith(prefix) for name, prefix in zip(names, expected, strict=True))
    steps = {s["name"]: s for s in jobs["deploy"]["steps"]}
    if rollback != "none":
        rollback_step = next(s for n, s in steps.items() if n.startswith("Roll back"))
        assert rollback_step["if"] == "failure()"
        assert rollback_step["run"].strip() == 'bash scripts/rollback.sh "$DEPLOY_ENVIRONMENT"'
    if rollback == "metric_based":
        watch = next(s for n, s in steps.items() if n.startswith("Watch"))["run"]
        assert "-v max=2.5" in watch and "$DEPLOY_URL/health" in watch
    # manual migrations: a separate job, approved in "<environment>-migrations", runs them first
    assert ("migrate" in jobs) == (migrations == "manual")
    if migrations == "manual":
        assert jobs["deploy"]["needs"] == ["migrate"]
        assert jobs["migrate"]["environment"] == "${{ inputs.environment }}-migrations"
        assert "bash scripts/migrate.sh pre_deploy" in run_text(jobs["migrate"])
    assert_ci_valid(project, {"github-actions"})


@pytest.mark.parametrize(("target", "registry", "action", "variables"), [
    ("aws_ecs_fargate", "ecr", "aws-actions/configure-aws-credentials@", ["AWS_DEPLOY_ROLE_ARN", "AWS_REGION"]),
    ("gcp_cloud_run", "artifact_registry", "google-github-actions/auth@",
     ["GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"]),
    ("azure_container_apps", "acr", "azure/login@", ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"]),
    ("fly_io", "ghcr", "", []),
])
def test_cloud_access_uses_oidc_never_keys(generate, target: str, registry: str, action: str,
                                           variables: list[str]) -> None:
    project = generate(**BASE, deploy_target=target, container_registry=registry)
    texts = {p.name: p.read_text(encoding="utf-8") for p in (project / WORKFLOWS).glob("*.yml")}
    for name, text in texts.items():
        for forbidden in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOOGLE_CREDENTIALS", "AZURE_CLIENT_SECRET",
                          "credentials_json", "client-secret"):
            assert forbidden not in text, f"{name} uses a long-lived cloud key ({forbidden})"
    deploy = workflow(project, "deploy-environment.yml")
    uses = [s.get("uses", "") for s in deploy["jobs"]["deploy"]["steps"]]
    if action:
        assert any(u.startswith(action) for u in uses)
        assert deploy["permissions"]["id-token"] == "write"
        for variable in variables:
            assert deploy["env"][variable] == f"${{{{ vars.{variable} }}}}"
    else:  # a PaaS: its token comes from the environment's secrets
        assert deploy["jobs"]["deploy"]["env"]["FLY_API_TOKEN"] == "${{ secrets.FLY_API_TOKEN }}"
    # every action is pinned to a full commit SHA
    for text in texts.values():
        for line in text.splitlines():
            if "uses: " in line and not line.strip().startswith("uses: ./"):
                ref = line.split("@", 1)[1].split()[0]
                assert len(ref) == 40, line
    assert_ci_valid(project, {"github-actions"})


@pytest.mark.parametrize("mode", ["full_stack", "frontend_only", "on_demand", "none"])
def test_preview_environments(generate, mode: str) -> None:
    # Cloud Run creates a tagged revision per pull request (ECS previews are refused by the questionnaire).
    project = generate(**BASE, deploy_target="gcp_cloud_run", preview_environments=mode, preview_ttl_hours=6)
    files = {p.name for p in (project / WORKFLOWS).glob("*.yml")}
    if mode == "none":
        assert not {"preview-deploy.yml", "preview-cleanup.yml"} & files
        assert not (project / "scripts/preview.sh").exists()
        return
    deploy, cleanup = workflow(project, "preview-deploy.yml"), workflow(project, "preview-cleanup.yml")
    job = deploy["jobs"]["preview-deploy"]
    assert job["environment"]["url"].startswith("https://pr-${{")
    assert 'bash scripts/preview.sh up "$PR_NUMBER"' in run_text(job)
    assert cleanup["on"]["pull_request"]["types"] == ["closed"]
    assert 'bash scripts/preview.sh down "$CLOSED_PR"' in run_text(cleanup["jobs"]["preview-cleanup"])
    preview_script = (project / "scripts/preview.sh").read_text(encoding="utf-8")
    assert 'export DEPLOY_ENVIRONMENT="pr-${number}"' in preview_script
    assert 'bash scripts/deploy.sh "$DEPLOY_ENVIRONMENT"' in preview_script
    if mode == "on_demand":
        assert "labeled" in deploy["on"]["pull_request"]["types"]
        assert deploy["on"]["issue_comment"]["types"] == ["created"]
        assert "'preview'" in job["if"] and "'/preview'" in job["if"]
        assert cleanup["on"]["schedule"] == [{"cron": "17 * * * *"}]
        assert 'date -u -d "-6 hours"' in run_text(cleanup["jobs"]["preview-cleanup"])
    else:
        assert "issue_comment" not in deploy["on"] and "schedule" not in cleanup["on"]
    assert_ci_valid(project, {"github-actions", "shell"})


@pytest.mark.parametrize(("tool", "command"), [
    ("terraform", 'terraform -chdir="terraform/environments/$DEPLOY_ENVIRONMENT"'),
    ("opentofu", 'tofu -chdir="terraform/environments/$DEPLOY_ENVIRONMENT"'),
    ("manual", ""),
])
def test_iac_plan_on_pull_requests_and_apply_on_merge(generate, tool: str, command: str) -> None:
    project = generate(**BASE, iac_tool=tool)
    deploy = workflow(project, "deploy-environment.yml")["jobs"]["deploy"]
    if tool == "manual":
        assert not (project / WORKFLOWS / "iac-plan.yml").exists()
        assert not any(n.startswith("Apply infrastructure") for n in step_names(deploy))
        return
    plan = workflow(project, "iac-plan.yml")
    job = plan["jobs"]["plan"]
    assert list(plan["on"]) == ["pull_request"]
    assert job["strategy"]["matrix"]["environment"] == ["staging", "production"]
    assert command in run_text(job)
    assert "createComment" in job["steps"][-1]["with"]["script"]
    assert job["permissions"]["pull-requests"] == "write"
    assert step_names(deploy).index(next(n for n in step_names(deploy) if n.startswith("Apply"))) < \
        step_names(deploy).index(next(n for n in step_names(deploy) if n.startswith("Deploy")))
    assert_ci_valid(project, {"github-actions"})


@pytest.mark.parametrize("policy", ["conservative", "moderate", "aggressive"])
def test_dependabot_follows_update_policy(generate, policy: str) -> None:
    project = generate(**BASE, mode="full", dependency_updates="dependabot", update_policy=policy,
                       deploy_target="kubernetes", k8s_packaging="helm")
    config = yaml.safe_load((project / ".github/dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert ecosystems == {"npm", "github-actions", "docker", "terraform", "helm"}
    for update in config["updates"]:
        assert update["schedule"]["interval"] == ("daily" if policy == "aggressive" else "weekly")
        assert (update["open-pull-requests-limit"] == 0) == (policy == "conservative")
        if policy == "moderate":
            assert update["groups"]["patches"]["update-types"] == ["patch"]
            assert "version-update:semver-major" in update["ignore"][0]["update-types"]
    assert (project / WORKFLOWS / "dependabot-automerge.yml").exists() == (policy == "aggressive")
    assert_ci_valid(project, {"dependabot", "github-actions"})


@pytest.mark.parametrize("policy", ["conservative", "moderate", "aggressive"])
def test_renovate_follows_update_policy(generate, policy: str) -> None:
    import json

    project = generate(**BASE, mode="full", dependency_updates="renovate", update_policy=policy)
    config = json.loads((project / "renovate.json").read_text(encoding="utf-8"))
    assert {"npm", "dockerfile", "github-actions", "terraform"} <= set(config["enabledManagers"])
    rules = config["packageRules"]
    if policy == "conservative":
        assert rules[0]["enabled"] is False and config["vulnerabilityAlerts"]["enabled"] is True
    elif policy == "moderate":
        assert [r.get("groupName") for r in rules[:2]] == ["weekly patches", "monthly minors"]
        assert rules[2]["dependencyDashboardApproval"] is True
    else:
        assert rules[0]["automerge"] is True and rules[0]["matchUpdateTypes"][0] == "patch"
    assert_ci_valid(project, {"renovate"})


def test_notifications_and_add_ons(generate) -> None:
    project = generate(**BASE, mode="full", notifications=["slack", "teams", "email", "github_issues", "pagerduty"],
                       changelog=True, dependency_updates="renovate", update_policy="moderate")
    ci = workflow(project, "ci.yml")
    notify = ci["jobs"]["notify"]
    assert "always()" in notify["if"]
    assert notify["env"]["STATUS"] == "${{ contains(needs.*.result, 'failure') && 'failure' || 'success' }}"
    for secret in ("SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL", "SMTP_PASSWORD", "PAGERDUTY_ROUTING_KEY"):
        assert notify["env"][secret] == f"${{{{ secrets.{secret} }}}}"
    script = (project / "scripts/notify.sh").read_text(encoding="utf-8")
    for marker in ("SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL", "--mail-rcpt", "events.pagerduty.com", "gh issue create"):
        assert marker in script
    update = workflow(project, "copier-update.yml")
    assert "copier check-update --quiet ." in run_text(update["jobs"]["copier-update"])
    assert "copier update --trust --defaults --skip-answered" in run_text(update["jobs"]["copier-update"])
    release = workflow(project, "release.yml")
    assert release["on"]["push"]["tags"] == ["v*"]
    template = (project / ".github/pull_request_template.md").read_text(encoding="utf-8")
    assert "Testing evidence" in template and "Breaking change" in template
    assert "@my-app/maintainers" in (project / ".github/CODEOWNERS").read_text(encoding="utf-8")
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    local = next(r for r in hooks["repos"] if r["repo"] == "local")["hooks"]
    assert local[0]["entry"] == "bash -c 'npm run lint'" or "npm run lint" in local[0]["entry"]
    codeql = workflow(project, "codeql.yml")
    assert codeql["jobs"]["analyze"]["steps"][1]["with"]["languages"] == "javascript-typescript"
    assert_ci_valid(project, CHECKS)


@pytest.mark.parametrize("tier", ["mvp", "production", "enterprise"])
def test_presets_generate_valid_pipelines(generate, tier: str) -> None:
    """The express presets (what most users run) produce a pipeline every validator accepts."""
    from conftest import preset

    project = generate(**preset(tier))
    assert (project / WORKFLOWS / "ci.yml").is_file()
    assert_ci_valid(project)
