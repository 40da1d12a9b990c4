"""GitLab CI: rules per branch strategy, the deploy chain and its manual gate, OIDC id_tokens, review apps.

Validated by check-jsonschema (vendor.gitlab-ci) and shellcheck on every script block.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_valid
from harness.ci import assert_ci_valid

BASE = {"tier": "production", "ci_platform": "gitlab_ci", "environments": ["development", "staging", "production"],
        "notifications": ["slack"]}
CHECKS = {"gitlab-ci", "yamllint", "pymarkdown", "codeowners", "renovate", "pre-commit"}


def pipeline(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))


def rule_ifs(job: dict[str, Any]) -> list[str]:
    return [r.get("if", "") for r in job.get("rules", [])]


@pytest.mark.parametrize(("strategy", "auto"), list(itertools.product(
    ["trunk_based", "github_flow", "git_flow"], ["staging_auto_production_manual", "production_auto", "manual"])))
def test_rules_and_deploy_chain(generate, strategy: str, auto: str) -> None:
    project = generate(**BASE, branch_strategy=strategy, auto_deploy=auto)
    ci = pipeline(project)
    workflow_ifs = rule_ifs(ci["workflow"])
    assert workflow_ifs[0] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    expected = {"trunk_based": "$CI_COMMIT_BRANCH",
                "github_flow": '$CI_COMMIT_BRANCH == "main"',
                "git_flow": '$CI_COMMIT_BRANCH == "main" || $CI_COMMIT_BRANCH == "develop" || '
                            "$CI_COMMIT_BRANCH =~ /^release\\/.*$/ || $CI_COMMIT_BRANCH =~ /^hotfix\\/.*$/ || "
                            "$CI_COMMIT_TAG =~ /^v.*$/"}[strategy]
    assert workflow_ifs[3] == expected  # after merge requests, schedules and the duplicate-pipeline guard

    assert ci["stages"][:3] == ["test", "image", "plan"]
    assert ci["stages"].index("deploy-staging") < ci["stages"].index("deploy-production")
    assert ci["build-image"]["needs"] == ["lint", "typecheck", "test", "build", "dependency-audit", "secret-scan"]
    staging, production = ci["deploy-staging"], ci["deploy-production"]
    assert [n["job"] for n in production["needs"]] == ["build-image", "deploy-staging"]
    assert staging["environment"]["name"] == "staging" and production["environment"]["name"] == "production"
    assert staging["variables"]["DEPLOY_ENVIRONMENT"] == "staging"
    staging_when = staging["rules"][0].get("when", "on_success")
    production_when = production["rules"][0].get("when", "on_success")
    assert (staging_when, production_when) == {
        "staging_auto_production_manual": ("on_success", "manual"),
        "production_auto": ("on_success", "on_success"),
        "manual": ("manual", "manual"),
    }[auto]
    if strategy == "git_flow":
        assert "develop" in staging["rules"][0]["if"] and "develop" not in production["rules"][0]["if"]
        assert "$CI_COMMIT_TAG =~ /^v.*$/" in production["rules"][0]["if"]
    else:
        assert staging["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "push" && ($CI_COMMIT_BRANCH == "main")'
    assert_ci_valid(project, CHECKS)


def test_deploy_template_runs_the_contract_scripts_with_oidc(generate) -> None:
    project = generate(**BASE, deploy_target="aws_ecs_fargate", preview_environments="none", mode="full",
                       deployment_strategy="blue_green", rollback_automation="metric_based",
                       rollback_error_rate_pct=3.0, db_migrations="expand_contract")
    ci = pipeline(project)
    deploy = ci[".deploy"]
    assert deploy["extends"] == ".cloud"
    assert ci[".cloud"]["id_tokens"]["OIDC_TOKEN"]["aud"] == "sts.amazonaws.com"
    assert ci[".cloud"]["variables"]["AWS_WEB_IDENTITY_TOKEN_FILE"] == "$OIDC_TOKEN_FILE"
    script = "\n".join(deploy["script"])
    order = ["terraform -chdir=", "bash scripts/migrate.sh expand", 'bash scripts/deploy.sh "$DEPLOY_ENVIRONMENT"',
             'bash scripts/smoke-test.sh "$DEPLOY_URL"', "-v max=3.0", "bash scripts/migrate.sh contract"]
    positions = [script.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert 'bash scripts/rollback.sh "$DEPLOY_ENVIRONMENT"' in deploy["after_script"][0]
    assert "AWS_SECRET_ACCESS_KEY" not in (project / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert_ci_valid(project, {"gitlab-ci"})


@pytest.mark.parametrize("mode", ["full_stack", "on_demand"])
def test_review_apps_per_merge_request(generate, mode: str) -> None:
    project = generate(**BASE, deploy_target="gcp_cloud_run", preview_environments=mode, preview_ttl_hours=4)
    ci = pipeline(project)
    deploy, cleanup = ci["preview-deploy"], ci["preview-cleanup"]
    assert deploy["environment"]["url"] == "https://pr-$CI_MERGE_REQUEST_IID.my-app.example.com"
    assert deploy["environment"]["on_stop"] == "preview-cleanup"
    assert cleanup["environment"]["action"] == "stop"
    assert deploy["script"] == ['bash scripts/preview.sh up "$CI_MERGE_REQUEST_IID"']
    assert cleanup["script"] == ['bash scripts/preview.sh down "$CI_MERGE_REQUEST_IID"']
    assert deploy["needs"] == ["preview-image"]
    if mode == "on_demand":
        assert deploy["environment"]["auto_stop_in"] == "4 hours"
        assert "preview" in deploy["rules"][0]["if"]
    else:
        assert "auto_stop_in" not in deploy["environment"]
    assert_ci_valid(project, {"gitlab-ci", "shell"})


def test_merge_request_template_release_and_copier_update(generate) -> None:
    project = generate(**BASE, dependency_updates="renovate", update_policy="aggressive", changelog=True)
    ci = pipeline(project)
    assert rule_ifs(ci["release"]) == ["$CI_COMMIT_TAG =~ /^v/"]
    assert "git-cliff --config cliff.toml --latest" in ci["release"]["script"][0]
    assert "$CI_COMMIT_TAG =~ /^v/" in rule_ifs(ci["workflow"])  # tag pipelines exist to publish the release
    assert "copier check-update --quiet ." in ci["copier-update"]["script"][0]
    assert rule_ifs(ci["copier-update"]) == ['$CI_PIPELINE_SOURCE == "schedule" && $COPIER_UPDATE == "true"']
    assert (project / ".gitlab/merge_request_templates/Default.md").is_file()
    assert (project / ".gitlab/CODEOWNERS").is_file()
    assert not (project / ".github").exists()
    assert "gitlabci" in (project / "renovate.json").read_text(encoding="utf-8")
    assert_ci_valid(project, CHECKS | {"pymarkdown"})


# ---- every job that logs in gets exactly the identity of its environment (issue 4) ------------------------------
# GitLab hands a job the variables scoped to the environment it names (environment:name, also with action: prepare)
# plus the unscoped ones. Deploy identities are scoped per environment; the merge request plan jobs name no
# environment (a protected environment would hold back developers' merge requests), so they read per-environment
# variable names (AWS_PLAN_ROLE_ARN_STAGING).

REPO = "acme/shop"
DEPLOYED = ["staging", "production"]
CLOUD_ANSWERS: dict[str, dict[str, Any]] = {
    "aws": {"deploy_target": "aws_ecs_fargate", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager"},
    "gcp": {"deploy_target": "gcp_cloud_run", "container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager"},
    "azure": {"deploy_target": "azure_container_apps", "container_registry": "acr", "secrets_manager": "azure_key_vault"},
}
# The identity variables each cloud's login reads (outputs of the IaC's ci_oidc), by identity.
DEPLOY_IDENTITY = {"aws": ["AWS_DEPLOY_ROLE_ARN"], "gcp": ["GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"],
                   "azure": ["AZURE_CLIENT_ID"]}
PLAN_IDENTITY = {"aws": ["AWS_PLAN_ROLE_ARN"], "gcp": ["GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER", "GCP_PLAN_SERVICE_ACCOUNT"],
                 "azure": ["AZURE_PLAN_CLIENT_ID"]}
PREVIEW_IDENTITY = {"aws": ["AWS_PREVIEW_ROLE_ARN"], "gcp": ["GCP_PREVIEW_WORKLOAD_IDENTITY_PROVIDER", "GCP_PREVIEW_SERVICE_ACCOUNT"],
                    "azure": ["AZURE_PREVIEW_CLIENT_ID"]}
PLAN_JOB = {"terraform": "terraform-plan", "pulumi": "pulumi-preview", "aws_cdk": "cdk-diff", "sst": "sst-diff"}
# what a plan job watches (the SST app lives in sst/, not at the root)
PLAN_CHANGES = {"terraform": "terraform/**/*", "pulumi": "pulumi/**/*", "aws_cdk": "cdk/**/*", "sst": "sst/**/*"}
# (iac_tool, cloud, branch_strategy, preview_environments)
IDENTITY_CASES = {
    "terraform-aws-git_flow": ("terraform", "aws", "git_flow", "none"),
    "terraform-aws-github_flow-previews": ("terraform", "aws", "github_flow", "full_stack"),
    "terraform-gcp-git_flow": ("terraform", "gcp", "git_flow", "none"),
    "terraform-gcp-github_flow-review_apps": ("terraform", "gcp", "github_flow", "full_stack"),
    "pulumi-aws-github_flow": ("pulumi", "aws", "github_flow", "none"),
    "pulumi-aws-git_flow-previews": ("pulumi", "aws", "git_flow", "on_demand"),
    "aws_cdk-aws-github_flow": ("aws_cdk", "aws", "github_flow", "none"),
    "sst-aws-git_flow": ("sst", "aws", "git_flow", "none"),
}


def identity_project(generate, case: str) -> Path:
    iac, cloud, strategy, previews = IDENTITY_CASES[case]
    return generate(**CLOUD_ANSWERS[cloud], tier="production", ci_platform="gitlab_ci", iac_tool=iac, repository=REPO,
                    project_slug="my-app", environments=["development", *DEPLOYED], branch_strategy=strategy,
                    preview_environments=previews, metrics="prometheus_grafana")


def resolved(ci: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its extends applied as GitLab does: hashes merge deeply, everything else is replaced."""
    job = ci[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, resolved(ci, parent))
    return _merge(merged, {k: v for k, v in job.items() if k != "extends"})


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def login_references(job: dict[str, Any]) -> set[str]:
    """The variables a job's cloud login reads: in its variables, its id token's audience and its scripts."""
    texts = [str(v) for v in job.get("variables", {}).values()]
    texts += [str(t.get("aud", "")) for t in job.get("id_tokens", {}).values()]
    texts += [str(line) for key in ("before_script", "script", "after_script") for line in job.get(key, [])]
    return {m for text in texts for m in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text)}


