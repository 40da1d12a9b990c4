"""CI identity parity: the Pulumi, CDK and SST programs trust exactly what terraform/modules/ci_oidc trusts.

For every program x ci_platform x cloud the program supports (Pulumi: aws, gcp, azure; CDK and SST: aws) the project
is generated twice, with the program and with iac_tool terraform. The program's trust (issuer, audience, subjects per
environment, read from the generated TypeScript with the operator-set parts filled in as an operator would) must equal
the Terraform ci_oidc trust parsed with python-hcl2, and must accept what the generated CI file's deploy job requests.
The trust code itself is checked to use those values (audience condition, subject matching per cloud), and for CDK the
synthesized CloudFormation (the harness's `cdk synth`) proves the role's conditions end to end.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answers_of, assert_valid
from test_cicd_oidc import CLAIMS, DEPLOYED, GCP_AUDIENCE, ISSUERS, JENKINS, ORG, PROJECT, REPO, SLUG, answers, root_module, trust

PROGRAMS = {"pulumi": ["aws", "gcp", "azure"], "aws_cdk": ["aws"], "sst": ["aws"]}
OIDC_PLATFORMS = ["github_actions", "gitlab_ci", "circleci", "jenkins", "azure_devops"]
# Refused by rules.py: CircleCI's subjects vary per project and user, GitLab's merge request plans name their source
# branch (Azure federated credentials are exact); CodePipeline runs in AWS only.
REFUSED = {("circleci", "azure"), ("gitlab_ci", "azure"), ("aws_codepipeline", "gcp"), ("aws_codepipeline", "azure")}
COMBOS = [(program, platform, cloud) for program, clouds in PROGRAMS.items() for cloud in clouds
          for platform in OIDC_PLATFORMS if (platform, cloud) not in REFUSED]
# What the operator sets once (Pulumi config, CDK context, SST environment): the values the Terraform trust gets too.
OPERATOR = {"jenkinsUrl": JENKINS.rstrip("/"), "ciOrganizationId": ORG, "circleciProjectId": PROJECT}
SOURCE = {"pulumi": "pulumi/src/config.ts", "aws_cdk": "cdk/lib/config.ts", "sst": "sst/sst.config.ts"}
TRUST_CODE = {"pulumi": "pulumi/src/ci_oidc.ts", "aws_cdk": "cdk/lib/ci-oidc.ts", "sst": "sst/sst.config.ts"}
CDK_CONTEXT = {"jenkinsurl.example.com": JENKINS.rstrip("/").removeprefix("https://"), "operator-ciOrganizationId": ORG,
               "operator-circleciProjectId": PROJECT}


def program_answers(program: str, platform: str, cloud: str, strategy: str = "github_flow") -> dict[str, Any]:
    return {**answers(platform, cloud, strategy), "iac_tool": program}


def literal(text: str) -> str:
    """A TypeScript template literal's value, its ${setting} parts filled with what the operator set."""
    for name, value in OPERATOR.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text.replace("\\${", ""), f"unfilled interpolation in {text!r}"
    return text.replace("\\`", "`").replace("\\${", "${").replace("\\\\", "\\")


LITERAL = r"`((?:[^`\\]|\\.)*)`"


def program_trust(project: Path, program: str) -> tuple[str, str, dict[str, list[str]]]:
    """(issuer, audience, subjects by environment) as the program's TypeScript states them."""
    text = (project / SOURCE[program]).read_text(encoding="utf-8")
    block = re.search(r"ubjects: Record<string, string\[\]> = \{\n(.*?)\n\s*\};", text, flags=re.S)
    assert block, f"{SOURCE[program]} has no per-environment subject map"
    subjects = {m[1]: [literal(s) for s in re.findall(LITERAL, m[2])]
                for m in re.finditer(r"^\s+(\w+): \[(.*)\],$", block[1], flags=re.M)}
    issuer = re.search(r"issuer: " + LITERAL, text)
    audience = re.search(r'audience: (?:"([^"]*)"|' + LITERAL + ")", text)  # a string, or a literal naming a setting
    assert issuer and audience, SOURCE[program]
    return literal(issuer[1]), audience[1] if audience[1] is not None else literal(audience[2]), subjects


