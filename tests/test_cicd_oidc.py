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
# rules.py azure_plans_need_exact_subjects: GitLab merge request plans present their source branch.
REFUSED = {("circleci", "azure"), ("gitlab_ci", "azure")}
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
        assert conditions["aud"]["values"] == provider["client_id_list"] == ["${var.audience}"]
        audiences = [hcl_string(module["audience"], HCL_VARIABLES)]  # the root passes the CI's audience
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


def circleci_token(command: str, git_ref: str) -> tuple[str, str]:
    """(audience, sub) of the token a CircleCI login step presents for a job on ``git_ref``: on AWS
    $CIRCLE_OIDC_TOKEN_V2 (aud: the organisation id; sub also names the repository and git ref), elsewhere a token
    requested with `circleci run oidc get` (its aud as asked; sub: organisation, project and user only)."""
    if 'printf \'%s\' "${CIRCLE_OIDC_TOKEN_V2}" > "$OIDC_TOKEN_FILE"' in command:
        return ORG, f"org/{ORG}/project/{PROJECT}/user/{UUID}/vcs-origin/github.com/{REPO}/vcs-ref/{git_ref}"
    claims = re.search(r"circleci run oidc get --claims (.+?) >", command)[1]
    audience = re.search(r'\\?"aud\\?": \\?"(.+?)\\?"', claims)[1]
    return audience, f"org/{ORG}/project/{PROJECT}/user/{UUID}"  # CircleCI's v1 subject format


def circleci_claims(project: Path, cloud: str, environment: str) -> tuple[str, str]:
    config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
    assert "cloud-login" in config["jobs"]["deploy"]["steps"]
    command = config["commands"]["cloud-login"]["steps"][0]["run"]["command"]
    job = next(j["deploy"] for j in config["workflows"]["pipeline"]["jobs"]
               if isinstance(j, dict) and j.get("deploy", {}).get("name") == f"deploy-{environment}")
    branch = job["filters"]["branches"]["only"][0]  # the first ref the deploy job runs on (main, or develop with git_flow)
    return circleci_token(command, f"refs/heads/{branch}")


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


# Jenkins names a multibranch job after its branch or tag with "/" encoded as %2F, and JOB_URL (the token's sub)
# URL-encodes that name again: release/1.4 -> job/release%252F1.4/. One example ref name per pattern of the strategies.
REF_EXAMPLES = {"main": "main", "develop": "develop", "release/*": "release/1.4", "hotfix/*": "hotfix/1.4.1", "v*": "v1.4.0"}


def jenkins_job_url(name: str, multibranch: str = SLUG) -> str:
    """The JOB_URL of the multibranch job that builds a branch or tag, built as Jenkins builds it."""
    from urllib.parse import quote

    return f"{JENKINS}job/{multibranch}/job/{quote(name.replace('/', '%2F'), safe='')}/"


def jenkins_stages(text: str) -> dict[str, str]:
    return dict(re.findall(r"^        stage\('([^']+)'\) \{\n(.*?)^        \}$", text, flags=re.S | re.M))


def jenkins_runs_on(stage: str, kind: str, name: str) -> bool:
    """Whether a stage's `when` runs it on a push of this branch or tag (never on pull requests or the timer)."""
    when = re.search(r"^            when \{\n(.*?)^            \}$", stage, flags=re.S | re.M)[1]
    assert "not { changeRequest() }" in when and "not { triggeredBy 'TimerTrigger' }" in when
    if kind == "branch" and re.search(rf"^\s+branch '{re.escape(name)}'$", when, flags=re.M):
        return True
    patterns = re.findall(rf"^\s+{kind} pattern: '([^']+)', comparator: 'REGEXP'$", when, flags=re.M)
    return any(re.fullmatch(pattern, name) for pattern in patterns)