def identities_read(job: dict[str, Any], cloud: str) -> set[str]:
    """The identity variables (any identity, any environment suffix) among a job's login references."""
    names = DEPLOY_IDENTITY[cloud] + PLAN_IDENTITY[cloud] + PREVIEW_IDENTITY[cloud]
    return {r for r in login_references(job) if any(r == n or r.startswith(n + "_") for n in names)}


def suffixed(names: list[str], environment: str) -> set[str]:
    return {f"{n}_{environment.upper()}" for n in names}


@pytest.mark.parametrize("case", list(IDENTITY_CASES))
def test_every_cloud_login_reads_its_own_environments_identity(generate, case: str) -> None:
    """Each job with an id token reads identity variables that only its environment resolves: environment-scoped
    names in a job that names its environment (deploys, build-image, review apps), per-environment names or the
    single preview identity in a job that names none. No job reads a deploy variable without an environment."""
    _, cloud, _, _ = IDENTITY_CASES[case]
    ci = pipeline(identity_project(generate, case))
    logins = [n for n in ci if not n.startswith(".") and isinstance(ci[n], dict) and "id_tokens" in resolved(ci, n)]
    assert {"deploy-staging", "deploy-production", "build-image"} <= set(logins)
    for name in logins:
        job = resolved(ci, name)
        read = identities_read(job, cloud)
        assert read, f"{name} logs in without an identity variable"
        environment = job.get("environment", {}).get("name", "")
        if environment:  # scoped variables resolve per environment
            assert read <= set(DEPLOY_IDENTITY[cloud] + PREVIEW_IDENTITY[cloud]), (name, read)
        else:  # nothing is scoped for it: every name it reads must mean one identity
            assert not read & set(DEPLOY_IDENTITY[cloud]), f"{name} reads a deploy variable but names no environment: {read}"
            per_environment = {e: suffixed(PLAN_IDENTITY[cloud], e) for e in DEPLOYED}
            assert read == set(PREVIEW_IDENTITY[cloud]) or read in per_environment.values(), (name, read)


