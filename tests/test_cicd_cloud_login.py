"""Cloud login of the generated pipelines (issue 4): what each platform really hands the cloud CLIs and Terraform.

- CircleCI does not interpolate ``$VARIABLES`` in a job's ``environment`` map (documented: "CircleCI does not support
  interpolation when setting environment variables"), so the logins export their settings through ``$BASH_ENV``.
- terraform/modules/ci_oidc creates one deploy identity per environment (``<slug>-<environment>-deploy``, trusted
  only for that environment's subject): platforms without per-environment secret scopes (Jenkins, Azure DevOps)
  read per-environment variables (``AWS_DEPLOY_ROLE_ARN_STAGING``); the others scope them (GitLab environments,
  CircleCI contexts, GitHub environments).
- Every input of the terraform/environments roots without a default and outside terraform.tfvars is passed by
  every platform's plan/apply jobs as ``TF_VAR_<name>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_valid

hcl2 = pytest.importorskip("hcl2")

SLUG = "my-app"
DEPLOYED = ["staging", "production"]
CLOUDS: dict[str, dict[str, Any]] = {
    "aws": {"deploy_target": "aws_ecs_fargate", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager"},
    "gcp": {"deploy_target": "gcp_cloud_run", "container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager"},
    "azure": {"deploy_target": "azure_container_apps", "container_registry": "acr", "secrets_manager": "azure_key_vault"},
    "none": {"deploy_target": "fly_io", "container_registry": "ghcr", "secrets_manager": "doppler"},
}
# The clouds each platform deploys to with Terraform (rules.py refuses CircleCI + Azure, GitLab + Azure with generated IaC,
# Travis + any cloud, CodePipeline off AWS).
PLATFORM_CLOUDS = {
    "github_actions": ["aws", "gcp", "azure"],
    "gitlab_ci": ["aws", "gcp"],
    "circleci": ["aws", "gcp"],
    "travis": ["none"],
    "jenkins": ["aws", "gcp", "azure"],
    "azure_devops": ["aws", "gcp", "azure"],
    "aws_codepipeline": ["aws"],
}
# The deploy identity's variables (outputs of terraform/modules/ci_oidc), one set per environment.
IDENTITY = {"aws": ["AWS_DEPLOY_ROLE_ARN"], "gcp": ["GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"],
            "azure": ["AZURE_CLIENT_ID"]}
PLAN_IDENTITY = {"aws": ["AWS_PLAN_ROLE_ARN"], "gcp": ["GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER", "GCP_PLAN_SERVICE_ACCOUNT"],
                 "azure": ["AZURE_PLAN_CLIENT_ID"]}


def answers(platform: str, cloud: str, **extra: Any) -> dict[str, Any]:
    return {**CLOUDS[cloud], "tier": "production", "iac_tool": "terraform", "environments": ["development", *DEPLOYED],
            "preview_environments": "none", "repository": "acme/shop", "project_slug": SLUG, "ci_platform": platform,
            "branch_strategy": "github_flow", "metrics": "prometheus_grafana", **extra}


def oidc_env(cloud: str) -> dict[str, str]:
    from extensions.catalog import load_catalog

    return dict(load_catalog().fact("cloud_provider", cloud, "oidc_env"))


def suffixed(name: str, environment: str) -> str:
    return f"{name}_{environment.upper()}"


def unsuffixed(name: str, text: str) -> list[str]:
    """Occurrences of the global (environment-less) variable ``name`` in text."""
    return re.findall(rf"\b{name}\b", text)


# ---- CircleCI: no $ in environment maps, the login exports through BASH_ENV -----------------------------------

def environment_maps(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every ``environment:`` mapping of a CircleCI config (executors, jobs, steps); job parameters named
    ``environment`` (strings) are not maps."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "environment" and isinstance(value, dict):
                found.append((f"{path}.environment", value))
            found += environment_maps(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += environment_maps(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("iac_tool", ["terraform", "pulumi"])
@pytest.mark.parametrize("cloud", PLATFORM_CLOUDS["circleci"])
def test_circleci_environment_values_are_never_expanded_so_the_logins_export_them(generate, cloud: str, iac_tool: str) -> None:
    project = generate(**answers("circleci", cloud, iac_tool=iac_tool))
    config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
    maps = environment_maps(config)
    assert maps, "the jobs set DEPLOY_ENVIRONMENT, OIDC_TOKEN_FILE, ... in environment maps"
    for where, values in maps:
        expanded = {k: v for k, v in values.items() if "$" in str(v)}
        assert not expanded, f"{where}: CircleCI passes these values literally: {expanded}"

    logins = {"cloud-login": oidc_env(cloud)}
    if "cloud-login-plan" in config["commands"]:
        logins["cloud-login-plan"] = {k: re.sub(r"\b(\w+)\b", lambda m: dict(zip(IDENTITY[cloud], PLAN_IDENTITY[cloud], strict=True))
                                                 .get(m[1], m[1]), v).replace("ci-deploy", "ci-plan")
                                      for k, v in oidc_env(cloud).items()}
    for command_name, env in logins.items():
        command = config["commands"][command_name]["steps"][0]["run"]["command"]
        token = re.search(r"circleci run oidc get|CIRCLE_OIDC_TOKEN_V2", command).start()
        for name, value in env.items():
            export = f'export {name}="{value}"'
            assert export in command and command.index(export) < token, f"{command_name} must set {name} before the login"
            assert f'echo "export {name}=\\"${{{name}}}\\""' in command, f"{command_name}: {name} must reach the later steps"
        assert command.index('>> "$BASH_ENV"') < token

    # every job that reaches the cloud logs in first (and so gets the exports)
    jobs = config["jobs"]
    assert "cloud-login" in jobs["deploy"]["steps"]
    assert "cloud-login" in str(jobs["image"]["steps"])
    assert "cloud-login-plan" in jobs["plan"]["steps"]  # every generated IaC tool has a read-only plan identity
    assert_valid(project, only={"circleci"})


@pytest.mark.parametrize("cloud", PLATFORM_CLOUDS["circleci"])
def test_circleci_deploys_and_the_image_push_read_an_environment_context(generate, cloud: str) -> None:
    """CircleCI scopes the identity by context: <slug>-<environment> holds that environment's deploy identity."""
    config = yaml.safe_load((generate(**answers("circleci", cloud)) / ".circleci/config.yml").read_text(encoding="utf-8"))
    jobs = [next(iter(j.items())) for j in config["workflows"]["pipeline"]["jobs"] if isinstance(j, dict)]
    deploys = {body["environment"]: body["context"] for name, body in jobs if name == "deploy"}
    assert deploys == {e: [f"{SLUG}-{e}"] for e in DEPLOYED}
    publish = next(body for name, body in jobs if name == "image" and body["publish"])
    assert publish["context"] == [f"{SLUG}-ci", f"{SLUG}-staging"]  # the image goes to staging first


