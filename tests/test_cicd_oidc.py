"""OIDC federation lines up: what each CI deploy job requests is what terraform/modules/ci_oidc trusts.

For every ci_platform x cloud (aws, gcp, azure) the project is generated with Terraform, the HCL is parsed
with python-hcl2, and the issuer, audience and subject the trust accepts (per environment: the root module's
issuer_url/subject, the module's audience and matching rule) are compared with the issuer the platform
signs with, the audience the job asks for in its generated file, and the subject the platform puts in the
token of that job. A mismatch here is a deploy that can never log in. The same holds for the read-only plan
identity and the pull-request plan jobs, whose identity must not be able to change anything.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

hcl2 = pytest.importorskip("hcl2")

REPO = "acme/shop"
SLUG = "my-app"
JENKINS = "https://jenkins.example.com/"
ORG = "0f3c1a9e-org"
UUID = "5b9e2b4c-1111-4d2a-9c7e-2a6f0c1d3e4f"
PROJECT = "7d1f0e2a-2222-4b3c-8d9e-0a1b2c3d4e5f"  # the CircleCI project id (Terraform variable circleci_project_id)
ENVIRONMENTS = ["development", "staging", "production"]
DEPLOYED = ["staging", "production"]
CLOUDS: dict[str, dict[str, Any]] = {
    "aws": {"deploy_target": "aws_ecs_fargate", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager"},
    "gcp": {"deploy_target": "gcp_cloud_run", "container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager"},
    "azure": {"deploy_target": "azure_container_apps", "container_registry": "acr", "secrets_manager": "azure_key_vault"},
}
PLATFORMS = ["github_actions", "gitlab_ci", "circleci", "jenkins", "azure_devops"]
# Refused by rules.py (azure_federation_needs_exact_subjects): CircleCI's subjects vary per project and user.
REFUSED = {("circleci", "azure")}
COMBOS = [(p, c) for p in PLATFORMS for c in CLOUDS if (p, c) not in REFUSED]
# The issuer each platform signs its tokens with (CI organisation ORG, Jenkins at JENKINS).
ISSUERS = {"github_actions": "https://token.actions.githubusercontent.com", "gitlab_ci": "https://gitlab.com",
           "circleci": f"https://oidc.circleci.com/org/{ORG}", "jenkins": f"{JENKINS}oidc",
           "azure_devops": f"https://vstoken.dev.azure.com/{ORG}"}
GCP_AUDIENCE = "https://iam.googleapis.com/${GCP_WORKLOAD_IDENTITY_PROVIDER}"  # the provider's default audience


def answers(platform: str, cloud: str, strategy: str = "github_flow") -> dict[str, Any]:
    return {**CLOUDS[cloud], "tier": "production", "iac_tool": "terraform", "environments": ENVIRONMENTS,
            "preview_environments": "none", "repository": REPO, "project_slug": SLUG, "ci_platform": platform,
            "branch_strategy": strategy, "metrics": "prometheus_grafana"}


# ---- the trust, read from the generated HCL -------------------------------------------------------------

def hcl_string(value: Any, variables: dict[str, str]) -> str:
    """A python-hcl2 string value with its interpolations of input variables evaluated."""
    text = str(value)
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    text = text.replace('\\"', '"')
    for expression, result in variables.items():
        text = text.replace("${" + expression + "}", result)
    assert "${" not in text, f"unevaluated expression in {text!r}"
    return text


def blocks(document: dict[str, Any], kind: str, type_: str) -> list[dict[str, Any]]:
    found = []
    for entry in document.get(kind, []):
        for key, named in entry.items():
            if key.strip('"') == type_:
                found += list(named.values())
    return found


@dataclass
class Trust:
    issuer: str
    audiences: list[str]
    subjects: list[str]
    matches: Any  # callable(subject presented) -> bool
    context: str = ""  # GCP + CircleCI: "required" when the token must list the environment's context id

    @property
    def subject(self) -> str:
        return " | ".join(self.subjects)


HCL_VARIABLES = {'trimsuffix(var.jenkins_url, "/")': JENKINS.rstrip("/"), "var.ci_organization_id": ORG,
                 "var.circleci_project_id": PROJECT}
# terraform/modules/ci_oidc (GCP): each subject becomes a CEL test; with *, an RE2 match (* = WILDCARD[kind]).
GCP_CONDITIONS = ('${[for s in var.%s : strcontains(s, "*") ? "assertion.sub.matches(r\'^${replace(replace(s, ".", "\\\\."), '
                  '"*", "%s")}$\')" : "assertion.sub == \\"${s}\\""]}')
WILDCARD = {"deploy": "[^/]*", "plan": ".*"}


def root_module(project: Path, environment: str) -> dict[str, Any]:
    root = hcl2.load((project / f"terraform/environments/{environment}/main.tf").open(encoding="utf-8"))
    return next(m[k] for m in root["module"] for k in m if k.strip('"') == "ci_oidc")


def named(document: dict[str, Any], kind: str, type_: str, name: str) -> dict[str, Any]:
    for entry in document.get(kind, []):
        for key, found in entry.items():
            if key.strip('"') == type_ and name in {n.strip('"') for n in found}:
                return next(v for n, v in found.items() if n.strip('"') == name)
    raise AssertionError(f"no {kind} {type_}.{name}")


def module_locals(main: dict[str, Any]) -> dict[str, Any]:
    return {k: v for block in main.get("locals", []) for k, v in block.items()}


def trust(project: Path, cloud: str, environment: str, identity: str = "deploy") -> Trust:
    """What ci_oidc accepts for ``identity`` (deploy or the read-only plan identity) in one environment."""
    module = root_module(project, environment)
    issuer = hcl_string(module["issuer_url"], HCL_VARIABLES)
    variable = "subjects" if identity == "deploy" else "plan_subjects"
    subjects = [hcl_string(v, HCL_VARIABLES) for v in module[variable]]
    main = hcl2.load((project / "terraform/modules/ci_oidc/main.tf").open(encoding="utf-8"))
    if cloud == "aws":
        provider = blocks(main, "resource", "aws_iam_openid_connect_provider")[0]
        assert provider["url"] == "${var.issuer_url}"
        role = named(main, "resource", "aws_iam_role", identity)
        document = role["assume_role_policy"].removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}")
        statement = named(main, "data", "aws_iam_policy_document", document)["statement"][0]
        assert statement["actions"] == ['"sts:AssumeRoleWithWebIdentity"']
        conditions = {c["variable"].split(":")[-1].strip('"'): c for c in statement["condition"]}
        assert set(conditions) == {"aud", "sub"}
        assert conditions["aud"]["variable"] == '"${local.issuer_host}:aud"' and conditions["aud"]["test"] == '"StringEquals"'
        audiences = [hcl_string(v, {}) for v in conditions["aud"]["values"]]
        assert set(audiences) <= {hcl_string(v, {}) for v in provider["client_id_list"]}
        assert conditions["sub"]["values"] == f"${{var.{variable}}}"
        assert conditions["sub"]["test"] == '"StringLike"'  # * spans any characters, "/" included
        return Trust(issuer, audiences, subjects, lambda presented: any(fnmatch.fnmatchcase(presented, s) for s in subjects))
    if cloud == "gcp":
        name = "ci" if identity == "deploy" else "plan"
        provider = named(main, "resource", "google_iam_workload_identity_pool_provider", name)
        assert provider["workload_identity_pool_id"] == f"${{google_iam_workload_identity_pool.{name}.workload_identity_pool_id}}"
        oidc = provider["oidc"][0]
        assert oidc["issuer_uri"] == "${var.issuer_url}"
        # without allowed_audiences, the audience must be the provider's own resource name
        default = GCP_AUDIENCE if identity == "deploy" else GCP_AUDIENCE.replace("GCP_", "GCP_PLAN_")
        audiences = [hcl_string(a, {}) for a in oidc["allowed_audiences"]] if "allowed_audiences" in oidc else [default]
        outputs = hcl2.load((project / "terraform/modules/ci_oidc/outputs.tf").open(encoding="utf-8"))["output"]
        out = {k.strip('"'): v for o in outputs for k, v in o.items()}
        prefix = "" if identity == "deploy" else "plan_"
        assert out[f"{prefix}workload_identity_provider"]["value"] == f"${{google_iam_workload_identity_pool_provider.{name}.name}}"
        locals_ = module_locals(main)
        listed = "subject_conditions" if identity == "deploy" else "plan_conditions"
        assert locals_[listed] == GCP_CONDITIONS % (variable, WILDCARD[identity]), locals_[listed]
        context = ""
        if identity == "deploy":
            assert provider["attribute_condition"] == "${local.deploy_condition}"
            condition = locals_["deploy_condition"]
            if condition != '${join(" || ", local.subject_conditions)}':
                required = ('"(${join(\" || \", local.subject_conditions)}) && \'${var.deploy_context_id}\' in '
                            "assertion['oidc.circleci.com/context-ids']\"")
                assert condition == required, condition
                context = "required"
        else:
            assert provider["attribute_condition"] == '${join(" || ", local.plan_conditions)}'
        service_account = "deployer" if identity == "deploy" else "plan"
        binding = named(main, "resource", "google_service_account_iam_member", name)
        assert binding["service_account_id"] == f"${{google_service_account.{service_account}.name}}"
        # the pool has one provider: its condition decides, the binding admits the pool
        assert binding["member"] == f'"principalSet://iam.googleapis.com/${{google_iam_workload_identity_pool.{name}.name}}/*"'

        def one(presented: str, subject: str) -> bool:
            if "*" not in subject:
                return presented == subject
            return bool(re.fullmatch(subject.replace(".", "\\.").replace("*", WILDCARD[identity]), presented))

        return Trust(issuer, audiences, subjects, lambda presented: any(one(presented, s) for s in subjects), context)
    name = "ci" if identity == "deploy" else "plan"
    credential = named(main, "resource", "azurerm_federated_identity_credential", name)
    assert credential["for_each"] == f"${{toset(var.{variable})}}" and credential["subject"] == "${each.value}"
    assert credential["issuer"] == "${var.issuer_url}" and credential["parent_id"] == f"${{azurerm_user_assigned_identity.{name}.id}}"
    assert not any("*" in s for s in subjects), "Entra ID federated credentials match exact subjects only"
    return Trust(issuer, [hcl_string(a, {}) for a in credential["audience"]], subjects, lambda presented: presented in subjects)


# ---- what each CI job asks for, read from its generated file ----------------------------------------------

def github_claims(project: Path, cloud: str, environment: str) -> tuple[str, str]:
    workflows = project / ".github/workflows"
    deploy = yaml.safe_load((workflows / "deploy-environment.yml").read_text(encoding="utf-8"))["jobs"]["deploy"]
    assert deploy["environment"]["name"] == "${{ inputs.environment }}"
    callers = "\n".join(p.read_text(encoding="utf-8") for p in workflows.glob("*.yml"))
    assert re.search(rf"uses: \./\.github/workflows/deploy-environment\.yml(.|\n)*?environment: {environment}\b", callers)
    step = next(s for s in deploy["steps"] if s.get("uses", "").split("@")[0] in
                ("aws-actions/configure-aws-credentials", "google-github-actions/auth", "azure/login"))
    action, settings = step["uses"].split("@")[0], step.get("with", {})
    if action == "aws-actions/configure-aws-credentials":
        audience = settings.get("audience", "sts.amazonaws.com")  # the action's documented default
    elif action == "google-github-actions/auth":
        provider = settings["workload_identity_provider"].replace("${{ vars.", "${").replace(" }}", "}")
        audience = settings.get("audience", f"https://iam.googleapis.com/{provider}")
    else:
        audience = settings.get("audience", "api://AzureADTokenExchange")
    return audience, f"repo:{REPO}:environment:{environment}"  # the sub of a job with `environment:`


def gitlab_claims(project: Path, cloud: str, environment: str) -> tuple[str, str]:
    config = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    job = config[f"deploy-{environment}"]
    chain, name = [], f"deploy-{environment}"
    while name:
        chain.append(name)
        name = config[name].get("extends", "")
    assert ".cloud" in chain, chain
    audience = config[".cloud"]["id_tokens"]["OIDC_TOKEN"]["aud"]
    branch = re.search(r'\$CI_COMMIT_BRANCH == "([^"]+)"', str(job["rules"]))
    assert branch, job["rules"]
    return audience.replace("$GCP", "${GCP"), f"project_path:{REPO}:ref_type:branch:ref:{branch[1]}"


def circleci_claims(project: Path, cloud: str, environment: str) -> tuple[str, str]:
    config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
    assert "cloud-login" in config["jobs"]["deploy"]["steps"]
    command = config["commands"]["cloud-login"]["steps"][0]["run"]["command"]
    claims = re.search(r"circleci run oidc get --claims (.+?) >", command)[1]
    audience = re.search(r'\\?"aud\\?": \\?"(.+?)\\?"', claims)[1]
    return audience, f"org/{ORG}/project/{PROJECT}/user/{UUID}"  # CircleCI's fixed subject format


def jenkins_claims(project: Path, cloud: str, environment: str) -> tuple[str, str]:
    text = (project / "Jenkinsfile").read_text(encoding="utf-8")
    stage = re.search(rf"^        stage\('Deploy {environment}'\) \{{\n(.*?)^        \}}", text, flags=re.S | re.M)[1]
    # the stage's own audience (GCP: its environment's provider, GCP_WORKLOAD_IDENTITY_PROVIDER_<ENVIRONMENT>), else the pipeline's
    pattern = r'^ +OIDC_AUDIENCE = "(.+)"$'
    setting = re.search(pattern, stage, flags=re.M) or re.search(pattern.replace(" +", " {8}"), text, flags=re.M)
    audience = setting[1].replace("${env.", "${").replace(f"_{environment.upper()}}}", "}")
    credential = f"{SLUG}-{environment}-oidc-token" if cloud == "gcp" else f"{SLUG}-oidc-token"  # one audience per credential
    assert f"string(credentialsId: '{credential}', variable: 'OIDC_TOKEN')" in stage
    assert 'grep -Fq -e "\\\\"aud\\\\":\\\\"${OIDC_AUDIENCE}' in stage  # the login checks the audience first
    branch = re.search(r"^\s+branch '([^']+)'$", stage, flags=re.M)[1]
    return audience, f"{JENKINS}job/{SLUG}/job/{branch}/"  # the plugin's default sub: the build's JOB_URL


def azure_devops_claims(project: Path, cloud: str, environment: str) -> tuple[str, str]:
    stages = yaml.safe_load((project / "azure-pipelines.yml").read_text(encoding="utf-8"))["stages"]
    stage = next(s for s in stages if s["stage"] == f"deploy_{environment}")
    deployment = next(j for j in stage["jobs"] if "deployment" in j)
    login = next(s for s in deployment["strategy"]["runOnce"]["deploy"]["steps"] if "SYSTEM_OIDCREQUESTURI" in s.get("script", ""))
    connection = login["env"]["OIDC_SERVICE_CONNECTION"]
    assert login["env"]["OIDC_SERVICE_CONNECTION_ID"] == f"$(OIDC_SERVICE_CONNECTION_ID_{environment.upper()})"
    # Azure DevOps signs for the service connection: fixed audience, sub sc://<organization>/<project>/<connection>
    return "api://AzureADTokenExchange", f"sc://{REPO}/{connection}"


CLAIMS = {"github_actions": github_claims, "gitlab_ci": gitlab_claims, "circleci": circleci_claims,
          "jenkins": jenkins_claims, "azure_devops": azure_devops_claims}


def check(project: Path, platform: str, cloud: str, environments: list[str]) -> None:
    for environment in environments:
        accepted = trust(project, cloud, environment)
        audience, subject = CLAIMS[platform](project, cloud, environment)
        assert accepted.issuer == ISSUERS[platform].rstrip("/") or accepted.issuer == ISSUERS[platform], environment
        assert audience in accepted.audiences, f"{environment}: the job asks for {audience!r}, the trust accepts {accepted.audiences}"
        assert accepted.matches(subject), f"{environment}: token subject {subject!r} is not trusted ({accepted.subject!r})"


@pytest.mark.parametrize(("platform", "cloud"), COMBOS)
def test_ci_job_requests_what_the_trust_accepts(generate, platform: str, cloud: str) -> None:
    project = generate(**answers(platform, cloud))
    check(project, platform, cloud, DEPLOYED)
    # and another environment's token is refused: the trusts are per environment where the platform can say so
    staging, production = trust(project, cloud, "staging"), trust(project, cloud, "production")
    if platform in ("github_actions", "azure_devops"):
        assert not production.matches(CLAIMS[platform](project, cloud, "staging")[1])
        assert staging.subject != production.subject


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_jenkins_git_flow_trusts_the_branch_jobs_of_each_environment(generate, cloud: str) -> None:
    """git_flow: staging deploys from develop, production from release branches (job release%2F<x>, %252F in URLs)."""
    project = generate(**answers("jenkins", cloud, "git_flow"))
    check(project, "jenkins", cloud, ["staging"])
    production = trust(project, cloud, "production")
    assert production.matches(f"{JENKINS}job/{SLUG}/job/release%252F1.4/")
    assert not production.matches(f"{JENKINS}job/{SLUG}/job/develop/")
    assert not production.matches(f"{JENKINS}job/{SLUG}/job/PR-7/")
    if cloud == "gcp":  # * is one path segment in the GCP condition (AWS StringLike's * spans "/")
        assert not production.matches(f"{JENKINS}job/{SLUG}/job/release%252F1.4/job/x/")


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_jenkins_trust_passes_the_terraform_checks(generate, cloud: str) -> None:
    """terraform fmt, HCL parsing and checkov on the Jenkins trust of each cloud (the harness's terraform check)."""
    from conftest import assert_valid

    assert_valid(generate(**answers("jenkins", cloud, "git_flow" if cloud != "azure" else "github_flow")), only={"terraform"})


def test_jenkins_issuer_is_a_terraform_variable(generate) -> None:
    project = generate(**answers("jenkins", "azure"))
    variables = hcl2.load((project / "terraform/environments/production/variables.tf").open(encoding="utf-8"))["variable"]
    jenkins_url = next(v[k] for v in variables for k in v if k.strip('"') == "jenkins_url")
    assert jenkins_url["type"] in ("string", "${string}") and "startswith(var.jenkins_url" in str(jenkins_url["validation"])
    assert 'TF_VAR_jenkins_url = "${env.JENKINS_URL}"' in (project / "Jenkinsfile").read_text(encoding="utf-8")
    docs = (project / "docs/jenkins.md").read_text(encoding="utf-8")
    assert "OpenID Connect id token" in docs and f"`{SLUG}-oidc-token`" in docs and "api://AzureADTokenExchange" in docs


# ---- the read-only plan identity and the pull-request plan jobs --------------------------------------------

# What each platform's plan job logs in with: the deploy variable the login reads -> the plan identity's variable.
PLAN_LOGIN = {"aws": {"AWS_ROLE_ARN": "AWS_PLAN_ROLE_ARN"},
              "gcp": {"GCP_WORKLOAD_IDENTITY_PROVIDER": "GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER",
                      "GCP_SERVICE_ACCOUNT": "GCP_PLAN_SERVICE_ACCOUNT"},
              "azure": {"ARM_CLIENT_ID": "AZURE_PLAN_CLIENT_ID"}}
# The root module outputs each plan variable comes from (terraform output <name> after the first apply).
PLAN_OUTPUTS = {"AWS_PLAN_ROLE_ARN": "module.ci_oidc.plan_role_arn",
                "GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER": "module.ci_oidc.plan_workload_identity_provider",
                "GCP_PLAN_SERVICE_ACCOUNT": "module.ci_oidc.plan_service_account_email",
                "AZURE_PLAN_CLIENT_ID": "module.ci_oidc.plan_client_id"}
PR_BRANCH = "feature/checkout-v2"


def github_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    workflow = yaml.safe_load((project / ".github/workflows/iac-plan.yml").read_text(encoding="utf-8"))
    assert list(workflow[True]) == ["pull_request"]  # PyYAML reads the key `on` as True
    job = workflow["jobs"]["plan"]
    assert environment in job["strategy"]["matrix"]["environment"]
    assert job["environment"] == "${{ matrix.environment }}-plan" and job["permissions"]["id-token"] == "write"
    step = next(s for s in job["steps"] if s.get("uses", "").split("@")[0] in
                ("aws-actions/configure-aws-credentials", "google-github-actions/auth", "azure/login"))
    settings = step["with"]
    login = " ".join(str(v) for v in settings.values())
    if cloud == "aws":
        audience = settings.get("audience", "sts.amazonaws.com")
    elif cloud == "gcp":
        provider = settings["workload_identity_provider"].replace("${{ vars.", "${").replace(" }}", "}")
        audience = settings.get("audience", f"https://iam.googleapis.com/{provider}")
    else:
        audience = settings.get("audience", "api://AzureADTokenExchange")
    return audience, f"repo:{REPO}:environment:{environment}-plan", login


def gitlab_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    config = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    job = next(v for k, v in config.items() if isinstance(v, dict) and v.get("stage") == "plan")
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert environment in job["parallel"]["matrix"][0]["DEPLOY_ENVIRONMENT"]
    assert "extends" not in job  # its own id token and variables, not the deploy jobs' .cloud
    audience = job["id_tokens"]["OIDC_TOKEN"]["aud"].replace("$GCP", "${GCP")
    login = " ".join([*(f"{k}={v}" for k, v in job["variables"].items()), *job["before_script"]])
    # merge request pipelines run on the source branch: sub names it
    return audience, f"project_path:{REPO}:ref_type:branch:ref:{PR_BRANCH}", login


def circleci_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
    assert "cloud-login-plan" in config["jobs"]["plan"]["steps"] and "cloud-login" not in config["jobs"]["plan"]["steps"]
    contexts = [j["plan"]["context"] for j in config["workflows"]["pipeline"]["jobs"] if isinstance(j, dict) and "plan" in j]
    assert [f"{SLUG}-{environment}-plan", f"{SLUG}-ci"] in contexts  # never the deploy context
    command = config["commands"]["cloud-login-plan"]["steps"][0]["run"]["command"]
    claims = re.search(r"circleci run oidc get --claims (.+?) >", command)[1]
    audience = re.search(r'\\?"aud\\?": \\?"(.+?)\\?"', claims)[1]
    exports = dict(re.findall(r'^export (\w+)="(.*)"$', command, flags=re.M))
    assert all(f'echo "export {name}=\\"${{{name}}}\\""' in command for name in exports)  # kept for the later steps (BASH_ENV)
    login = " ".join(f"{k}={v}" for k, v in exports.items()) + " " + command
    return audience, f"org/{ORG}/project/{PROJECT}/user/{UUID}", login


def jenkins_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    text = (project / "Jenkinsfile").read_text(encoding="utf-8")
    stage = re.search(r"^        stage\('[^']*plan'\) \{\n(.*?)^        \}", text, flags=re.S | re.M)[1]
    # GCP: the plan pool has its own audience, so its own id token credential (the plugin fixes one audience per credential)
    credential = f"{SLUG}-oidc-plan-token" if cloud == "gcp" else f"{SLUG}-oidc-token"
    assert "changeRequest()" in stage and f"string(credentialsId: '{credential}', variable: 'OIDC_TOKEN')" in stage
    assert f"terraform -chdir=\"terraform/environments/{environment}\" plan" in stage
    block = re.search(r"^            environment \{\n(.*?)^            \}", stage, flags=re.S | re.M)[1]
    settings = dict(re.findall(r'^\s+(\w+) = "(.*)"$', block, flags=re.M))
    audience = settings["OIDC_AUDIENCE"].replace("${env.", "${")
    login = " ".join(f"{k}={v}" for k, v in settings.items()).replace("${env.", "$").replace("}", "") + " " + stage
    return audience, f"{JENKINS}job/{SLUG}/job/PR-7/", login  # the pull request's branch job


def azure_devops_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    stages = yaml.safe_load((project / "azure-pipelines.yml").read_text(encoding="utf-8"))["stages"]
    stage = next(s for s in stages if s["stage"] == "plan")
    assert stage["condition"] == "eq(variables['Build.Reason'], 'PullRequest')"
    job = next(j for j in stage["jobs"] if j["job"] == f"plan_{environment}")
    login = next(s for s in job["steps"] if "SYSTEM_OIDCREQUESTURI" in s.get("script", ""))
    connection = login["env"]["OIDC_SERVICE_CONNECTION"]
    assert login["env"]["OIDC_SERVICE_CONNECTION_ID"] == f"$(OIDC_SERVICE_CONNECTION_ID_{environment.upper()}_PLAN)"
    text = " ".join([*(f"{k}={v}" for k, v in job["variables"].items()), login["script"]]).replace("$(", "$").replace(")", "")
    return "api://AzureADTokenExchange", f"sc://{REPO}/{connection}", text


PLAN_CLAIMS = {"github_actions": github_plan_claims, "gitlab_ci": gitlab_plan_claims, "circleci": circleci_plan_claims,
               "jenkins": jenkins_plan_claims, "azure_devops": azure_devops_plan_claims}
# Entra ID matches exact subjects only: GitLab merge request branches and Jenkins PR-<n> jobs have no exact subject.
NO_AZURE_PLAN = {"gitlab_ci", "jenkins"}
PLAN_COMBOS = [(p, c) for p, c in COMBOS if not (c == "azure" and p in NO_AZURE_PLAN)]


def assert_plan_login(login: str, cloud: str) -> None:
    """The plan job's login reads the plan identity's variables, never the deploy identity's."""
    for deploy, plan in PLAN_LOGIN[cloud].items():
        assert plan in login, f"the plan login does not use {plan} (for {deploy})"
    deploy_variables = {"aws": ["AWS_DEPLOY_ROLE_ARN"], "gcp": [], "azure": []}[cloud]
    assert not any(re.search(rf"\b{v}\b", login) for v in deploy_variables), login


def assert_read_only(project: Path, cloud: str) -> None:
    """The plan identity's permissions: read everything, write only the state lock."""
    main = hcl2.load((project / "terraform/modules/ci_oidc/main.tf").open(encoding="utf-8"))
    if cloud == "aws":
        attachments = [a for a in blocks(main, "resource", "aws_iam_role_policy_attachment") if a["role"] == "${aws_iam_role.plan.name}"]
        assert [a["policy_arn"] for a in attachments] == ['"arn:aws:iam::aws:policy/ReadOnlyAccess"']
        inline = [r for r in blocks(main, "resource", "aws_iam_role_policy") if r["role"] == "${aws_iam_role.plan.id}"]
        assert [r["policy"] for r in inline] == ["${data.aws_iam_policy_document.plan.json}"]
        statements = {st["sid"].strip('"'): st for st in named(main, "data", "aws_iam_policy_document", "plan")["statement"]}
        assert set(statements) == {"ReadTerraformState", "StateLockfile"}
        assert statements["ReadTerraformState"]["actions"] == ['"s3:GetObject"', '"s3:ListBucket"']
        assert statements["StateLockfile"]["actions"] == ['"s3:PutObject"', '"s3:DeleteObject"']
        assert statements["StateLockfile"]["resources"] == [f'"arn:aws:s3:::{SLUG}-tfstate/*.tflock"']
        assert all("effect" not in st or st["effect"] == '"Allow"' for st in statements.values())
        assert len([r for r in blocks(main, "resource", "aws_iam_role") if "plan" in r["name"]]) == 1
    elif cloud == "gcp":
        member = "serviceAccount:${google_service_account.plan.email}"
        project_roles = [r["role"] for r in blocks(main, "resource", "google_project_iam_member") if r["member"] == f'"{member}"']
        assert project_roles == ['"roles/viewer"']
        bucket = {r["role"].strip('"'): r for r in blocks(main, "resource", "google_storage_bucket_iam_member")
                  if r["member"] == f'"{member}"'}
        assert set(bucket) == {"roles/storage.objectViewer", "roles/storage.objectUser"}
        lock = bucket["roles/storage.objectUser"]["condition"][0]  # object writes only on the lock objects
        assert lock["expression"] == "\"resource.name.endsWith('.tflock')\""
        assert all(r["bucket"] == f'"{SLUG}-tfstate"' for r in bucket.values())
    else:
        principal = "${azurerm_user_assigned_identity.plan.principal_id}"
        roles = {r["role_definition_name"].strip('"'): r["scope"] for r in blocks(main, "resource", "azurerm_role_assignment")
                 if r["principal_id"] == principal}
        assert roles == {"Reader": "${var.resource_group_id}", "Storage Blob Data Contributor": "${local.state_container_id}"}
        container = module_locals(main)["state_container_id"]
        assert container.endswith(f'/resourceGroups/{SLUG}-tfstate/providers/Microsoft.Storage/storageAccounts/myapptfstate'
                                  '/blobServices/default/containers/tfstate"')


@pytest.mark.parametrize(("platform", "cloud"), PLAN_COMBOS)
def test_pull_request_plan_jobs_log_in_as_the_read_only_identity(generate, platform: str, cloud: str) -> None:
    project = generate(**answers(platform, cloud))
    outputs = hcl2.load((project / "terraform/environments/staging/outputs.tf").open(encoding="utf-8"))["output"]
    values = {v["value"] for o in outputs for v in o.values()}
    for environment in DEPLOYED:
        plan, deploy = trust(project, cloud, environment, "plan"), trust(project, cloud, environment)
        audience, subject, login = PLAN_CLAIMS[platform](project, cloud, environment)
        assert plan.issuer == deploy.issuer
        assert audience in plan.audiences, f"{environment}: the plan job asks for {audience!r}, the trust accepts {plan.audiences}"
        assert plan.matches(subject), f"{environment}: plan token subject {subject!r} is not trusted ({plan.subject!r})"
        if platform == "circleci":  # its sub names no branch: the deploy context (GCP) is what tells deploys apart
            assert deploy.context == ("required" if cloud == "gcp" else "")
        else:
            assert not deploy.matches(subject), f"{environment}: a pull request's token {subject!r} could deploy"
        assert_plan_login(login, cloud)
    assert {PLAN_OUTPUTS[v] for m in PLAN_LOGIN[cloud].values() for v in [m]} <= {v.strip("${}") for v in values}
    assert_read_only(project, cloud)


def test_plan_identity_passes_the_terraform_checks(generate) -> None:
    """terraform fmt, HCL parsing and checkov on the plan identity of each cloud (the harness's terraform check)."""
    from conftest import assert_valid

    for platform, cloud in [("github_actions", "aws"), ("gitlab_ci", "gcp"), ("azure_devops", "azure")]:
        assert_valid(generate(**answers(platform, cloud)), only={"terraform"})


def test_azure_has_no_plan_identity_for_pattern_subjects(generate) -> None:
    """GitLab merge requests and Jenkins PR jobs present no exact subject: no plan identity on Azure, and the
    plan job keeps the deploy login (which refuses them) rather than pretending."""
    project = generate(**answers("gitlab_ci", "azure"))
    assert "plan_subjects" not in root_module(project, "staging")
    main = (project / "terraform/modules/ci_oidc/main.tf").read_text(encoding="utf-8")
    assert 'resource "azurerm_user_assigned_identity" "plan"' not in main
    assert "AZURE_PLAN_CLIENT_ID" not in (project / ".gitlab-ci.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_gitlab_trust_follows_the_branch_strategy(generate, cloud: str) -> None:
    """git_flow: staging deploys from develop (and release/hotfix branches, v* tags), production from release/hotfix
    branches and v* tags, never develop; github_flow: main only. Merge request branches never deploy."""
    project = generate(**answers("gitlab_ci", cloud, "git_flow"))
    staging, production = trust(project, cloud, "staging"), trust(project, cloud, "production")
    subject = f"project_path:{REPO}:ref_type:{{}}:ref:{{}}".format
    assert staging.matches(subject("branch", "develop")) and staging.matches(subject("branch", "release/1.4"))
    assert production.matches(subject("branch", "release/1.4")) and production.matches(subject("tag", "v1.4.0"))
    assert production.matches(subject("branch", "hotfix/1.4.1"))
    assert not production.matches(subject("branch", "develop")) and not production.matches(subject("branch", "main"))
    assert not production.matches(subject("tag", "1.4.0")) and not staging.matches(subject("branch", PR_BRANCH))
    if cloud == "gcp":  # * is one path segment in the GCP condition
        assert not production.matches(subject("branch", "release/1.4/x"))
    config = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    for environment, accepted in [("staging", staging), ("production", production)]:
        rules = str(config[f"deploy-{environment}"]["rules"])
        patterns = re.findall(r'\$CI_COMMIT_(BRANCH|TAG) =~ /\^(.*?)\//', rules)
        for found in patterns + re.findall(r'\$CI_COMMIT_(BRANCH|TAG) == "([^"]+)"', rules):
            kind, pattern = found
            example = pattern.replace("\\/", "/").replace("\\.", ".").replace(".*$", "x").rstrip("$")
            assert accepted.matches(subject("branch" if kind == "BRANCH" else "tag", example)), (environment, found)
    flow = generate(**answers("gitlab_ci", cloud, "github_flow"))
    assert trust(flow, cloud, "production").subjects == [subject("branch", "main")]


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_circleci_trust_is_the_project_and_the_deploy_context(generate, cloud: str) -> None:
    project = generate(**answers("circleci", cloud))
    variables = hcl2.load((project / "terraform/environments/production/variables.tf").open(encoding="utf-8"))["variable"]
    names = {k.strip('"') for v in variables for k in v}
    assert "circleci_project_id" in names
    for identity in ("deploy", "plan"):
        accepted = trust(project, cloud, "production", identity)
        assert accepted.matches(f"org/{ORG}/project/{PROJECT}/user/{UUID}")
        assert not accepted.matches(f"org/{ORG}/project/0a0a0a0a-other-project/user/{UUID}")
        assert not accepted.matches(f"org/other-org/project/{PROJECT}/user/{UUID}")
    if cloud == "gcp":  # GCP reads any claim: the deploy token must list the environment's (deploy-only) context
        assert trust(project, cloud, "production").context == "required"
        assert "circleci_deploy_context_id" in names
        assert root_module(project, "production")["deploy_context_id"] == "${var.circleci_deploy_context_id}"
        assert trust(project, cloud, "production", "plan").context == ""
    else:  # IAM conditions only see aud and sub of a generic OIDC provider
        assert "circleci_deploy_context_id" not in names


def test_pull_request_jobs_cannot_deploy(generate) -> None:
    for platform, subject in [("jenkins", f"{JENKINS}job/{SLUG}/job/PR-7/"),
                              ("github_actions", f"repo:{REPO}:pull_request"),
                              ("github_actions", f"repo:{REPO}:environment:staging-plan"),
                              ("gitlab_ci", f"project_path:{REPO}:ref_type:branch:ref:{PR_BRANCH}")]:
        project = generate(**answers(platform, "gcp"))
        assert not any(trust(project, "gcp", e).matches(subject) for e in DEPLOYED), (platform, subject)


def test_azure_refuses_gitlab_git_flow_pattern_subjects() -> None:
    """GitLab's trust follows the deploy refs: git_flow production deploys from release/* (a pattern) that Entra ID
    federated credentials cannot match, so the combination is refused; github_flow (ref main) is exact and allowed."""
    from extensions.catalog import load_catalog
    from extensions.rules import problems

    catalog = load_catalog()
    base = {**CLOUDS["azure"], "ci_platform": "gitlab_ci", "iac_tool": "terraform", "project_slug": SLUG, "environments": ENVIRONMENTS}
    refused = problems(catalog, {**base, "branch_strategy": "git_flow"}, only="branch_strategy")
    assert len(refused) == 1 and "release/*" in refused[0].message and "github_actions, gitlab_ci, azure_devops" not in refused[0].message
    assert not problems(catalog, {**base, "branch_strategy": "github_flow"}, only="branch_strategy")
    assert not problems(catalog, {**base, "branch_strategy": "github_flow"}, only="ci_platform")
