"""The read-only plan role and the preview role of the AWS CDK app and the SST program (issue 4).

The generated CI logs its pull-request plan jobs (`cdk diff`, `sst diff`) in as a read-only plan role and its preview
jobs (pr-<number> stacks) as a preview role (extensions/cicd_model.py plan_identity / preview_identity). These tests
prove that both programs create those roles with terraform/modules/ci_oidc's trust (the same subjects per environment,
parsed from the Terraform root modules of the same answers), with the permissions each job needs and no more: for CDK
end to end on the CloudFormation `cdk synth` writes (the harness's synth of every environment and of a pr-1 preview),
for SST on the type-checked source (what `sst deploy` creates is not provable offline: README.md, "SST").
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_valid
from test_cicd_oidc import DEPLOYED, REPO, SLUG, answers, github_plan_claims
from test_iac_program_identity import SOURCE, program_identities, terraform_identities

PROGRAMS = ["aws_cdk", "sst"]
OIDC_PLATFORMS = ["github_actions", "gitlab_ci", "circleci", "jenkins", "azure_devops"]
# IaC previews need a CI that deploys on pull requests and destroys on close (rules.py).
PREVIEW_PLATFORMS = {"github_actions", "gitlab_ci"}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
GUARDRAILS = {"OtherEnvironmentsSecrets", "OtherEnvironmentsResources", "ForeignEnvironmentTags", "ForeignProjectTags", "NoRoleChaining"}


def program_answers(program: str, platform: str, previews: bool) -> dict[str, Any]:
    return {**answers(platform, "aws"), "iac_tool": program, "preview_environments": "full_stack" if previews else "none"}


def terraform_answers(platform: str, previews: bool) -> dict[str, Any]:
    return {**answers(platform, "aws"), "preview_environments": "full_stack" if previews else "none"}


PARITY = [(program, platform, previews) for program in PROGRAMS for platform in OIDC_PLATFORMS
          for previews in ([False, True] if platform in PREVIEW_PLATFORMS else [False])]


@pytest.mark.parametrize(("program", "platform", "previews"), PARITY)
def test_plan_and_preview_subjects_are_terraform_ci_oidc_ones(generate, program: str, platform: str, previews: bool) -> None:
    project = generate(**program_answers(program, platform, previews))
    terraform = terraform_answers(platform, previews)
    expected = terraform_identities(generate(**terraform))
    assert expected["plan"], "every OIDC platform has a plan identity on AWS"
    assert bool(expected["preview"]) == previews
    found = program_identities(project, program)
    assert found["plan"] == expected["plan"]
    assert set(found["plan"]) == set(DEPLOYED)
    assert found["preview"] == expected["preview"]
    source = (project / SOURCE[program]).read_text(encoding="utf-8")
    assert ("ciPreviewSubjects" in source) == previews, "no preview identity without previews"


@pytest.mark.parametrize("program", PROGRAMS)
def test_github_plan_and_preview_jobs_present_subjects_the_roles_trust(generate, program: str) -> None:
    """The token subjects GitHub gives the plan jobs (environment <env>-plan) and the preview jobs (environment preview)."""
    project = generate(**program_answers(program, "github_actions", True))
    identities = program_identities(project, program)
    for environment in DEPLOYED:
        audience, subject, login = github_plan_claims(project, "aws", environment)
        assert audience == "sts.amazonaws.com" and "AWS_PLAN_ROLE_ARN" in login and "AWS_DEPLOY_ROLE_ARN" not in login
        assert any(fnmatch.fnmatchcase(subject, s) for s in identities["plan"][environment]), (subject, identities["plan"])
        others = [s for env, subjects in identities["plan"].items() if env != environment for s in subjects]
        assert not any(fnmatch.fnmatchcase(subject, s) for s in others), "one environment's plan role is not another's"
    workflows = project / ".github/workflows"
    for name in ("preview-deploy.yml", "preview-cleanup.yml"):
        for job in yaml.safe_load((workflows / name).read_text(encoding="utf-8"))["jobs"].values():
            environment = job.get("environment")
            if not environment:
                continue
            assert (environment if isinstance(environment, str) else environment["name"]) == "preview", name
            assert any("AWS_PREVIEW_ROLE_ARN" in str(step.get("with", {})) for step in job["steps"]), name
    assert identities["preview"] == [f"repo:{REPO}:environment:preview"]


def test_cdk_plan_compares_templates_without_a_change_set() -> None:
    """A change set needs the bootstrap deploy role (which could execute it): the plan compares templates instead."""
    from extensions.catalog import load_catalog

    plan = load_catalog().fact("iac_tool", "aws_cdk", "plan")
    assert 'cdk diff "*-{env}" --method=template' in plan


# ---- AWS CDK, end to end on the synthesized CloudFormation ---------------------------------------------------------

CDK_CASES = {
    "ecs-github": {**program_answers("aws_cdk", "github_actions", True)},
    "lambda-gitlab": {**program_answers("aws_cdk", "gitlab_ci", True), "deploy_target": "aws_lambda", "containerize": False,
                      "app_language": "python"},
}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _role(template: dict[str, Any], role_name: str) -> tuple[str, dict[str, Any]] | None:
    found = [(name, r) for name, r in _resources(template, "AWS::IAM::Role").items() if r["Properties"].get("RoleName") == role_name]
    assert len(found) <= 1
    return found[0] if found else None


def _arn(value: Any) -> str:
    """An ARN as synthesized (Fn::Join with the partition) as a string, partition aws."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(part if isinstance(part, str) else "aws" for part in value["Fn::Join"][1])
    return str(value)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the AWS::IAM::Policy resources attached to the role ``logical_id``."""
    return [statement for policy in _resources(template, "AWS::IAM::Policy").values()
            if {"Ref": logical_id} in policy["Properties"]["Roles"] for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def _trust(role: dict[str, Any]) -> dict[str, Any]:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity" and statement["Effect"] == "Allow"
    return statement["Condition"]


def _cdk_templates(generate, case: str) -> tuple[Path, dict[str, dict[str, Any]]]:
    from harness.iac_programs import cdk_program

    project = generate(**CDK_CASES[case])
    findings, templates = cdk_program(project)
    assert not findings, "\n".join(map(str, findings))
    return project, templates


@pytest.mark.parametrize("case", list(CDK_CASES))
def test_cdk_plan_role_per_environment_is_read_only(generate, case: str) -> None:
    project, templates = _cdk_templates(generate, case)
    identities = program_identities(project, "aws_cdk")
    for environment in DEPLOYED:
        stack = templates[f"{SLUG}-{environment}"]
        found = _role(stack, f"{SLUG}-{environment}-plan")
        assert found, f"{environment}: no plan role"
        logical_id, role = found
        condition = _trust(role)
        host = next(iter(condition["StringEquals"])).removesuffix(":aud")
        assert condition["StringEquals"] == {f"{host}:aud": "sts.amazonaws.com"}
        assert _listed(condition["StringLike"][f"{host}:sub"]) == identities["plan"][environment]
        # ReadOnlyAccess, nothing else managed; the one inline statement: assume the bootstrap lookup role only
        assert [_arn(a) for a in role["Properties"]["ManagedPolicyArns"]] == [READ_ONLY]
        assert "Policies" not in role["Properties"]
        (statement,) = _statements(stack, logical_id)
        assert statement["Sid"] == "CdkLookupRole" and statement["Effect"] == "Allow"
        assert sorted(_listed(statement["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
        assert statement["Condition"] == {"StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": "lookup"}}
        assert _arn(statement["Resource"]).endswith(":role/cdk-*")
        assert stack["Outputs"]["AwsPlanRoleArn"]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}
        assert "AWS_PLAN_ROLE_ARN" in stack["Outputs"]["AwsPlanRoleArn"]["Description"]
        # and the deploy role keeps its own trust (not the plan jobs')
        deploy = _role(stack, f"{SLUG}-{environment}-deploy")
        assert deploy and not set(_listed(_trust(deploy[1])["StringLike"][f"{host}:sub"])) & set(identities["plan"][environment])


@pytest.mark.parametrize("case", list(CDK_CASES))
def test_cdk_preview_role_only_in_the_first_environment_stack(generate, case: str) -> None:
    project, templates = _cdk_templates(generate, case)
    identities = program_identities(project, "aws_cdk")
    first, *others = DEPLOYED
    for environment in others:
        stack = templates[f"{SLUG}-{environment}"]
        assert not _role(stack, f"{SLUG}-{environment}-preview") and "AwsPreviewRoleArn" not in stack["Outputs"]
    stack = templates[f"{SLUG}-{first}"]
    found = _role(stack, f"{SLUG}-{first}-preview")
    assert found, "the first environment's stack creates the preview role"
    logical_id, role = found
    condition = _trust(role)
    host = next(iter(condition["StringEquals"])).removesuffix(":aud")
    assert _listed(condition["StringLike"][f"{host}:sub"]) == identities["preview"]
    assert [_arn(a) for a in role["Properties"]["ManagedPolicyArns"]] == [POWER_USER]
    statements = {s["Sid"]: s for s in _statements(stack, logical_id)}
    allowed = {sid for sid, s in statements.items() if s["Effect"] == "Allow"}
    assert allowed == {"ReadIam", "PreviewRoles", "PreviewRolePolicies", "ServiceLinkedRoles"}
    # IAM writes only on the previews' names
    names = {_arn(r).rsplit(":", 1)[1] for r in _listed(statements["PreviewRoles"]["Resource"])}
    assert names == {f"role/{SLUG}-pr-*", f"policy/{SLUG}-pr-*"}
    assert _arn(statements["PreviewRolePolicies"]["Resource"]).endswith(f":role/{SLUG}-pr-*")
    denied = {sid for sid, s in statements.items() if s["Effect"] == "Deny"}
    assert denied == GUARDRAILS | {"OtherEnvironmentsStacks", "BootstrapSettings", "BootstrapParameters"}
    stacks = {_arn(r).rsplit(":", 1)[1] for r in statements["OtherEnvironmentsStacks"]["Resource"]}
    assert stacks == {f"stack/{SLUG}-{env}/*" for env in DEPLOYED} | {"stack/CDKToolkit/*"}
    secrets = {_arn(r).rsplit(":", 1)[1] for r in statements["OtherEnvironmentsSecrets"]["Resource"]}
    assert secrets == {f"{SLUG}/{env}-*" for env in DEPLOYED}
    assert statements["NoRoleChaining"]["Resource"] == "*" and "sts:AssumeRole" in statements["NoRoleChaining"]["Action"]
    assert statements["ForeignEnvironmentTags"]["Condition"]["StringNotLike"] == {"aws:RequestTag/environment": "pr-*"}
    assert stack["Outputs"]["AwsPreviewRoleArn"]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}


@pytest.mark.parametrize("case", list(CDK_CASES))
def test_cdk_preview_stack_creates_no_identity_and_deploys_with_the_cli_credentials(generate, case: str) -> None:
    _, templates = _cdk_templates(generate, case)
    preview = templates[f"{SLUG}-pr-1"]
    names = [str(r["Properties"].get("RoleName", "")) for r in _resources(preview, "AWS::IAM::Role").values()]
    assert not [n for n in names if n.endswith(("-deploy", "-plan", "-preview"))], names
    assert not _resources(preview, "AWS::IAM::OIDCProvider")
    assert not {"AwsDeployRoleArn", "AwsPlanRoleArn", "AwsPreviewRoleArn"} & set(preview.get("Outputs", {}))
    # CliCredentialsStackSynthesizer: no bootstrap-version check, so no bootstrap roles; the environments keep the default
    assert "BootstrapVersion" not in preview.get("Parameters", {})
    assert all("BootstrapVersion" in templates[f"{SLUG}-{env}"]["Parameters"] for env in DEPLOYED)


# ---- SST: the type-checked source ---------------------------------------------------------------------------------

SST_CASES = {
    "ecs-gitlab": program_answers("sst", "gitlab_ci", True),
    "lambda-github": {**program_answers("sst", "github_actions", True), "deploy_target": "aws_lambda", "containerize": False,
                      "app_language": "python"},
}


def _block(text: str, start: str) -> str:
    """The source from ``start`` to the matching close of its first brace."""
    index = text.index(start)
    depth = 0
    for position in range(text.index("{", index), len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[index:position + 1]
    raise AssertionError(f"unbalanced braces after {start!r}")


@pytest.mark.parametrize("case", list(SST_CASES))
def test_sst_program_with_plan_and_preview_roles_type_checks(generate, case: str) -> None:
    assert_valid(generate(**SST_CASES[case]), only={"sst"})


@pytest.mark.parametrize("case", list(SST_CASES))
def test_sst_plan_role_is_read_only_and_the_preview_role_belongs_to_the_first_stage(generate, case: str) -> None:
    project = generate(**SST_CASES[case])
    text = (project / "sst/sst.config.ts").read_text(encoding="utf-8")
    identities = program_identities(project, "sst")
    assert set(identities["plan"]) == set(DEPLOYED) and identities["preview"]
    assert f'accountWideStage: "{DEPLOYED[0]}"' in text
    identity = _block(text, "if (!preview) {\n      const { issuer, audience, subjects, planSubjects, previewSubjects } = ciTrust(stage);")
    # plan: its jobs' subjects, ReadOnlyAccess and nothing else (no inline policy, no other attachment)
    assert 'planRole = new aws.iam.Role("PlanRole", {' in identity and "assumeRolePolicy: webIdentity(planSubjects)," in identity
    assert "name: `${name}-plan`," in identity
    attachments = re.findall(r"new aws\.iam\.RolePolicyAttachment\(\"(\w+)\", \{\n\s+role: (\w+)\.name,\n\s+policyArn: `([^`]+)`", identity)
    managed = "arn:${partition}:iam::aws:policy/"
    assert [a for a in attachments if a[1] == "planRole"] == [("PlanRoleReadOnly", "planRole", managed + "ReadOnlyAccess")]
    assert not re.search(r"new aws\.iam\.RolePolicy\(\"\w+\", \{\n\s+(name: \"\w+\",\n\s+)?role: planRole", identity)
    # preview: created only by the first environment's stage (inside `if (!preview)`: a pr-<n> stage creates no identity)
    preview = _block(identity, "if (stage === project.accountWideStage) {")
    assert 'previewRole = new aws.iam.Role("PreviewRole", {' in preview and "assumeRolePolicy: webIdentity(previewSubjects)," in preview
    assert [a for a in attachments if a[1] == "previewRole"] == [("PreviewRoleAccess", "previewRole", managed + "PowerUserAccess")]
    sids = dict(re.findall(r'Sid: "(\w+)",?\s+Effect: "(\w+)"', preview))
    allowed = {sid for sid, effect in sids.items() if effect == "Allow"}
    assert allowed == {"ReadIam", "PreviewRoles", "PreviewRolePolicies", "ServiceLinkedRoles"}
    assert {sid for sid, effect in sids.items() if effect == "Deny"} == GUARDRAILS | {
        "OtherEnvironmentsState", "OtherEnvironmentsPassphrases", "StateBucketSettings", "BootstrapParameter"}
    assert "`arn:${partition}:s3:::sst-state-*/*/${project.slug}/${other}.json`" in preview
    assert "`arn:${partition}:ssm:*:${account}:parameter/sst/passphrase/${project.slug}/${other}`" in preview
    assert "`arn:${partition}:iam::${account}:role/${project.slug}-pr-*`" in preview
    # the stage outputs that fill AWS_PLAN_ROLE_ARN and AWS_PREVIEW_ROLE_ARN
    assert "awsPlanRoleArn: planRole?.arn," in text and "awsPreviewRoleArn: previewRole?.arn," in text
    docs = (project / "docs/infrastructure.md").read_text(encoding="utf-8")
    assert "`awsPlanRoleArn`" in docs and "`awsPreviewRoleArn`" in docs and "AWS_PREVIEW_ROLE_ARN" in docs


def test_no_plan_or_preview_identity_without_oidc(generate) -> None:
    """CodePipeline runs as its CodeBuild service role: neither program creates a CI identity (nor Terraform)."""
    for program in PROGRAMS:
        project = generate(**{**answers("aws_codepipeline", "aws"), "iac_tool": program})
        text = (project / SOURCE[program]).read_text(encoding="utf-8")
        assert "ciPlanSubjects" not in text and "ciPreviewSubjects" not in text and "PlanRole" not in text
        assert program_identities(project, program) == {"plan": {}, "preview": []}


@pytest.mark.parametrize(("program", "platform"), [("aws_cdk", "github_actions"), ("sst", "gitlab_ci")])
def test_docs_name_the_ci_variable_each_output_fills(generate, program: str, platform: str) -> None:
    docs = (generate(**program_answers(program, platform, True)) / "docs/infrastructure.md").read_text(encoding="utf-8")
    outputs = {"aws_cdk": ("AwsDeployRoleArn", "AwsPlanRoleArn", "AwsPreviewRoleArn"),
               "sst": ("awsDeployRoleArn", "awsPlanRoleArn", "awsPreviewRoleArn")}[program]
    table = [row.split(" | ") for row in docs.splitlines() if row.startswith(("| deploy", "| plan", "| preview")) and row.count(" | ") == 4]
    rows = {cells[3].strip("`"): cells[4] for cells in table}
    if platform == "github_actions":
        assert rows[outputs[1]] == "`AWS_PLAN_ROLE_ARN`, in the GitHub environment `<environment>-plan` |"
        assert rows[outputs[2]] == "`AWS_PREVIEW_ROLE_ARN`, in the GitHub environment `preview` |"
    else:  # GitLab: the plan jobs name no environment, the variables carry it (.gitlab-ci.yml)
        assert rows[outputs[1]] == "`AWS_PLAN_ROLE_ARN_STAGING`, `AWS_PLAN_ROLE_ARN_PRODUCTION` |"
        assert rows[outputs[2]] == "`AWS_PREVIEW_ROLE_ARN` |"
    assert rows[outputs[0]].startswith("`AWS_DEPLOY_ROLE_ARN`")
    assert f"created by the {DEPLOYED[0]}" in docs.replace("\n", " ") and "terraform/environments/development" not in docs