def jenkins_stage_identity(stage: str, cloud: str) -> str:
    """The environment whose deploy identity a stage logs in as: its identity settings and id token credential."""
    block = re.search(r"^            environment \{\n(.*?)^            \}$", stage, flags=re.S | re.M)[1]
    suffixes = set(re.findall(r"_(STAGING|PRODUCTION)\}", block))
    assert len(suffixes) == 1, block
    environment = suffixes.pop().lower()
    credential = f"{SLUG}-{environment}-oidc-token" if cloud == "gcp" else f"{SLUG}-oidc-token"
    assert f"string(credentialsId: '{credential}', variable: 'OIDC_TOKEN')" in stage
    assert f"as the {environment} deploy identity" in stage
    return environment


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_jenkins_git_flow_trusts_every_deploy_ref_job(generate, cloud: str) -> None:
    """git_flow: staging deploys from develop, release/*, hotfix/* and v* tags, production from release/*, hotfix/* and
    v*, and the image is pushed on all of them: every such push's job presents a JOB_URL that the identity of the
    stage running on it trusts (AWS StringLike, GCP CEL with * as one path segment), and no other job is trusted."""
    from conftest import answers_of

    from extensions.catalog import load_catalog
    from extensions.cicd_model import build_pipeline
    from extensions.docs_model import project_for

    project = generate(**answers("jenkins", cloud, "git_flow"))
    model = build_pipeline(load_catalog(), project_for(load_catalog(), answers_of(project)).answers)
    stages = jenkins_stages((project / "Jenkinsfile").read_text(encoding="utf-8"))
    trusts = {e: trust(project, cloud, e) for e in DEPLOYED}
    runs = [(f"Deploy {d.environment}", d.environment, ref) for d in model.deploys for ref in d.refs]
    runs += [("Push the image", "", ref) for ref in model.release_refs]
    assert {ref.pattern for _, _, ref in runs} == {"develop", "release/*", "hotfix/*", "v*"}
    for title, environment, ref in runs:
        name = REF_EXAMPLES[ref.pattern]
        assert jenkins_runs_on(stages[title], ref.kind, name), (title, ref)
        identity = jenkins_stage_identity(stages[title], cloud)
        assert identity == (environment or model.deploys[0].environment), (title, identity)
        subject = jenkins_job_url(name)
        assert trusts[identity].matches(subject), f"{title} on {ref.kind} {name}: {subject} is not trusted ({trusts[identity].subject})"
    check(project, "jenkins", cloud, ["staging"])  # issuer and audience too (the staging stage's exact branch develop)
    production = trusts["production"]
    assert production.subjects == [f"{JENKINS}job/{SLUG}/job/{job}/" for job in ("release%252F*", "hotfix%252F*", "v*")]
    assert not production.matches(jenkins_job_url("develop")) and not production.matches(jenkins_job_url("main"))
    for subject in (jenkins_job_url("feature/login"), f"{JENKINS}job/{SLUG}/job/PR-7/", f"{JENKINS}job/{SLUG}-iac-plan/",
                    f"{JENKINS}job/{SLUG}/job/release%2F1.4/", f"{JENKINS}job/other/job/develop/"):
        assert not any(t.matches(subject) for t in trusts.values()), subject
    if cloud == "gcp":  # * is one path segment in the GCP condition (AWS StringLike's * spans "/")
        assert not production.matches(f"{JENKINS}job/{SLUG}/job/release%252F1.4/job/x/")