def matcher(cloud: str, subjects: list[str]) -> Any:
    """How the program's trust matches a presented subject (asserted on its source by assert_trust_code)."""
    if cloud == "aws":  # StringLike: * spans any characters
        return lambda presented: any(fnmatch.fnmatchcase(presented, s) for s in subjects)
    if cloud == "gcp":  # CEL: exact, or an RE2 match where * is one path segment
        return lambda presented: any(presented == s if "*" not in s else
                                     re.fullmatch(s.replace(".", "\\.").replace("*", "[^/]*"), presented) for s in subjects)
    return lambda presented: presented in subjects  # Entra ID federated credentials: exact subjects


def assert_trust_code(project: Path, program: str, cloud: str, circleci_context: bool) -> None:
    """The identity code uses the trust's values: the audience condition, every subject, the cloud's matching rule."""
    code = (project / TRUST_CODE[program]).read_text(encoding="utf-8")
    code = re.sub(r'audience: (?:"[^"]*"|' + LITERAL + ")", "", code)  # SST: ciTrust (the stated audience) sits in the same file
    assert "sts.amazonaws.com" not in code and "api://AzureADTokenExchange" not in code, "hard-coded audience"
    if cloud == "aws":
        assert re.search(r"clientIdLists?: \[audience\]", code)
        assert "StringEquals: { [`${issuerHost}:aud`]: audience }" in code
        assert "StringLike: { [`${issuerHost}:sub`]: subjects }" in code
    elif cloud == "gcp":
        assert "allowedAudiences: audience ? [audience] : undefined" in code
        assert '.replace(/\\./g, "\\\\.").replace(/\\*/g, "[^/]*")' in code and "subjects.map(subjectCondition)" in code
        assert "principalSet://iam.googleapis.com/${pool.name}/*" in code
        assert ("assertion['oidc.circleci.com/context-ids']" in code) == circleci_context
    else:
        assert "for (const subject of subjects)" in code and "audiences: [audience]" in code and "subject,\n" in code


def check_parity(program_project: Path, terraform_project: Path, program: str, platform: str, cloud: str,
                 environments: list[str], requested_by: list[str] | None = None) -> None:
    """Program trust == Terraform trust in ``environments``; the deploy jobs of ``requested_by`` (default: all) log in."""
    issuer, audience, subjects = program_trust(program_project, program)
    assert set(subjects) == set(environments)
    for environment in environments:
        terraform = trust(terraform_project, cloud, environment)
        # the same trust as Terraform's ci_oidc
        assert issuer == terraform.issuer, (environment, issuer, terraform.issuer)
        assert subjects[environment] == terraform.subjects, (environment, subjects[environment], terraform.subjects)
        audiences = [audience] if audience else [GCP_AUDIENCE]  # GCP without allowed audiences: the provider's name
        assert audiences == terraform.audiences, (environment, audiences, terraform.audiences)
        # and what the program's CI deploy job requests
        assert issuer == ISSUERS[platform].rstrip("/"), issuer
        if requested_by is not None and environment not in requested_by:
            continue
        requested, presented = CLAIMS[platform](program_project, cloud, environment)
        assert requested in audiences, f"{environment}: the job asks for {requested!r}, {program} trusts {audiences}"
        assert matcher(cloud, subjects[environment])(presented), f"{environment}: {presented!r} not in {subjects[environment]}"
    # one environment's subjects are not another's where the platform can tell them apart
    if platform in ("github_actions", "azure_devops") and len(environments) > 1:
        staging = CLAIMS[platform](program_project, cloud, "staging")[1]
        assert not matcher(cloud, subjects["production"])(staging)


@pytest.mark.parametrize(("program", "platform", "cloud"), COMBOS)
def test_program_trusts_what_terraform_ci_oidc_trusts(generate, program: str, platform: str, cloud: str) -> None:
    project = generate(**program_answers(program, platform, cloud))
    terraform = generate(**answers(platform, cloud))
    check_parity(project, terraform, program, platform, cloud, DEPLOYED)
    assert_trust_code(project, program, cloud, circleci_context=platform == "circleci" and cloud == "gcp")


