"""GitLab CI: rules per branch strategy, the deploy chain and its manual gate, OIDC id_tokens, review apps.

Validated by check-jsonschema (vendor.gitlab-ci) and shellcheck on every script block.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
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
