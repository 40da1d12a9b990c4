"""Every deploy_target: its native config against its schema or tool, the deploy scripts with
shellcheck, docs/infrastructure.md with pymarkdown; and what the files say."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answers_of, assert_valid, fit_previews, preset
from harness import uncovered
from harness.foundation import markdown_lint
from harness.shell import shell_scripts

WORKERLESS = {"vercel", "netlify", "aws_app_runner", "aws_lambda", "azure_functions"}
CLOUD = {
    "aws": {"container_registry": "ecr", "secrets_manager": "aws_secrets_manager"},
    "gcp": {"container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager", "metrics": "prometheus_grafana"},
    "azure": {"container_registry": "acr", "secrets_manager": "azure_key_vault", "metrics": "prometheus_grafana"},
}
TARGETS = ["vercel", "netlify", "railway", "render", "fly_io", "heroku", "aws_app_runner", "aws_ecs_fargate", "aws_lambda",
           "gcp_cloud_run", "azure_container_apps", "azure_functions", "kubernetes", "docker_swarm", "nomad", "on_prem_compose"]
STRATEGIES = ["rolling", "canary", "blue_green", "rolling"]
CHECKS = {"platform-schema", "procfile", "nomad-job", "caddy", "compose-config", "hadolint", "dockerignore", "yamllint"}
MY_SCRIPTS = ("scripts/deploy.sh", "scripts/rollback.sh", "scripts/smoke-test.sh", "scripts/migrate.sh")


def answers_for(target: str, index: int) -> dict[str, Any]:
    """The production preset on ``target``; strategies, languages and databases rotate across targets."""
    cloud = target.split("_", 1)[0] if target.split("_", 1)[0] in CLOUD else ("aws" if target == "kubernetes" else "")
    answers = {**preset("production"), "deploy_target": target, **CLOUD.get(cloud, {"container_registry": "ghcr",
                                                                                     "secrets_manager": "doppler"})}
    answers["deployment_strategy"] = STRATEGIES[index % 4]
    answers["app_language"] = ["node", "python", "go", "java", "ruby", "dotnet"][index % 6]
    answers["database"] = ["postgresql", "mysql", "mongodb", "none"][index % 4]
    answers["iac_tool"] = "manual" if cloud == "" else "terraform"
    if target in WORKERLESS:
        answers["has_worker"] = False
    if target in ("vercel", "netlify", "aws_lambda", "azure_functions"):
        answers["containerize"] = False
    return fit_previews(answers)


@pytest.mark.parametrize("target", TARGETS)
def test_platform_files_pass_their_validators(generate, target):
    project = generate(**answers_for(target, TARGETS.index(target)))
    assert_valid(project, only=CHECKS)
    mine = [project / path for path in MY_SCRIPTS if (project / path).exists()]
    assert not shell_scripts(project, mine)
    assert not markdown_lint(project, [project / "docs" / "infrastructure.md"])
    assert not [f for f in uncovered(project) if not f.startswith(("monitoring/", ".github/"))]


@pytest.mark.parametrize("target", TARGETS)
def test_deploy_scripts_honour_the_contract(generate, target):
    answers = answers_for(target, TARGETS.index(target))
    project = generate(**answers)
    deploy = (project / "scripts" / "deploy.sh").read_text()
    assert deploy.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in deploy
    assert 'environment="${1:?usage: deploy.sh <environment|pr-NUMBER> <image-ref>}"' in deploy
    assert "pr-[0-9]*) preview=true" in deploy and 'bash "$here/smoke-test.sh"' in deploy
    for secret in __import__("extensions.catalog", fromlist=["load_catalog"]).load_catalog().fact(
            "deploy_target", target, "deploy_secrets"):
        assert secret in deploy
    assert (project / "scripts" / "rollback.sh").exists()
    smoke = (project / "scripts" / "smoke-test.sh").read_text()
    assert all(path in smoke for path in ("/health", "/health/ready", "/health/live"))
    assert (project / "scripts" / "migrate.sh").exists() is (answers["database"] != "none")


def test_canary_steps_drive_the_traffic_shift(generate):
    project = generate(**{**answers_for("gcp_cloud_run", 1), "canary_steps": [10, 50, 100]})
    deploy = (project / "scripts" / "deploy.sh").read_text()
    assert "canary_steps=(10 50)" in deploy and "--to-tags \"candidate=${weight}\"" in deploy


def _load(project: Path, name: str) -> Any:
    text = (project / name).read_text()
    return tomllib.loads(text) if name.endswith(".toml") else (json.loads(text) if name.endswith(".json") else yaml.safe_load(text))


def test_railway_runs_web_and_worker(generate):
    project = generate(**{**answers_for("railway", 2), "has_worker": True})
    web, worker = _load(project, "railway.json"), _load(project, "railway.worker.json")
    assert web["deploy"]["startCommand"] == "/app/server" and web["deploy"]["healthcheckPath"] == "/health/ready"
    assert worker["deploy"]["startCommand"] == "/app/worker" and web["build"]["builder"] == "DOCKERFILE"


def test_render_blueprint_has_every_environment(generate):
    answers = {**answers_for("render", 3), "database": "postgresql", "cache": "redis", "has_worker": True}
    project = generate(**answers)
    blueprint = _load(project, "render.yaml")
    names = {s["name"] for s in blueprint["services"]}
    for env in ("staging", "production"):
        assert {f"my-app-{env}", f"my-app-{env}-worker", f"my-app-{env}-cache"} <= names
    assert {d["name"] for d in blueprint["databases"]} == {"my-app-staging-db", "my-app-production-db"}
    assert blueprint["previews"]["generation"] == "manual"  # on_demand previews


def test_fly_strategy_and_release_command(generate):
    project = generate(**answers_for("fly_io", 4))
    fly = _load(project, "fly.toml")
    assert fly["deploy"]["strategy"] == "rolling"
    assert fly["http_service"]["checks"][0]["path"] == "/health/ready"
    assert fly["deploy"]["release_command"].startswith("sh -c ")


def test_heroku_formation_and_release(generate):
    project = generate(**{**answers_for("heroku", 5), "database": "postgresql", "has_worker": True})
    app = _load(project, "app.json")
    assert set(app["formation"]) == {"web", "worker"}
    assert any(a["plan"].startswith("heroku-postgresql:") for a in app["addons"])
    procfile = (project / "Procfile").read_text().splitlines()
    assert procfile[0] == "web: dotnet App.dll" and "release: dotnet ef database update" in procfile


def test_swarm_and_nomad_roll_back_on_failure(generate):
    swarm = _load(generate(**answers_for("docker_swarm", 13)), "docker-stack.yml")
    assert swarm["services"]["app"]["deploy"]["update_config"]["failure_action"] == "rollback"
    nomad = (generate(**answers_for("nomad", 14)).glob("nomad/*.nomad.hcl")).__next__().read_text()
    assert "auto_revert       = true" in nomad and "canary            = 1" in nomad  # canary strategy


def test_manual_iac_documents_the_steps(generate):
    project = generate(**{**preset("mvp")})
    doc = (project / "docs" / "infrastructure.md").read_text()
    assert "## Manual setup" in doc and "RAILWAY_TOKEN" in doc
    assert answers_of(project)["iac_tool"] == "manual"