@pytest.mark.parametrize("program", list(PROGRAMS))
@pytest.mark.parametrize("platform", ["jenkins", "gitlab_ci"])
def test_branch_strategy_subjects_follow_terraform(generate, program: str, platform: str) -> None:
    """git_flow: staging deploys from develop, production from release/* (Jenkins: the release%2F<x> branch jobs;
    GitLab: one subject per deploy ref) — the programs trust the same per-environment refs as Terraform."""
    project = generate(**program_answers(program, platform, "aws", "git_flow"))
    # the helpers of test_cicd_oidc read the staging job's branch (production's release/* rule is checked below)
    check_parity(project, generate(**answers(platform, "aws", "git_flow")), program, platform, "aws", DEPLOYED, ["staging"])
    _, _, subjects = program_trust(project, program)
    production = matcher("aws", subjects["production"])
    if platform == "jenkins":
        assert production(f"{JENKINS}job/{SLUG}/job/release%252F1.4/")
        assert not production(f"{JENKINS}job/{SLUG}/job/develop/") and not production(f"{JENKINS}job/{SLUG}/job/PR-7/")
    else:
        assert not production(f"project_path:{REPO}:ref_type:branch:ref:develop")
        assert matcher("aws", subjects["staging"])(f"project_path:{REPO}:ref_type:branch:ref:develop")


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_travis_cannot_deploy_a_program_to_a_cloud(generate, program: str) -> None:
    """Travis CI has no OIDC: rules.py refuses it with a cloud, for every program as for Terraform."""
    from copier.errors import UserMessageError

    with pytest.raises(UserMessageError, match=r"ci_platform: 'travis'.*OIDC"):
        generate(**program_answers(program, "travis", "aws"))


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_codepipeline_gets_no_program_identity(generate, program: str) -> None:
    """CodePipeline's jobs run as their CodeBuild service role: neither Terraform nor the programs create an OIDC trust."""
    project = generate(**program_answers(program, "aws_codepipeline", "aws"))
    terraform = generate(**answers("aws_codepipeline", "aws"))
    assert "module \"ci_oidc\"" not in (terraform / "terraform/environments/production/main.tf").read_text(encoding="utf-8")
    assert not (project / TRUST_CODE[program]).exists() or program == "sst"
    text = (project / SOURCE[program]).read_text(encoding="utf-8")
    assert "ciTrust" not in text and "ciIdentity" not in text and "AssumeRoleWithWebIdentity" not in text


