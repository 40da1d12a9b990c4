"""Per-pull-request previews on the targets whose previews are IaC stacks (preview_stacks: iac).

App Runner, ECS Fargate, Lambda, Container Apps and Functions: terraform/environments/preview is one root
module with a workspace per pull request. The generated trees pass the whole validation harness, the root
is read with python-hcl2, and scripts/preview.sh runs against stub CLIs that record their arguments.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answers_of, assert_valid, hcl_of, preset

AWS = {"container_registry": "ecr", "secrets_manager": "aws_secrets_manager"}
AZURE = {"container_registry": "acr", "secrets_manager": "azure_key_vault", "metrics": "prometheus_grafana"}
TARGETS: dict[str, dict[str, Any]] = {
    "aws_app_runner": {**AWS, "has_worker": False, "database": "mysql", "cache": "none"},
    "aws_ecs_fargate": {**AWS, "database": "postgresql", "cache": "redis"},
    "aws_lambda": {**AWS, "has_worker": False, "containerize": False, "app_language": "python", "database": "mongodb"},
    "azure_container_apps": {**AZURE, "database": "postgresql"},
    "azure_functions": {**AZURE, "has_worker": False, "containerize": False, "database": "mongodb",
                        "deployment_strategy": "blue_green"},
}
BINARY = {"terraform": "terraform", "opentofu": "tofu"}
ROOT = "-chdir=terraform/environments/preview"
# terraform on GitHub Actions, opentofu on GitLab CI: both platforms that run previews are validated.
PLATFORM = {"terraform": "github_actions", "opentofu": "gitlab_ci"}
CASES = [(target, tool, mode) for target in TARGETS for tool in BINARY for mode in ("full_stack", "on_demand")]
CASES.append(("aws_ecs_fargate", "opentofu", "frontend_only"))


def _id(case: tuple[str, str, str]) -> str:
    return "-".join(case)


def _platform(target: str, tool: str) -> str:
    """GitLab merge-request tokens have no exact subject, which Azure federation needs: Azure previews run on GitHub."""
    return "github_actions" if target.startswith("azure") else PLATFORM[tool]


def _project(generate, target: str, tool: str, mode: str) -> Path:
    answers = {**preset("production"), "environments": ["development", "staging", "production"], **TARGETS[target],
               "deploy_target": target, "iac_tool": tool, "preview_environments": mode, "preview_ttl_hours": 3,
               "ci_platform": _platform(target, tool), "notifications": ["slack"]}
    return generate(**answers)


_hcl = hcl_of  # python-hcl2 with plain strings (conftest)


def _module(main: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m[name] for m in main.get("module", []) if name in m)


# What previews change: Terraform, the scripts, the CI files and the docs (every other validator: see below).
PREVIEW_CHECKS = {"terraform", "shell", "github-actions", "gitlab-ci", "yamllint", "pymarkdown"}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_preview_projects_pass_their_validators(generate, case):
    """terraform fmt, python-hcl2, checkov (documented skips), shellcheck, actionlint / GitLab schema, yamllint, markdown."""
    assert_valid(_project(generate, *case), only=PREVIEW_CHECKS)


@pytest.mark.parametrize("case", [("aws_ecs_fargate", "terraform", "on_demand"), ("azure_functions", "opentofu", "full_stack")],
                         ids=_id)
def test_preview_projects_pass_the_whole_harness(generate, case):
    assert_valid(_project(generate, *case))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_preview_root_is_one_workspace_per_pull_request(generate, case):
    target, tool, mode = case
    project = _project(generate, target, tool, mode)
    a = answers_of(project)
    assert a["preview_environments"] == mode and a["iac_tool"] == tool
    root = project / "terraform" / "environments" / "preview"
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["backend.tf", "main.tf", "outputs.tf", "terraform.tfvars", "variables.tf", "versions.tf"])

    backend = _hcl(root / "backend.tf")["terraform"][0]["backend"][0]
    kind, settings = next(iter(backend.items()))
    if target.startswith("aws_"):
        # S3: preview/<workspace>/terraform.tfstate, locked by its lock file, never the persistent environments' keys
        assert kind == "s3"
        assert settings["workspace_key_prefix"] == "preview" and settings["key"] == "terraform.tfstate"
        assert settings["use_lockfile"] is True and settings["encrypt"] is True
    else:
        # azurerm: the workspace is appended to the key (preview.tfstateenv:pr-<n>), locked by a blob lease
        assert kind == "azurerm" and settings["key"] == "preview.tfstate" and settings["use_azuread_auth"] is True

    main = _hcl(root / "main.tf")
    assert main["locals"][0]["environment"] == "${terraform.workspace}"
    assert main["locals"][0]["name"].endswith("-${terraform.workspace}")
    guard = main["resource"][0]["terraform_data"]["workspace"]["lifecycle"][0]["precondition"][0]
    assert "^pr-[0-9]+$" in guard["condition"] and "terraform.workspace" in guard["condition"]
    app = _module(main, "app")
    assert app["source"] == f"../../modules/{target}"
    assert app["environment"] == "${local.environment}"
    assert app["host"] == "${local.environment}." + a["domain"]
    assert app["image"] == "${var.image}" and app["min_instances"] == "${var.min_instances}"
    if target == "aws_ecs_fargate":
        assert app["traffic_shifting"] is False, "previews roll: no CodeDeploy blue/green per pull request"
    names = {name for m in main["module"] for name in m}
    assert "ci_oidc" not in names and "budget" not in names, "account-wide identity and budgets stay in the persistent roots"

    data = _module(main, "data")
    own_database = mode != "frontend_only"
    assert data["database_engine"] == (TARGETS[target]["database"] if own_database else "none")
    assert data["cache"] is (a["cache"] == "redis" and own_database)
    if target.startswith("aws_"):
        assert data["ephemeral"] is True, "no final snapshot, no AWS Backup vault, secret deleted at once"
        assert data["secret_name"].endswith("/${local.environment}")
        assert _module(main, "network")["source"] == "../../modules/network"
    else:
        assert data["key_vault_name"].endswith("-kv-${local.environment}")

    tfvars = {k: v for k, v in _hcl(root / "terraform.tfvars").items() if not k.startswith("__")}  # python-hcl2 comments
    assert tfvars["deletion_protection"] is False and tfvars["high_availability"] is False
    assert tfvars["min_instances"] == 1 and tfvars["max_instances"] == 1
    assert tfvars["backup_retention_days"] == 7, "the shortest retention checkov accepts; backups go with the database"
    staging = _hcl(project / "terraform" / "environments" / "staging" / "terraform.tfvars")
    assert tfvars["cpu"] <= staging["cpu"] and tfvars["memory"] <= staging["memory"]
    assert "image" not in tfvars, "the image comes from preview.sh (-var image=$IMAGE)"
    variables = {name for v in _hcl(root / "variables.tf")["variable"] for name in v}
    assert set(tfvars) | {"image"} == variables, "every variable is set, nothing undeclared"
    outputs = _hcl(root / "outputs.tf")["output"][0]["url"]
    assert outputs["value"].startswith("https://${local.environment}.")

    data_module = (project / "terraform" / "modules" / "data" / "main.tf").read_text(encoding="utf-8")
    if target.startswith("aws_") and own_database:
        assert "skip_final_snapshot                   = var.ephemeral" in data_module
        assert "recovery_window_in_days = var.ephemeral ? 0 : 30" in data_module


# --- scripts/preview.sh against stub CLIs ------------------------------------------------------------------------

STUB = """#!/usr/bin/env bash
# Records its arguments (one JSON array per line) and answers like the real CLI would.
python3 -c 'import json, sys; print(json.dumps([sys.argv[1]] + sys.argv[2:]))' "$(basename "$0")" "$@" >>"$STUB_LOG"
case " $* " in
  *" workspace list "*) printf '* default\\n%s' "${STUB_WORKSPACES:-}" ;;
  *" describe-secret "*) if [ -n "${STUB_SEEDED:-}" ]; then printf 'v1\\tAWSCURRENT'; fi ;;
  *" describe-db-instances "* | *" describe-db-clusters "*) printf 'db.internal\\t5432\\tarn:master' ;;
  *" --secret-id arn:master "*) printf '{"username": "app", "password": "p@ss/w"}' ;;
  *" --secret-id my-app/preview "*) printf '{"SENTRY_DSN": "https://sandbox@sentry.example.com/1"}' ;;
  *" describe-replication-groups "*) printf 'cache.internal' ;;