# ---- Jenkins: each deploy stage uses its own environment's identity -------------------------------------------

def jenkins_stage(text: str, title: str) -> str:
    match = re.search(rf"^        stage\('{re.escape(title)}'\) \{{\n(.*?)^        \}}$", text, flags=re.S | re.M)
    assert match, title
    return match[1]


@pytest.mark.parametrize("cloud", PLATFORM_CLOUDS["jenkins"])
def test_jenkins_deploy_stages_use_their_environments_identity(generate, cloud: str) -> None:
    project = generate(**answers("jenkins", cloud))
    text = (project / "Jenkinsfile").read_text(encoding="utf-8")
    for name in IDENTITY[cloud]:
        assert not unsuffixed(name, text), f"{name}: one identity for every environment"
    pipeline_env = re.search(r"^    environment \{\n(.*?)^    \}$", text, flags=re.S | re.M)[1]
    for name in oidc_env(cloud):
        if any(v in oidc_env(cloud)[name] for v in IDENTITY[cloud]):
            assert f"{name} =" not in pipeline_env, f"{name} is set per stage, not for the whole pipeline"

    for environment in DEPLOYED:
        stage = jenkins_stage(text, f"Deploy {environment}")
        others = [o for o in DEPLOYED if o != environment]
        for name in IDENTITY[cloud]:
            assert suffixed(name, environment) in stage, f"Deploy {environment} must use {suffixed(name, environment)}"
            assert not any(suffixed(name, o) in stage for o in others), f"Deploy {environment} reads another environment"
        block = re.search(r"^            environment \{\n(.*?)^            \}$", stage, flags=re.S | re.M)[1]
        if cloud == "aws":
            assert f'AWS_ROLE_ARN = "${{env.AWS_DEPLOY_ROLE_ARN_{environment.upper()}}}"' in block
        elif cloud == "azure":
            assert f'ARM_CLIENT_ID = "${{env.AZURE_CLIENT_ID_{environment.upper()}}}"' in block
            assert f'--username "$AZURE_CLIENT_ID_{environment.upper()}"' in stage
        else:  # each environment's provider has its own audience: its own id token credential
            assert f'OIDC_AUDIENCE = "https://iam.googleapis.com/${{env.GCP_WORKLOAD_IDENTITY_PROVIDER_{environment.upper()}}}"' in block
            assert f"string(credentialsId: '{SLUG}-{environment}-oidc-token', variable: 'OIDC_TOKEN')" in stage
            assert f'create-cred-config "$GCP_WORKLOAD_IDENTITY_PROVIDER_{environment.upper()}"' in stage

    # the pull request plans (jenkins/iac-plan.Jenkinsfile): each environment as its own read-only plan identity
    job = (project / "jenkins/iac-plan.Jenkinsfile").read_text(encoding="utf-8")
    for name in IDENTITY[cloud] + PLAN_IDENTITY[cloud]:
        assert not unsuffixed(name, job), f"{name}: one identity for every environment"
    for environment in DEPLOYED:
        stage = re.search(rf"^ {{16}}stage\('Plan {environment}'\) \{{\n(.*?)^ {{16}}\}}$", job, flags=re.S | re.M)[1]
        others = [o for o in DEPLOYED if o != environment]
        for name in PLAN_IDENTITY[cloud]:
            assert suffixed(name, environment) in stage and not any(suffixed(name, o) in stage for o in others), stage
        assert not any(suffixed(name, environment) in stage for name in IDENTITY[cloud]), "a plan never uses a deploy identity"

    docs = (project / "docs/jenkins.md").read_text(encoding="utf-8")
    for environment in DEPLOYED:
        row = next(line for line in docs.splitlines() if line.strip().startswith(f"| {environment} |"))
        assert all(f"`{suffixed(name, environment)}`" in row for name in IDENTITY[cloud] + PLAN_IDENTITY[cloud]), row
    for name in IDENTITY[cloud]:
        assert not unsuffixed(name, docs.split("## Pull requests")[0].replace("GCP_WORKLOAD_IDENTITY_PROVIDER_<ENVIRONMENT>", "")), name
    assert_valid(project, only={"jenkinsfile"})