def test_pulumi_operator_settings_are_declared_and_validated(generate) -> None:
    """Jenkins' issuer is the operator's jenkinsUrl (https, checked); CircleCI on GCP also needs the deploy context."""
    project = generate(**program_answers("pulumi", "jenkins", "gcp"))
    schema = yaml.safe_load((project / "pulumi/Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    assert "pulumi config set jenkinsUrl" in schema["jenkinsUrl"]["description"] and schema["jenkinsUrl"]["type"] == "string"
    for environment in DEPLOYED:  # set per stack by the operator, not committed
        stack = yaml.safe_load((project / f"pulumi/Pulumi.{environment}.yaml").read_text(encoding="utf-8"))["config"]
        assert f"{SLUG}:jenkinsUrl" not in stack
    config = (project / "pulumi/src/config.ts").read_text(encoding="utf-8")
    assert 'config.get("jenkinsUrl")' in config and 'jenkinsUrl.startsWith("https://")' in config
    assert "pulumi config set jenkinsUrl" in (project / "docs/infrastructure.md").read_text(encoding="utf-8")

    circleci = generate(**program_answers("pulumi", "circleci", "gcp"))
    schema = yaml.safe_load((circleci / "pulumi/Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    assert {"ciOrganizationId", "circleciProjectId", "circleciDeployContextId"} <= set(schema)
    assert "contextId: circleciDeployContextId" in (circleci / "pulumi/src/config.ts").read_text(encoding="utf-8")


def test_cdk_and_sst_take_the_jenkins_url_from_the_operator(generate) -> None:
    cdk = generate(**program_answers("aws_cdk", "jenkins", "aws"))
    app = (cdk / "cdk/bin/app.ts").read_text(encoding="utf-8")
    assert 'jenkinsUrl: app.node.tryGetContext("jenkinsUrl") ?? process.env.JENKINS_URL' in app
    assert 'settings.jenkinsUrl.startsWith("https://")' in (cdk / "cdk/lib/config.ts").read_text(encoding="utf-8")
    assert '"jenkinsUrl"' in (cdk / "docs/infrastructure.md").read_text(encoding="utf-8")
    sst = generate(**program_answers("sst", "jenkins", "aws"))
    config = (sst / "sst/sst.config.ts").read_text(encoding="utf-8")
    assert "process.env.JENKINS_URL" in config and 'jenkinsUrl.startsWith("https://")' in config


def cdk_roles(project: Path) -> dict[str, dict[str, Any]]:
    """Each environment stack's synthesized CI deploy role (the harness's `cdk synth`), with the OIDC provider."""
    from harness.iac_programs import cdk_program

    findings, templates = cdk_program(project)
    assert not findings, "\n".join(map(str, findings))
    roles = {}
    for environment in DEPLOYED:
        resources = templates[f"{SLUG}-{environment}"]["Resources"]
        role = next(r for r in resources.values() if r["Type"] == "AWS::IAM::Role"
                    and r["Properties"].get("RoleName") == f"{SLUG}-{environment}-deploy")
        providers = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::OIDCProvider"]
        roles[environment] = {"statement": role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0], "providers": providers}
    return roles


def operator_values(value: Any) -> Any:
    """The harness's context values (tests/harness/iac_programs.py) replaced by this test's operator values."""
    if isinstance(value, str):
        for harness, ours in CDK_CONTEXT.items():
            value = value.replace(harness, ours)
        return value
    if isinstance(value, list):
        return [operator_values(v) for v in value]
    if isinstance(value, dict):
        return {k if not isinstance(k, str) else operator_values(k): operator_values(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("platform", ["jenkins", "gitlab_ci", "circleci"])
def test_cdk_synthesized_role_trusts_what_terraform_trusts(generate, platform: str) -> None:
    """cdk synth + cfn-lint pass, and the synthesized role's conditions are Terraform's trust."""
    strategy = "git_flow" if platform != "circleci" else "github_flow"
    project = generate(**program_answers("aws_cdk", platform, "aws", strategy))
    terraform = generate(**answers(platform, "aws", strategy))
    for environment, synthesized in cdk_roles(project).items():
        accepted = trust(terraform, "aws", environment)
        statement = operator_values(synthesized["statement"])
        host = accepted.issuer.removeprefix("https://")
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"]["StringEquals"] == {f"{host}:aud": accepted.audiences[0]}
        subjects = statement["Condition"]["StringLike"][f"{host}:sub"]
        assert (subjects if isinstance(subjects, list) else [subjects]) == accepted.subjects
        if environment == DEPLOYED[0]:  # the first environment's stack creates the account-wide provider
            (provider,) = operator_values(synthesized["providers"])
            assert provider["Url"] == accepted.issuer and provider["ClientIdList"] == accepted.audiences


@pytest.mark.parametrize(("program", "platform", "cloud"), [
    ("pulumi", "jenkins", "aws"), ("pulumi", "circleci", "gcp"), ("pulumi", "azure_devops", "azure"),
    ("pulumi", "jenkins", "gcp"), ("sst", "jenkins", "aws"), ("sst", "circleci", "aws"),
])
def test_program_identity_passes_the_harness(generate, program: str, platform: str, cloud: str) -> None:
    """tsc, the Pulumi SDK mocks (every stack, settings as the operator sets them) and the SST type check."""
    only = {"pulumi"} if program == "pulumi" else {"sst"}
    assert_valid(generate(**program_answers(program, platform, cloud)), only=only)


# ---- the read-only plan identity and the preview identity of the programs ----------------------------------

PLAN_BLOCK = r"PlanSubjects: Record<string, string\[\]> = \{\n(.*?)\n\s*\};"
PREVIEW_LIST = r"PreviewSubjects: string\[\] = \[(.*?)\];"


def program_identities(project: Path, program: str) -> dict[str, Any]:
    """{"plan": {environment: [subjects]}, "preview": [subjects]} as the program's TypeScript states them
    (``ciPlanSubjects`` / ``ciPreviewSubjects`` in SOURCE[program]), operator settings filled in; empty without them."""
    text = (project / SOURCE[program]).read_text(encoding="utf-8")
    plan: dict[str, list[str]] = {}
    block = re.search(PLAN_BLOCK, text, flags=re.S)
    if block:
        plan = {m[1]: [literal(s) for s in re.findall(LITERAL, m[2])]
                for m in re.finditer(r"^\s+(\w+): \[(.*)\],$", block[1], flags=re.M)}
    listed = re.search(PREVIEW_LIST, text, flags=re.S)
    preview = [literal(s) for s in re.findall(LITERAL, listed[1])] if listed else []
    return {"plan": plan, "preview": preview}


def terraform_identities(project: Path, environments: list[str] = DEPLOYED) -> dict[str, Any]:
    """The same, from Terraform's roots: each environment's ci_oidc plan_subjects and the preview_subjects, which
    one root at most (the preview identity's host) passes."""
    from test_cicd_oidc import HCL_VARIABLES, hcl_string

    roots = sorted(p.parent.name for p in (project / "terraform/environments").glob("*/main.tf") if p.parent.name != "preview")
    modules = {root: root_module(project, root) for root in roots}
    plan = {e: [hcl_string(s, HCL_VARIABLES) for s in modules[e]["plan_subjects"]] for e in environments
            if "plan_subjects" in modules[e]}
    hosts = [root for root, module in modules.items() if "preview_subjects" in module]
    assert len(hosts) <= 1, hosts
    preview = [hcl_string(s, HCL_VARIABLES) for s in modules[hosts[0]]["preview_subjects"]] if hosts else []
    return {"plan": plan, "preview": preview}


def plan_matcher(cloud: str, subjects: list[str]) -> Any:
    """How the plan identity matches: as the deploy identity, except that GCP's * spans "/" (branch names)."""
    if cloud == "gcp":
        return lambda presented: any(presented == s if "*" not in s else
                                     re.fullmatch(s.replace(".", "\\.").replace("*", ".*"), presented) for s in subjects)
    return matcher(cloud, subjects)


# The subject each platform signs for a pull request's plan: GitLab merge request pipelines run on the source
# branch; Jenkins plans in the fixed Pipeline job <slug>-iac-plan (jenkins/iac-plan.Jenkinsfile).
PLAN_SUBJECTS = {"gitlab_ci": f"project_path:{REPO}:ref_type:branch:ref:feature/checkout-v2",
                 "jenkins": f"{JENKINS}job/{SLUG}-iac-plan/"}
PLAN_JOBS = {"pulumi": "pulumi-preview"}  # GitLab: <prefix>-<environment>; Jenkins: stage 'Plan <environment>'


def program_plan_claims(project: Path, program: str, platform: str, cloud: str, environment: str) -> tuple[str, str]:
    """(audience, subject) of the program's pull-request plan job of ``environment``, whose login reads that
    environment's plan identity variables (GitLab and Jenkins: suffixed with the environment)."""
    from test_cicd_oidc import PLAN_CLAIMS, assert_plan_login

    suffix = f"_{environment.upper()}"
    if platform == "gitlab_ci":
        job = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))[f"{PLAN_JOBS[program]}-{environment}"]
        assert job["variables"]["DEPLOY_ENVIRONMENT"] == environment and "environment" not in job
        login = " ".join([*(f"{k}={v}" for k, v in job["variables"].items()), *job.get("before_script", [])])
        assert all(suffix in v for v in job["variables"].values() if "PLAN" in v), login  # its own environment's identity
        assert_plan_login(login.replace(suffix, ""), cloud)
        audience = job["id_tokens"]["OIDC_TOKEN"]["aud"].replace("$GCP", "${GCP").replace(suffix, "")
        return audience.replace("${GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER", "${GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER}").replace("}}", "}"), \
            PLAN_SUBJECTS[platform]
    if platform == "jenkins":
        text = (project / "jenkins/iac-plan.Jenkinsfile").read_text(encoding="utf-8")
        stage = re.search(rf"^( +)stage\('Plan {environment}'\) \{{\n(.*?)^\1\}}$", text, flags=re.S | re.M)[2]
        assert f"{program.split('_')[-1]}" in stage and f"as the {environment} read-only plan identity" in stage
        settings = dict(re.findall(r'^\s+(\w+) = "(.*)"$', stage, flags=re.M))
        assert all(suffix + "}" in v for v in settings.values() if "${env." in v), settings
        login = (" ".join(f"{k}={v}" for k, v in settings.items()) + " " + stage).replace("${env.", "$").replace(suffix, "")
        assert_plan_login(login, cloud)
        return settings["OIDC_AUDIENCE"].replace("${env.", "${").replace(suffix + "}", "}"), PLAN_SUBJECTS[platform]
    requested, subject, login = PLAN_CLAIMS[platform](project, cloud, environment)
    assert_plan_login(login, cloud)
    return requested, subject


PULUMI_COMBOS = [(platform, cloud) for program, platform, cloud in COMBOS if program == "pulumi"]


@pytest.mark.parametrize(("platform", "cloud"), PULUMI_COMBOS)
def test_pulumi_plan_identity_trusts_what_terraform_trusts(generate, platform: str, cloud: str) -> None:
    """Per environment, ciPlanSubjects == Terraform's plan_subjects (none where Terraform has no plan identity), the
    plan identity accepts what the CI's plan job presents, and the deploy identity does not."""
    from extensions.cicd_model import plan_identity

    a = program_answers("pulumi", platform, cloud)
    project, terraform = generate(**a), generate(**answers(platform, cloud))
    ours, theirs = program_identities(project, "pulumi"), terraform_identities(terraform)
    assert ours["plan"] == theirs["plan"]
    assert bool(ours["plan"]) == plan_identity({**answers_of(project), "cloud_provider": cloud}) == bool(theirs["plan"])
    assert ours["preview"] == theirs["preview"] == []  # answers(): no previews
    code = (project / TRUST_CODE["pulumi"]).read_text(encoding="utf-8")
    if not ours["plan"]:
        assert "ciPlanIdentity" not in code and "ciPlanSubjects" not in (project / SOURCE["pulumi"]).read_text(encoding="utf-8")
        return
    assert set(ours["plan"]) == set(DEPLOYED)
    _, audience, deploy_subjects = program_trust(project, "pulumi")
    audiences = [audience] if audience else [GCP_AUDIENCE.replace("GCP_", "GCP_PLAN_")]  # GCP: the plan provider's name
    for environment in DEPLOYED:
        requested, presented = program_plan_claims(project, "pulumi", platform, cloud, environment)
        assert requested in audiences, f"{environment}: the plan job asks for {requested!r}, the plan identity trusts {audiences}"
        assert plan_matcher(cloud, ours["plan"][environment])(presented), (environment, presented, ours["plan"][environment])
        if platform != "circleci":  # CircleCI's sub names no branch (the GCP deploy trust also requires the context)
            assert not matcher(cloud, deploy_subjects[environment])(presented), f"{environment}: a pull request could deploy"
    assert_read_only_program(project, cloud)


def assert_read_only_program(project: Path, cloud: str) -> None:
    """The plan identity of pulumi/src/ci_oidc.ts holds no write right beyond Terraform's plan identity (which writes
    only the state lock: `pulumi preview` takes none)."""
    code = (project / TRUST_CODE["pulumi"]).read_text(encoding="utf-8")
    plan = code.split("const plan", 1)[1].split("\n  return {", 1)[0].split("const previewTrust", 1)[0]
    if cloud == "aws":
        assert "ciPlanIdentity()" in plan and "name: `${name}-plan`" in plan
        assert 'assumeRolePolicy: webIdentityTrust(providerArn, issuerHost, plan.audience, plan.subjects)' in plan
        attached = re.findall(r'role: planRole\.name,\n\s+policyArn: "([^"]+)"', plan)
        assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"] and "PowerUserAccess" not in plan
        inline = re.findall(r"role: planRole\.(?:id|name)", plan)
        assert len(inline) == 2  # the ReadOnlyAccess attachment and the plan policy
        actions = {a for listed in re.findall(r"Action: \[([^\]]*)\]", plan) for a in re.findall(r'"([^"]+)"', listed)}
        assert actions == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}, actions
        assert '"Deny"' not in plan and 'Effect: "Allow"' in plan
    elif cloud == "gcp":
        assert "ciPlanIdentity()" in plan and "attributeCondition: plan.subjects.map(planSubjectCondition)" in plan
        roles = re.findall(r'role: "([^"]+)"', plan)
        assert roles == ["roles/iam.workloadIdentityUser", "roles/viewer", "roles/storage.objectViewer"], roles
        assert 'replace(/\\*/g, ".*")' in code  # * spans "/" like Terraform's plan_conditions
        assert "principalSet://iam.googleapis.com/${planPool.name}/*" in plan
        # the state bucket only with a self-managed backend (stateBucket): with Pulumi Cloud there is none to bind
        assert re.search(r'if \(stateBucket\) \{\n\s+new gcp\.storage\.BucketIAMMember\("plan-state", \{\n\s+bucket: stateBucket,', plan)
    else:
        assert "federatedIdentity(\"plan\", `${name}-ci-plan`, ciPlanIdentity())" in plan
        assert re.findall(r"grant\(([^;]*)\);", plan) == ['"plan", resourceGroup.id, "reader", planIdentity.principalId']
        # Reader cannot POST workspaces/sharedKeys/action: `pulumi preview` (a dry run) must not read the key
        app = (project / "pulumi/src/app.ts").read_text(encoding="utf-8")
        if "getSharedKeysOutput" in app:
            guarded = r'= pulumi\.runtime\.isDryRun\(\)\n\s+\? pulumi\.output\(""\)\n\s+: operationalinsights\.getSharedKeysOutput'
            assert re.search(guarded, app), "the dry run reads the workspace's shared key"
            assert 'ignoreChanges: ["appLogsConfiguration.logAnalyticsConfiguration.sharedKey"]' in app


PREVIEW_COMBOS = [
    ("github_actions", "aws", "aws_ecs_fargate"), ("gitlab_ci", "aws", "aws_app_runner"), ("github_actions", "aws", "aws_lambda"),
    ("github_actions", "azure", "azure_container_apps"), ("github_actions", "azure", "azure_functions"),
]
PREVIEW_TARGETS = {"aws_app_runner": {"has_worker": False}, "aws_lambda": {"has_worker": False, "containerize": False,
                                                                          "app_language": "python"},
                   "azure_functions": {"has_worker": False, "containerize": False}}


def preview_answers(platform: str, cloud: str, target: str, iac_tool: str) -> dict[str, Any]:
    return {**answers(platform, cloud), "deploy_target": target, "preview_environments": "full_stack", "iac_tool": iac_tool,
            **PREVIEW_TARGETS.get(target, {})}


@pytest.mark.parametrize(("platform", "cloud", "target"), PREVIEW_COMBOS)
def test_pulumi_preview_identity_trusts_what_terraform_trusts(generate, platform: str, cloud: str, target: str) -> None:
    """ciPreviewSubjects == the preview_subjects Terraform's host passes; the preview jobs' tokens match them, no deploy
    identity trusts them; the first stack creates it (ciPreviewHost), and the code mirrors Terraform's rights."""
    project = generate(**preview_answers(platform, cloud, target, "pulumi"))
    terraform = generate(**preview_answers(platform, cloud, target, "terraform"))
    ours, theirs = program_identities(project, "pulumi"), terraform_identities(terraform)
    assert ours == theirs and ours["preview"], (ours, theirs)
    assert "preview_subjects" in root_module(terraform, "development")  # Terraform's host: its first root
    config = (project / SOURCE["pulumi"]).read_text(encoding="utf-8")
    assert f'const ciPreviewHost = "{DEPLOYED[0]}";' in config  # the first stack (there is no development stack)
    _, _, deploy = program_trust(project, "pulumi")
    if platform == "github_actions":
        presented = [f"repo:{REPO}:environment:preview"]
        for name in ("preview-deploy", "preview-cleanup"):
            job = yaml.safe_load((project / f".github/workflows/{name}.yml").read_text(encoding="utf-8"))["jobs"][name]
            environment = job["environment"]["name"] if isinstance(job["environment"], dict) else job["environment"]
            assert environment == "preview"
            variable = {"aws": "AWS_PREVIEW_ROLE_ARN", "azure": "AZURE_PREVIEW_CLIENT_ID"}[cloud]
            assert f"vars.{variable}" in yaml.safe_dump(job), name
    else:
        presented = [f"project_path:{REPO}:ref_type:branch:ref:feature/new-checkout"]
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
        assert pipeline["preview-deploy"]["variables"]["AWS_ROLE_ARN"] == "$AWS_PREVIEW_ROLE_ARN"
    for subject in presented:
        assert matcher(cloud, ours["preview"])(subject), (subject, ours["preview"])
        assert not any(matcher(cloud, subjects)(subject) for subjects in deploy.values()), subject
        if platform == "github_actions":  # GitLab: plan and preview jobs are both merge request pipelines (same subject)
            assert not any(plan_matcher(cloud, subjects)(subject) for subjects in ours["plan"].values()), subject
    code = (project / TRUST_CODE["pulumi"]).read_text(encoding="utf-8")
    preview = code.split("const previewTrust = ciPreviewIdentity();", 1)[1].split("\n  return {", 1)[0]
    if cloud == "aws":
        assert "webIdentityTrust(providerArn, issuerHost, previewTrust.audience, previewTrust.subjects)" in preview
        assert re.findall(r'role: previewRole\.name,\n\s+policyArn: "([^"]+)"', preview) == ["arn:aws:iam::aws:policy/PowerUserAccess"]
        # IAM by <slug>-pr-* names only; every other environment's state and secrets denied
        assert "role/${project}-pr-*" in preview and "policy/${project}-pr-*" in preview
        for environment in DEPLOYED:
            assert f"arn:aws:s3:::${{project}}-pulumi-state/.pulumi/*/${{project}}/{environment}*" in preview
            assert f"secret:${{project}}/{environment}-*" in preview
        for sid in ("OtherEnvironmentsState", "OtherEnvironmentsSecrets", "OtherEnvironmentsResources", "ForeignEnvironmentTags",
                    "ForeignProjectTags", "NoRoleChaining"):
            assert re.search(rf'Sid: "{sid}",\n\s+Effect: "Deny"', preview), sid
        assert 'StringNotLike: { "aws:ResourceTag/environment": "pr-*" }' in preview
    else:
        assert 'federatedIdentity("preview", `${name}-ci-preview`, previewTrust)' in preview
        grants = re.findall(r'grant\("([^"]+)", subscription, "(\w+)", (\w+)\.principalId', preview)
        assert grants == [("preview", "contributor", "previewIdentity"),
                          ("preview-rbac", "roleBasedAccessControlAdministrator", "previewIdentity"),
                          ("ci-preview-reader", "reader", "identity")]
        assert "condition: onlyRoles([ROLES.keyVaultSecretsUser, ROLES.storageBlobDataOwner])" in preview
        assert "previewSubscriptionId || client.subscriptionId" in preview
    # the stack outputs that fill the CI variables, documented
    index = (project / "pulumi/index.ts").read_text(encoding="utf-8")
    docs = (project / "docs/infrastructure.md").read_text(encoding="utf-8")
    output, variable = {"aws": ("aws_preview_role_arn", "AWS_PREVIEW_ROLE_ARN"),
                        "azure": ("azure_preview_client_id", "AZURE_PREVIEW_CLIENT_ID")}[cloud]
    assert f"export const {output} = ci?.preview" in index and f"`{output}`: `{variable}`" in docs


@pytest.mark.parametrize(("platform", "cloud"), [("github_actions", "aws"), ("github_actions", "gcp"), ("azure_devops", "azure")])
def test_pulumi_plan_outputs_fill_the_plan_variables(generate, platform: str, cloud: str) -> None:
    project = generate(**program_answers("pulumi", platform, cloud))
    index = (project / "pulumi/index.ts").read_text(encoding="utf-8")
    docs = (project / "docs/infrastructure.md").read_text(encoding="utf-8").split("**The plan and preview identities**", 1)[1]
    outputs = {"aws": {"aws_plan_role_arn": ("planRoleArn", "AWS_PLAN_ROLE_ARN")},
               "gcp": {"gcp_plan_workload_identity_provider": ("planWorkloadIdentityProvider", "GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER"),
                       "gcp_plan_service_account": ("planServiceAccountEmail", "GCP_PLAN_SERVICE_ACCOUNT")},
               "azure": {"azure_plan_client_id": ("planClientId", "AZURE_PLAN_CLIENT_ID")}}[cloud]
    for output, (field, variable) in outputs.items():
        assert f"export const {output} = ci?.{field};" in index
        assert f"`{output}`: `{variable}`" in docs
    assert "_preview_" not in index and "ciPreviewIdentity" not in (project / TRUST_CODE["pulumi"]).read_text(encoding="utf-8")