@pytest.mark.parametrize("case", list(IDENTITY_CASES))
def test_plan_jobs_log_in_as_their_environments_plan_identity(generate, case: str) -> None:
    iac, cloud, _, _ = IDENTITY_CASES[case]
    project = identity_project(generate, case)
    ci = pipeline(project)
    plans = [n for n in ci if isinstance(ci[n], dict) and resolved(ci, n).get("stage") == "plan" and not n.startswith(".")]
    assert plans == [f"{PLAN_JOB[iac]}-{e}" for e in DEPLOYED]  # one job per environment, no matrix
    text = (project / ".gitlab-ci.yml").read_text(encoding="utf-8")
    header = text.split("\nworkflow:")[0]
    for environment in DEPLOYED:
        job = resolved(ci, f"{PLAN_JOB[iac]}-{environment}")
        assert "parallel" not in job and "environment" not in job  # a protected environment must not gate merge requests
        assert job["variables"]["DEPLOY_ENVIRONMENT"] == environment
        assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "changes": [PLAN_CHANGES[iac]]}]
        read = identities_read(job, cloud)
        assert read == suffixed(PLAN_IDENTITY[cloud], environment), read
        if cloud == "aws":
            assert job["variables"]["AWS_ROLE_ARN"] == f"$AWS_PLAN_ROLE_ARN_{environment.upper()}"
            assert job["variables"]["AWS_ROLE_SESSION_NAME"] == "ci-plan"
        else:
            provider = f"GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER_{environment.upper()}"
            assert job["id_tokens"]["OIDC_TOKEN"]["aud"] == f"https://iam.googleapis.com/${{{provider}}}"
            assert f'"${provider}" --service-account="$GCP_PLAN_SERVICE_ACCOUNT_{environment.upper()}"' in job["before_script"][-1]
        assert job["before_script"][-2] == 'printf \'%s\' "$OIDC_TOKEN" > "$OIDC_TOKEN_FILE"'
        # the operator is told which variables to set (scope All: the job names no environment)
        assert all(name in header for name in read) and "scope All and not Protected" in header
        if iac == "terraform":  # and where each value comes from: that environment's root output
            docs = (project / "docs/infrastructure.md").read_text(encoding="utf-8")
            row = next(line for line in docs.splitlines() if line.startswith(f"| plan, `{environment}`"))
            assert all(f"`{name}`" in row for name in read), row
            outputs = (project / f"terraform/environments/{environment}/outputs.tf").read_text(encoding="utf-8")
            assert all(f"CI variable {name.removesuffix('_' + environment.upper())} " in outputs for name in read)
    assert_valid(project, only={"gitlab-ci", "yamllint", "pymarkdown"})