# ---- Azure DevOps: per-environment variables next to the per-environment service connections -----------------

@pytest.mark.parametrize("cloud", PLATFORM_CLOUDS["azure_devops"])
def test_azure_devops_jobs_use_their_environments_identity(generate, cloud: str) -> None:
    project = generate(**answers("azure_devops", cloud))
    text = (project / "azure-pipelines.yml").read_text(encoding="utf-8")
    for name in IDENTITY[cloud] + PLAN_IDENTITY[cloud]:
        assert not unsuffixed(name, text.split("\ntrigger:")[1]), f"{name}: one identity for every environment"
    document = yaml.safe_load(text)
    stages = {s["stage"]: s for s in document["stages"]}
    for environment in DEPLOYED:
        others = [o for o in DEPLOYED if o != environment]
        deployment = next(j for j in stages[f"deploy_{environment}"]["jobs"] if "deployment" in j)
        plan = next(j for j in stages["plan"]["jobs"] if j["job"] == f"plan_{environment}")
        for job, names, connection in [(deployment, IDENTITY[cloud], f"{SLUG}-{environment}"),
                                       (plan, PLAN_IDENTITY[cloud], f"{SLUG}-{environment}-plan")]:
            body = yaml.safe_dump(job)
            for name in names:
                assert suffixed(name, environment) in body, f"{job.get('job', 'deploy')}: {suffixed(name, environment)}"
                assert not any(suffixed(name, o) in body for o in others), body
            assert f"OIDC_SERVICE_CONNECTION: {connection}" in body
        if cloud == "aws":
            assert deployment["variables"]["AWS_ROLE_ARN"] == f"$(AWS_DEPLOY_ROLE_ARN_{environment.upper()})"
            assert plan["variables"]["AWS_ROLE_ARN"] == f"$(AWS_PLAN_ROLE_ARN_{environment.upper()})"
        elif cloud == "azure":
            assert deployment["variables"]["ARM_CLIENT_ID"] == f"$(AZURE_CLIENT_ID_{environment.upper()})"
    variables = {v["name"]: v["value"] for v in document["variables"] if "name" in v}
    assert variables["TF_VAR_ci_organization_id"] == "$(System.CollectionId)"  # the vstoken issuer's organisation id
    assert "${" not in variables.get("IMAGE", "")  # variable values take $(macros), never shell syntax
    assert_valid(project, only={"azure-pipelines"})


