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
from conftest import assert_valid
from test_cicd_oidc import CLAIMS, DEPLOYED, GCP_AUDIENCE, ISSUERS, JENKINS, ORG, PROJECT, REPO, SLUG, answers, trust

PROGRAMS = {"pulumi": ["aws", "gcp", "azure"], "aws_cdk": ["aws"], "sst": ["aws"]}
OIDC_PLATFORMS = ["github_actions", "gitlab_ci", "circleci", "jenkins", "azure_devops"]
# Refused by rules.py: CircleCI's subjects vary per project and user (Azure federated credentials are exact);
# CodePipeline runs in AWS only.
REFUSED = {("circleci", "azure"), ("aws_codepipeline", "gcp"), ("aws_codepipeline", "azure")}
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
    audience = re.search(r'audience: "([^"]*)"', text)
    assert issuer and audience, SOURCE[program]
    return literal(issuer[1]), audience[1], subjects


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
    code = re.sub(r'audience: "[^"]*"', "", code)  # SST: ciTrust (the stated audience) sits in the same file
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