@pytest.mark.parametrize("case", list(IDENTITY_CASES))
def test_build_image_pushes_as_the_first_environments_deploy_identity(generate, case: str) -> None:
    """build-image publishes from every release ref, as the first environment's deploy identity (action: prepare reads
    its scoped variables without recording a deployment): that identity's trust must accept every one of those refs."""
    iac, cloud, strategy, _ = IDENTITY_CASES[case]
    project = identity_project(generate, case)
    ci = pipeline(project)
    build, check = resolved(ci, "build-image"), resolved(ci, "check-image")
    assert build["environment"] == {"name": "staging", "action": "prepare"}
    assert identities_read(build, cloud) == set(DEPLOY_IDENTITY[cloud]) and build["variables"]["PUBLISH"] == "true"
    assert "environment" not in check and "id_tokens" not in check and "PUBLISH" not in check.get("variables", {})
    (publish,) = [r["if"] for r in build["rules"]]
    assert [r.get("if") for r in check["rules"][:2]] == ['$CI_PIPELINE_SOURCE == "schedule"', publish]
    assert all(r.get("when") == "never" for r in check["rules"][:2]) and check["rules"][2] == {"when": "on_success"}
    assert next(n["job"] for n in ci["deploy-staging"]["needs"]) == "build-image"
    refs = re.findall(r'\$CI_COMMIT_(BRANCH|TAG) (==|=~) (?:"([^"]+)"|/\^(.*?)\$/)', publish)
    expected = {"git_flow": 4, "github_flow": 1}[strategy]
    assert len(refs) == expected, publish
    if iac != "terraform":
        return
    from test_cicd_oidc import trust

    staging = trust(project, cloud, "staging")
    for kind, _, exact, pattern in refs:
        name = exact or pattern.replace("\\/", "/").replace(".*", "1.4")
        subject = f"project_path:{REPO}:ref_type:{'branch' if kind == 'BRANCH' else 'tag'}:ref:{name}"
        assert staging.matches(subject), f"staging's deploy identity does not trust {subject} that publishes"