# ---- GitLab / GitHub: scoped variables apply because the deploy jobs name their environment ---------------------

def test_gitlab_deploy_jobs_name_their_environment_so_scoped_variables_apply(generate) -> None:
    config = yaml.safe_load((generate(**answers("gitlab_ci", "aws")) / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    for environment in DEPLOYED:
        assert config[f"deploy-{environment}"]["environment"]["name"] == environment


def test_github_deploy_jobs_run_in_their_environment(generate) -> None:
    project = generate(**answers("github_actions", "aws"))
    workflow = yaml.safe_load((project / ".github/workflows/deploy-environment.yml").read_text(encoding="utf-8"))
    deploy = workflow["jobs"]["deploy"]
    environment = deploy["environment"]["name"] if isinstance(deploy["environment"], dict) else deploy["environment"]
    assert "inputs.environment" in environment


# ---- every required Terraform input is passed by every platform ------------------------------------------------

def required_inputs(project: Path) -> set[str]:
    """Variables of the terraform/environments roots without a default and not set in their terraform.tfvars."""
    required: set[str] = set()
    for root in sorted((project / "terraform/environments").glob("*")):
        variables = hcl2.load((root / "variables.tf").open(encoding="utf-8")).get("variable", [])
        tfvars = root / "terraform.tfvars"
        assigned = {k.strip('"') for k in hcl2.load(tfvars.open(encoding="utf-8"))} if tfvars.exists() else set()
        for block in variables:
            for name, body in block.items():
                if "default" not in body and name.strip('"') not in assigned:
                    required.add(name.strip('"'))
    return required


def passed_inputs(project: Path, platform: str) -> dict[str, str]:
    """TF_VAR_<name> -> value, as the platform's plan and apply jobs set it."""
    found: dict[str, str] = {}
    if platform == "github_actions":
        for workflow in ("deploy-environment.yml", "iac-plan.yml"):
            env = yaml.safe_load((project / ".github/workflows" / workflow).read_text(encoding="utf-8")).get("env", {})
            names = {k: v for k, v in env.items() if k.startswith("TF_VAR_")}
            found = names if not found else {k: v for k, v in found.items() if k in names}  # both workflows
    elif platform == "gitlab_ci":
        variables = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))["variables"]
        found = {k: v for k, v in variables.items() if k.startswith("TF_VAR_")}
    elif platform == "circleci":
        config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
        commands = [c["steps"][0]["run"]["command"] for n, c in config["commands"].items() if n.startswith("cloud-login")]
        for name in {m for c in commands for m in re.findall(r'echo "export (TF_VAR_\w+)=', c)}:
            if all(f"export {name}=" in c for c in commands):  # the deploy and the plan login
                found[name] = re.search(rf'echo "export {name}=\\"(.*?)\\""', commands[0])[1]
        header = (project / ".circleci/config.yml").read_text(encoding="utf-8").split("\nversion:")[0]
        for name in re.findall(r"set (TF_VAR_\w+) to it in both contexts", header):  # context variables (GCP)
            found[name] = "context"
    elif platform == "jenkins":  # the deploys (Jenkinsfile) and the pull request plans (the iac-plan job)
        for name in ("Jenkinsfile", "jenkins/iac-plan.Jenkinsfile"):
            text = (project / name).read_text(encoding="utf-8")
            block = re.search(r"^    environment \{\n(.*?)^    \}$", text, flags=re.S | re.M)[1]
            names = dict(re.findall(r'^\s+(TF_VAR_\w+) = "(.+)"$', block, flags=re.M))
            found = names if not found else {k: v for k, v in found.items() if k in names}
    elif platform == "azure_devops":
        variables = yaml.safe_load((project / "azure-pipelines.yml").read_text(encoding="utf-8"))["variables"]
        found = {v["name"]: v["value"] for v in variables if v.get("name", "").startswith("TF_VAR_")}
    elif platform == "aws_codepipeline":
        for spec in project.glob("buildspec-*.yml"):
            variables = (yaml.safe_load(spec.read_text(encoding="utf-8")).get("env") or {}).get("variables") or {}
            found.update({k: v for k, v in variables.items() if k.startswith("TF_VAR_")})
    return found