esac
if [ -n "${STUB_FAIL:-}" ] && [[ " $* " == *" ${STUB_FAIL} "* ]]; then
  echo "stub: failing on ${STUB_FAIL}" >&2
  exit 1
fi
if [ "$(basename "$0")" = "curl" ]; then printf '200'; fi
exit 0
"""


def _stubs(tmp: Path) -> dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("terraform", "tofu", "aws", "az", "curl", "npm", "npx", "pulumi"):
        path = bin_dir / name
        path.write_text(STUB, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    log = tmp / "calls.jsonl"
    log.write_text("", encoding="utf-8")
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log), "SMOKE_RETRIES": "1",
            "SMOKE_DELAY": "0"}


def _preview(project: Path, env: dict[str, str], *args: str, **extra: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = Path(env["STUB_LOG"])
    log.write_text("", encoding="utf-8")
    result = subprocess.run(["bash", "scripts/preview.sh", *args], cwd=project, env={**env, **extra},
                            capture_output=True, text=True, timeout=60, check=False)
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return result, [c for c in calls if c[0] != "curl"]


def _image(target: str, tmp: Path) -> str:
    if target in ("aws_lambda", "azure_functions"):
        package = tmp / "app.zip"
        package.write_bytes(b"PK\x05\x06" + bytes(18))
        return str(package)
    return "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-app:pr-42-abc"


@pytest.mark.parametrize("case", [c for c in CASES if c[2] == "full_stack"], ids=_id)
def test_preview_up_and_down_run_the_iac_tool(generate, tmp_path, case):
    target, tool, mode = case
    project = _project(generate, target, tool, mode)
    binary = BINARY[tool]
    env = _stubs(tmp_path)
    image = _image(target, tmp_path)

    result, calls = _preview(project, env, "up", "42", IMAGE=image)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "preview ready: https://pr-42." in result.stdout
    apply = [binary, ROOT, "apply", "-input=false", "-auto-approve", "-lock-timeout=5m"]
    init = [binary, ROOT, "init", "-input=false"]
    select = [binary, ROOT, "workspace", "select", "-or-create=true", "pr-42"]
    if target.startswith("aws_"):
        if target == "aws_lambda":
            # a new preview has no artifacts bucket: create it, upload the package, then apply on its S3 key
            key = calls[2][-2].removeprefix("image=")
            assert calls[:3] == [init, select, [*apply, "-var", f"image={key}", "-target=module.app.aws_s3_bucket.artifacts"]]
            assert re.fullmatch(r"previews/\d{14}-app\.zip", key), key
            assert calls[3] == ["aws", "s3", "cp", image, f"s3://my-app-pr-42-artifacts/{key}"]
            image, calls = key, calls[4:]
            # after the apply: publish the package and point the live alias at it (the stack ignores code changes)
            calls, publish = calls[:-3], calls[-3:]
            assert publish[0][:3] == ["aws", "lambda", "update-function-code"] and publish[0][publish[0].index("--s3-key") + 1] == key
            assert [c[:3] for c in publish[1:]] == [["aws", "lambda", "wait"], ["aws", "lambda", "update-alias"]]
        # first deploy: the data stack, the preview's secret values, then the whole stack
        assert calls[0] == ["aws", "secretsmanager", "describe-secret", "--secret-id", "my-app/pr-42", "--query", "VersionIdsToStages",
                            "--output", "text"]
        assert calls[1:4] == [init, select, [*apply, "-var", f"image={image}", "-target=module.data"]]
        assert calls[-3:] == [init, select, [*apply, "-var", f"image={image}"]]
        put = next(c for c in calls if c[1:3] == ["secretsmanager", "put-secret-value"])
        assert put[3:5] == ["--secret-id", "my-app/pr-42"]
        values = json.loads(put[put.index("--secret-string") + 1])
        a = answers_of(project)
        assert values["SENTRY_DSN"] == "https://sandbox@sentry.example.com/1", "shared sandbox values from my-app/preview"
        expected_url = {
            "postgresql": "postgresql://app:p%40ss%2Fw@db.internal:5432/my_app_pr_42?sslmode=require",
            "mysql": "mysql://app:p%40ss%2Fw@db.internal:5432/my_app_pr_42?ssl-mode=REQUIRED",
            "mongodb": "mongodb://app:p%40ss%2Fw@db.internal:5432/?tls=true&replicaSet=rs0&readPreference=secondaryPreferred"
                       "&retryWrites=false",
        }[a["database"]]
        assert values["MONGODB_URI" if a["database"] == "mongodb" else "DATABASE_URL"] == expected_url
        if a["cache"] == "redis":
            assert values["REDIS_URL"] == "rediss://cache.internal:6379"
        assert all(isinstance(v, str) for v in values.values())

        # a preview that exists keeps its secret: one apply
        result, calls = _preview(project, env, "up", "42", IMAGE=image, STUB_SEEDED="1")
        assert result.returncode == 0, result.stdout + result.stderr
        if target == "aws_lambda":
            calls = calls[:-3]  # publish the package, move the alias (checked above)
        assert calls[1:] == [init, select, [*apply, "-var", f"image={image}"]]
    elif target == "azure_functions":
        assert calls == [init, select, [*apply, "-var", f"image={image}"],
                         ["az", "functionapp", "deployment", "source", "config-zip", "--resource-group", "rg-my-app-pr-42",
                          "--name", "my-app-pr-42", "--src", image, "--output", "none"]]
    else:
        assert calls == [init, select, [*apply, "-var", f"image={image}"]]

    # down: destroy the workspace's stack, then the workspace itself
    result, calls = _preview(project, env, "down", "42", STUB_WORKSPACES="  pr-41\n  pr-42\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == [
        init,
        [binary, ROOT, "workspace", "list"],
        [binary, ROOT, "workspace", "select", "pr-42"],
        [binary, ROOT, "destroy", "-input=false", "-auto-approve", "-lock-timeout=5m", "-var", "image=none"],
        [binary, ROOT, "workspace", "select", "default"],
        [binary, ROOT, "workspace", "delete", "-lock-timeout=5m", "pr-42"],
    ]
    assert "preview destroyed: pr-42" in result.stdout

    # down for a pull request that never had a preview (on-demand, or closed before its first deploy): a no-op
    result, calls = _preview(project, env, "down", "7", STUB_WORKSPACES="  pr-42\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == [init, [binary, ROOT, "workspace", "list"]]
    assert f"no {binary} workspace pr-7: nothing to destroy" in result.stdout


@pytest.mark.parametrize("target", ["aws_ecs_fargate", "azure_container_apps"])
def test_a_failing_iac_command_fails_the_preview(generate, tmp_path, target):
    """set -e does not stop on a failure inside an && list: deploy.sh checks the whole command."""
    project = _project(generate, target, "terraform", "full_stack")
    env = _stubs(tmp_path)
    image = _image(target, tmp_path)
    for failing in ("init", "apply"):
        result, calls = _preview(project, env, "up", "42", IMAGE=image, STUB_FAIL=failing)
        assert result.returncode != 0, f"{failing} failed but preview.sh succeeded: {result.stdout}"
        assert "preview ready" not in result.stdout
    result, _ = _preview(project, env, "down", "42", STUB_WORKSPACES="  pr-42\n", STUB_FAIL="destroy")
    assert result.returncode != 0 and "preview destroyed" not in result.stdout
    result, calls = _preview(project, env, "up", "42")  # no image
    assert result.returncode == 2 and calls == []


def test_deploy_sh_runs_the_catalog_preview_commands_of_any_iac_tool(generate, tmp_path):
    """deploy.sh takes preview_up / preview_down from the iac_tool catalog entry, not a hard-coded terraform."""
    from extensions.catalog import load_catalog

    project = generate(**{**preset("production"), "environments": ["development", "staging", "production"],
                          **TARGETS["aws_ecs_fargate"], "deploy_target": "aws_ecs_fargate", "iac_tool": "pulumi",
                          "preview_environments": "full_stack", "ci_platform": "github_actions"})
    stubs = _stubs(tmp_path)
    log = Path(stubs["STUB_LOG"])
    for action, fact, image in (("up", "preview_up", "registry.example.com/my-app:pr-42"), ("down", "preview_down", "")):
        env = {**stubs, "IMAGE": image}  # preview.sh down passes no image
        command = load_catalog().fact("iac_tool", "pulumi", fact).replace("{name}", "pr-42")
        log.write_text("", encoding="utf-8")
        subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=60, check=True)
        expected = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        result, calls = _preview(project, env, action, "42")
        assert result.returncode == 0, result.stdout + result.stderr
        assert calls == expected and any(c[0] == "pulumi" for c in calls)


def test_deploy_sh_refuses_destroying_a_persistent_environment(generate, tmp_path):
    project = _project(generate, "aws_app_runner", "terraform", "full_stack")
    env = {**_stubs(tmp_path), "PREVIEW_DESTROY": "true"}
    result = subprocess.run(["bash", "scripts/deploy.sh", "staging", ""], cwd=project, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2 and "only removes previews" in result.stderr
    assert Path(env["STUB_LOG"]).read_text(encoding="utf-8") == ""


# --- CI: the preview jobs can run the IaC tool --------------------------------------------------------------------

def _steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in job["steps"])


@pytest.mark.parametrize("target", ["aws_ecs_fargate", "azure_container_apps"])
def test_github_preview_jobs_set_up_the_iac_cli_and_log_in(generate, target):
    from extensions.catalog import load_catalog

    project = _project(generate, target, "terraform", "on_demand")
    setup = load_catalog().fact("iac_tool", "terraform", "setup")
    workflows = project / ".github" / "workflows"
    for name, job_name, command in (("preview-deploy.yml", "preview-deploy", 'bash scripts/preview.sh up "$PR_NUMBER"'),
                                    ("preview-cleanup.yml", "preview-cleanup", 'bash scripts/preview.sh down "$CLOSED_PR"')):
        job = yaml.safe_load((workflows / name).read_text(encoding="utf-8"))["jobs"][job_name]
        steps = _steps_text(job)
        assert job["permissions"]["id-token"] == "write"
        environment = job["environment"]
        assert (environment if isinstance(environment, str) else environment["name"]) == "preview", "one identity creates and destroys"
        login = "aws-actions/configure-aws-credentials@" if target.startswith("aws_") else "azure/login@"
        assert steps.index(login) < steps.index(setup) < steps.index(command), "login, IaC CLI, then the preview"
        assert '"$HOME/.local/bin" >> "$GITHUB_PATH"' in steps
        if target.startswith("azure_"):
            # the azurerm provider and backend authenticate with the job's OIDC token
            assert job["env"]["ARM_USE_OIDC"] == "true"
            assert job["env"]["ARM_SUBSCRIPTION_ID"] == "${{ vars.AZURE_SUBSCRIPTION_ID }}"


def test_github_previews_without_an_iac_stack_do_not_install_it(generate):
    project = generate(**{**preset("production"), "deploy_target": "gcp_cloud_run", "container_registry": "artifact_registry",
                          "secrets_manager": "gcp_secret_manager", "metrics": "prometheus_grafana", "iac_tool": "terraform",
                          "preview_environments": "full_stack", "ci_platform": "github_actions"})
    text = (project / ".github" / "workflows" / "preview-deploy.yml").read_text(encoding="utf-8")
    assert "releases.hashicorp.com/terraform" not in text and "ARM_USE_OIDC" not in text
    cleanup = yaml.safe_load((project / ".github" / "workflows" / "preview-cleanup.yml").read_text(encoding="utf-8"))
    assert "environment" not in cleanup["jobs"]["preview-cleanup"]


# GitLab previews on Azure are refused (merge-request tokens have no exact subject): tests/test_rules.py.
@pytest.mark.parametrize("target", ["aws_lambda", "aws_ecs_fargate"])
def test_gitlab_preview_jobs_set_up_the_iac_cli_and_log_in(generate, target):
    from extensions.catalog import load_catalog

    project = _project(generate, target, "opentofu", "on_demand")
    ci = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    setup = load_catalog().fact("iac_tool", "opentofu", "setup")
    deploy_base = ci[".deploy"]
    assert any(setup in line for line in deploy_base["before_script"]), deploy_base["before_script"]
    assert any("OIDC_TOKEN" in line for line in deploy_base["before_script"])
    cloud = ci[".cloud"]
    assert "OIDC_TOKEN" in cloud["id_tokens"]
    assert cloud["variables"]["AWS_WEB_IDENTITY_TOKEN_FILE"] == "$OIDC_TOKEN_FILE"
    for job, command in (("preview-deploy", 'bash scripts/preview.sh up "$CI_MERGE_REQUEST_IID"'),
                         ("preview-cleanup", 'bash scripts/preview.sh down "$CI_MERGE_REQUEST_IID"')):
        assert ci[job]["extends"] == ".deploy" and ci[job]["script"] == [command]
    assert ci["preview-deploy"]["environment"]["auto_stop_in"] == "3 hours"


def test_docs_describe_the_preview_stack(generate):
    project = _project(generate, "aws_ecs_fargate", "opentofu", "frontend_only")
    infra = (project / "docs" / "infrastructure.md").read_text(encoding="utf-8")
    assert "## Preview environments" in infra and "terraform/environments/preview/" in infra
    assert "tofu -chdir=\"terraform/environments/preview\" workspace select -or-create=true pr-<number>" in infra
    assert "no database of its own" in infra
    operations = (project / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "without a database of its own" in operations and "OpenTofu stack" in operations