def test_jenkins_trunk_based_trusts_the_main_job(generate) -> None:
    """trunk_based and github_flow deploy every environment from main: one exact subject, the main branch job."""
    project = generate(**answers("jenkins", "aws", "trunk_based"))
    for environment in DEPLOYED:
        assert trust(project, "aws", environment).subjects == [jenkins_job_url("main")]


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
    # one plan job per environment (<plan label>-<environment>, any IaC tool), extending the hidden .<plan label>
    name, job = next((k, v) for k, v in config.items() if isinstance(v, dict) and not k.startswith(".")
                     and config.get(str(v.get("extends")), {}).get("stage") == "plan" and k.endswith(f"-{environment}"))
    template = config[job["extends"]]
    assert job["extends"] == "." + name.removesuffix(f"-{environment}") and "extends" not in template  # not .cloud
    assert template["stage"] == "plan" and template["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    # no environment: a protected environment would hold back developers' merge requests; the environment's plan
    # identity comes from variables named per environment (AWS_PLAN_ROLE_ARN_STAGING), never another environment's
    assert "environment" not in job and "environment" not in template and job["variables"]["DEPLOY_ENVIRONMENT"] == environment
    login = " ".join([*(f"{k}={v}" for k, v in job["variables"].items()), *job["before_script"]])
    for plan in PLAN_LOGIN[cloud].values():
        assert f"{plan}_{environment.upper()}" in login and not re.search(rf"\b{plan}\b", login), login
        assert not any(f"{plan}_{other.upper()}" in login for other in DEPLOYED if other != environment), login
    audience = job["id_tokens"]["OIDC_TOKEN"]["aud"].replace("$GCP", "${GCP").replace(f"_{environment.upper()}}}", "}")
    # merge request pipelines run on the source branch: sub names it
    return audience, f"project_path:{REPO}:ref_type:branch:ref:{PR_BRANCH}", login.replace(f"_{environment.upper()}", "")


def circleci_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
    assert "cloud-login-plan" in config["jobs"]["plan"]["steps"] and "cloud-login" not in config["jobs"]["plan"]["steps"]
    contexts = [j["plan"]["context"] for j in config["workflows"]["pipeline"]["jobs"] if isinstance(j, dict) and "plan" in j]
    assert [f"{SLUG}-{environment}-plan", f"{SLUG}-ci"] in contexts  # never the deploy context
    command = config["commands"]["cloud-login-plan"]["steps"][0]["run"]["command"]
    audience, subject = circleci_token(command, f"refs/heads/{PR_BRANCH}")  # plans run on the pull request's branch
    exports = dict(re.findall(r'^export (\w+)="(.*)"$', command, flags=re.M))
    assert all(f'echo "export {name}=\\"${{{name}}}\\""' in command for name in exports)  # kept for the later steps (BASH_ENV)
    login = " ".join(f"{k}={v}" for k, v in exports.items()) + " " + command
    return audience, subject, login


def jenkins_plan_claims(project: Path, cloud: str, environment: str) -> tuple[str, str, str]:
    """Jenkins: the pull request's build triggers the Pipeline job <slug>-iac-plan, whose fixed JOB_URL is the subject."""
    stages = jenkins_stages((project / "Jenkinsfile").read_text(encoding="utf-8"))
    trigger = stages["terraform plan"]
    assert re.search(r"when \{\s*beforeAgent true\s*changeRequest\(\)\s*\}", trigger)
    assert f"build job: '/{SLUG}-iac-plan', wait: true, propagate: true" in trigger
    assert "string(name: 'PR_NUMBER', value: env.CHANGE_ID)" in trigger and "OIDC_TOKEN" not in trigger  # no login of its own
    text = (project / "jenkins/iac-plan.Jenkinsfile").read_text(encoding="utf-8")
    stage = re.search(rf"^                stage\('Plan {environment}'\) \{{\n(.*?)^                \}}$", text, flags=re.S | re.M)[1]
    # GCP: each plan pool has its own audience, so its own id token credential (the plugin fixes one audience per credential)
    credential = f"{SLUG}-{environment}-oidc-plan-token" if cloud == "gcp" else f"{SLUG}-oidc-token"
    assert f"string(credentialsId: '{credential}', variable: 'OIDC_TOKEN')" in stage
    assert f"as the {environment} read-only plan identity" in stage
    assert f"terraform -chdir=\"terraform/environments/{environment}\" plan" in stage
    block = re.search(r"^ {20}environment \{\n(.*?)^ {20}\}$", stage, flags=re.S | re.M)[1]
    settings = dict(re.findall(r'^\s+(\w+) = "(.*)"$', block, flags=re.M))
    suffix = f"_{environment.upper()}}}"
    assert all(suffix in v for k, v in settings.items() if "${env." in v), settings  # that environment's plan identity only
    audience = settings["OIDC_AUDIENCE"].replace("${env.", "${").replace(suffix, "}")
    login = " ".join(f"{k}={v}" for k, v in settings.items()).replace("${env.", "$").replace("}", "") + " " + stage
    return audience, f"{JENKINS}job/{SLUG}-iac-plan/", login  # the plan job's JOB_URL


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
# Entra ID matches exact subjects only: Jenkins plans in the fixed <slug>-iac-plan job, whose JOB_URL is exact;
# GitLab merge request plans on Azure are refused (REFUSED).
PLAN_COMBOS = COMBOS


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
        if platform == "circleci" and cloud == "gcp":  # its v1 sub names no branch: the deploy context tells deploys apart
            assert deploy.context == "required"
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


def test_azure_refuses_gitlab_merge_request_plans() -> None:
    """GitLab merge request pipelines present their source branch (any name): Entra ID could trust no plan job, so
    GitLab on Azure with a generated IaC tool is refused, naming the platforms whose plan subject is exact."""
    from extensions.catalog import load_catalog
    from extensions.rules import problems

    catalog = load_catalog()
    base = {**CLOUDS["azure"], "ci_platform": "gitlab_ci", "project_slug": SLUG, "environments": ENVIRONMENTS,
            "branch_strategy": "github_flow", "preview_environments": "none"}
    refused = problems(catalog, {**base, "iac_tool": "terraform"}, only="ci_platform")
    assert len(refused) == 1 and "exact subjects" in refused[0].message
    assert "Choose ci_platform github_actions, jenkins, azure_devops, or iac_tool manual" in refused[0].message
    assert not problems(catalog, {**base, "iac_tool": "manual"}, only="ci_platform")
    assert not problems(catalog, {**base, "iac_tool": "terraform", "ci_platform": "azure_devops"}, only="ci_platform")


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_jenkins_plan_job_is_the_only_plan_subject(generate, cloud: str) -> None:
    """Jenkins plans pull requests in the fixed Pipeline job <slug>-iac-plan: its JOB_URL is the one, exact subject of
    every environment's plan identity (on Azure too, where Entra ID matches exact subjects only); no deploy identity
    trusts it, and no identity trusts a pull request's own job."""
    from extensions.catalog import load_catalog
    from extensions.rules import problems

    project = generate(**answers("jenkins", cloud))
    plan_job, pull_request = f"{JENKINS}job/{SLUG}-iac-plan/", f"{JENKINS}job/{SLUG}/job/PR-7/"
    for environment in DEPLOYED:
        plan, deploy = trust(project, cloud, environment, "plan"), trust(project, cloud, environment)
        assert plan.subjects == [plan_job] and plan.matches(plan_job)
        assert not plan.matches(pull_request) and not plan.matches(f"{JENKINS}job/{SLUG}-iac-plan/job/x/")
        assert not deploy.matches(plan_job) and not deploy.matches(pull_request)
    if cloud == "azure":
        main = (project / "terraform/modules/ci_oidc/main.tf").read_text(encoding="utf-8")
        assert 'resource "azurerm_user_assigned_identity" "plan"' in main
        base = {**CLOUDS["azure"], "ci_platform": "jenkins", "iac_tool": "terraform", "project_slug": SLUG, "environments": ENVIRONMENTS}
        assert not problems(load_catalog(), {**base, "branch_strategy": "github_flow"})  # exact main job, exact plan job
        refused = problems(load_catalog(), {**base, "branch_strategy": "git_flow"}, only="branch_strategy")
        assert len(refused) == 1 and "release/*" in refused[0].message and "jenkins" not in refused[0].message.split("Choose")[1]


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
    suffix = f"/vcs-origin/github.com/{REPO}/vcs-ref/refs/heads/main" if cloud == "aws" else ""  # AWS: the v2 token
    for identity in ("deploy", "plan"):
        accepted = trust(project, cloud, "production", identity)
        assert accepted.matches(f"org/{ORG}/project/{PROJECT}/user/{UUID}{suffix}")
        assert not accepted.matches(f"org/{ORG}/project/0a0a0a0a-other-project/user/{UUID}{suffix}")
        assert not accepted.matches(f"org/other-org/project/{PROJECT}/user/{UUID}{suffix}")
    if cloud == "gcp":  # GCP reads any claim: the deploy token must list the environment's (deploy-only) context
        assert trust(project, cloud, "production").context == "required"
        assert "circleci_deploy_context_id" in names
        assert root_module(project, "production")["deploy_context_id"] == "${var.circleci_deploy_context_id}"
        assert trust(project, cloud, "production", "plan").context == ""
    else:  # IAM conditions only see aud and sub of a generic OIDC provider: the v2 sub names the git ref
        assert "circleci_deploy_context_id" not in names


def test_circleci_on_aws_deploy_roles_trust_only_the_deploy_refs(generate) -> None:
    """AWS matches sub with StringLike only: the v2 token's sub ends with the git ref, so each deploy role trusts the
    refs that deploy its environment (git_flow: staging develop, release/*, hotfix/*, v*; production no develop), a
    pull request's branch assumes only the read-only plan role, and a branch named after a deploy ref cannot pass."""
    project = generate(**answers("circleci", "aws", "git_flow"))
    staging, production = trust(project, "aws", "staging"), trust(project, "aws", "production")
    plan = trust(project, "aws", "production", "plan")
    token = f"org/{ORG}/project/{PROJECT}/user/{UUID}/vcs-origin/github.com/{REPO}/vcs-ref/{{}}".format
    for ref in ("refs/heads/develop", "refs/heads/release/1.4", "refs/heads/hotfix/1.4.1", "refs/tags/v1.4.0"):
        assert staging.matches(token(ref)), ref
    for ref in ("refs/heads/release/1.4", "refs/heads/hotfix/1.4.1", "refs/tags/v1.4.0"):
        assert production.matches(token(ref)), ref
    crafted = f"refs/heads/x/vcs-origin/github.com/{REPO}/vcs-ref/refs/heads/develop"
    for ref in (f"refs/heads/{PR_BRANCH}", "refs/heads/main", "refs/tags/1.4.0", crafted):
        assert not staging.matches(token(ref)) and not production.matches(token(ref)), ref
        assert plan.matches(token(ref)), ref
    assert not production.matches(token("refs/heads/develop"))
    assert not staging.matches(token("refs/heads/develop").replace(REPO, "acme/other"))  # another repository
    config = (project / ".circleci/config.yml").read_text(encoding="utf-8")
    assert "circleci run oidc get" not in config and config.count('"${CIRCLE_OIDC_TOKEN_V2}"') == 2  # deploy and plan logins
    variables = hcl2.load((project / "terraform/environments/production/variables.tf").open(encoding="utf-8"))["variable"]
    assert "ci_organization_id" in {k.strip('"') for v in variables for k in v}  # the audience


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