COMBOS = [(platform, cloud) for platform, clouds in PLATFORM_CLOUDS.items() for cloud in clouds]


@pytest.mark.parametrize(("platform", "cloud"), COMBOS)
def test_every_required_terraform_input_is_passed_by_the_pipeline(generate, platform: str, cloud: str) -> None:
    project = generate(**answers(platform, cloud, cost_alerts=True))
    if cloud == "none":  # Travis: no cloud, so no terraform/environments roots to plan or apply
        assert not (project / "terraform").exists()
        return
    required = required_inputs(project)
    passed = passed_inputs(project, platform)
    missing = {name for name in required if f"TF_VAR_{name}" not in passed}
    assert not missing, f"{platform}: terraform plan/apply would stop on the unset variables {sorted(missing)}"
    assert all(value and value not in ('""', "''") for value in passed.values()), passed
    if cloud == "gcp":
        assert "billing_account" in required  # cost_alerts: the budget's billing account (GCP_BILLING_ACCOUNT)


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Sub, !Ref, ...) as plain values."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def test_codepipeline_deploys_with_rights_of_its_own_and_pushes_to_its_repository(generate):
    """CodePipeline has no OIDC deploy identity: its CodeBuild deploy role holds the apply/deploy rights itself."""
    from conftest import assert_valid, fit_previews, preset

    answers = fit_previews({**preset("production"), "deploy_target": "aws_ecs_fargate", "container_registry": "ecr",
                            "secrets_manager": "aws_secrets_manager", "ci_platform": "aws_codepipeline",
                            "notifications": ["slack"], "preview_environments": "none"})
    project = generate(**answers)
    stack = yaml.load((project / "aws" / "codepipeline.yml").read_text(), Loader=_CfnLoader)["Resources"]
    deploy = stack["DeployRole"]["Properties"]
    assert any("PowerUserAccess" in arn for arn in deploy["ManagedPolicyArns"])
    statements = deploy["Policies"][0]["PolicyDocument"]["Statement"]
    assert not any(s["Action"] == "sts:AssumeRole" for s in statements), "no role to assume exists"
    attach = next(s for s in statements if s["Action"] == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"])
    assert not any("AdministratorAccess" in arn for arn in attach["Condition"]["ArnLike"]["iam:PolicyARN"])
    assert stack["ImageRepository"]["Properties"]["ImageScanningConfiguration"]["ScanOnPush"] is True
    assert_valid(project, only={"codepipeline"})
