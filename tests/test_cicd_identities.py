"""The CI identities of terraform/modules/ci_oidc can really do what their jobs run (issues 3 and 4).

* The deploy identity of each environment runs ``terraform apply`` before the deploy: it holds the rights an apply of
  the whole stack needs (AWS PowerUserAccess + IAM scoped to the environment's names, GCP admin roles of the stack's
  services + project IAM, Azure Contributor + a constrained Role Based Access Control Administrator).
* The preview identity exists only when previews are IaC stacks; it trusts exactly the subject and audience the
  generated GitHub/GitLab preview jobs present, and is scoped to ``<slug>-pr-*`` names and the preview state.
* The preview jobs log in with the preview identity's variables.

The HCL is read with python-hcl2; the generated trees pass terraform fmt, python-hcl2 and checkov (assert_valid).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_valid, hcl_of, preset

SLUG = "shop"
REPO = "acme/shop"
ENVIRONMENTS = ["development", "staging", "production"]
HOST = ENVIRONMENTS[0]  # the first environment creates the preview identity (and AWS's OIDC provider)
AWS = {"container_registry": "ecr", "secrets_manager": "aws_secrets_manager"}
AZURE = {"container_registry": "acr", "secrets_manager": "azure_key_vault", "metrics": "prometheus_grafana"}
GCP = {"container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager"}
PROJECTS: dict[str, dict[str, Any]] = {
    "aws-github": {**AWS, "deploy_target": "aws_ecs_fargate", "ci_platform": "github_actions", "iac_tool": "terraform"},
    "aws-gitlab": {**AWS, "deploy_target": "aws_app_runner", "ci_platform": "gitlab_ci", "iac_tool": "opentofu",
                   "has_worker": False, "cache": "none", "notifications": ["slack"]},
    "azure-github": {**AZURE, "deploy_target": "azure_container_apps", "ci_platform": "github_actions", "iac_tool": "terraform"},
    "gcp-github": {**GCP, "deploy_target": "gcp_cloud_run", "ci_platform": "github_actions", "iac_tool": "terraform",
                   "preview_environments": "none"},
}
CLOUD = {"aws-github": "aws", "aws-gitlab": "aws", "azure-github": "azure", "gcp-github": "gcp"}
PREVIEWS = ["aws-github", "aws-gitlab", "azure-github"]
# What a merge request pipeline on GitLab presents: the source branch's subject (any name, "/" included).
GITLAB_MR_SUBJECT = f"project_path:{REPO}:ref_type:branch:ref:feature/new-checkout"
# Roles no CI identity may hand out.
ADMIN_ROLES = {"Owner", "User Access Administrator", "Role Based Access Control Administrator"}


def _project(generate, name: str, **extra: Any) -> Path:
    answers = {**preset("production"), "environments": ENVIRONMENTS, "preview_environments": "full_stack",
               "repository": REPO, "project_slug": SLUG, **PROJECTS[name], **extra}
    return generate(**answers)


_hcl = hcl_of  # python-hcl2 with plain strings (conftest)


def _blocks(document: dict[str, Any], kind: str, type_: str) -> dict[str, dict[str, Any]]:
    """name -> body of every ``kind "type_" "name"`` block."""
    return {name: body for entry in document.get(kind, []) for t, named in entry.items() if t == type_
            for name, body in named.items()}


def _module(project: Path) -> dict[str, Any]:
    return _hcl(project / "terraform/modules/ci_oidc/main.tf")


def _ci_oidc_call(project: Path, environment: str) -> dict[str, Any]:
    root = _hcl(project / f"terraform/environments/{environment}/main.tf")
    return next(m["ci_oidc"] for m in root["module"] if "ci_oidc" in m)


def _outputs(path: Path) -> dict[str, Any]:
    return {k: v for o in _hcl(path).get("output", []) for k, v in o.items()}


def _statements(document: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    body = _blocks(document, "data", "aws_iam_policy_document")[name]
    return {s.get("sid", f"#{n}"): s for n, s in enumerate(body["statement"])}


def _toset(expression: Any) -> set[str]:
    """The strings of the first toset([...]) of a for_each expression (python-hcl2 keeps expressions as text)."""
    if isinstance(expression, list):
        return set(expression)
    listed = str(expression).split("toset([", 1)[1].split("])", 1)[0]
    return set(re.findall(r'"([^"]*)"', listed))


def _conditions(statement: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    return {(c["test"], c["variable"]): c["values"] for c in statement.get("condition", [])}


# ---- the deploy identity can apply the stack ------------------------------------------------------------------

def test_aws_deploy_identity_can_apply_the_stack(generate) -> None:
    main = _module(_project(generate, "aws-github"))
    attachments = _blocks(main, "resource", "aws_iam_role_policy_attachment")
    assert attachments["deploy_apply"] == {"role": "${aws_iam_role.deploy.name}",
                                           "policy_arn": "arn:aws:iam::aws:policy/PowerUserAccess"}
    policies = _blocks(main, "resource", "aws_iam_role_policy")
    assert policies["deploy_iam"]["role"] == "${aws_iam_role.deploy.id}"
    assert policies["deploy_iam"]["policy"] == "${data.aws_iam_policy_document.deploy_iam.json}"
    iam = _statements(main, "deploy_iam")
    account = "arn:aws:iam::${data.aws_caller_identity.current.account_id}"
    # PowerUserAccess has no IAM: the stack's roles, policies and instance profiles, by this environment's names only
    assert set(iam["StackRoles"]["resources"]) == {f"{account}:role/${{var.name}}-*", f"{account}:policy/${{var.name}}-*",
                                                   f"{account}:instance-profile/${{var.name}}-*"}
    assert {"iam:CreateRole", "iam:DeleteRole", "iam:PutRolePolicy", "iam:PassRole"} <= set(iam["StackRoles"]["actions"])
    assert not any(a in ("iam:*", "*") for s in iam.values() for a in s["actions"])
    # attaching policies: only the AWS service policies the stack uses, never an administrator policy
    attach = iam["StackRolePolicies"]
    assert set(attach["actions"]) == {"iam:AttachRolePolicy", "iam:DetachRolePolicy"}
    allowed = _conditions(attach)[("ArnLike", "iam:PolicyARN")]
    assert "arn:aws:iam::aws:policy/service-role/*" in allowed
    assert not any(fnmatch.fnmatchcase(f"arn:aws:iam::aws:policy/{p}", a) for p in ("AdministratorAccess", "IAMFullAccess")
                   for a in allowed)
    # every policy the generated stack attaches is allowed
    stack = project_policy_arns(_project(generate, "aws-github"))
    assert stack and all(any(fnmatch.fnmatchcase(arn, a) for a in allowed) for arn in stack), stack
    assert iam["ServiceLinkedRoles"]["resources"] == [f"{account}:role/aws-service-role/*"]
    assert iam["ReadIam"]["actions"] == ["iam:Get*", "iam:List*"]
    assert all(s.get("effect", "Allow") == "Allow" for s in iam.values())


def project_policy_arns(project: Path) -> set[str]:
    """The managed policies the generated modules attach (ci_oidc's own attachments included)."""
    arns = set()
    for path in (project / "terraform/modules").glob("*/main.tf"):
        for body in _blocks(_hcl(path), "resource", "aws_iam_role_policy_attachment").values():
            if body["policy_arn"].startswith("arn:aws:iam::aws:policy/"):
                arns.add(body["policy_arn"])
    return arns


def test_gcp_deploy_identity_can_apply_the_stack(generate) -> None:
    main = _module(_project(generate, "gcp-github"))
    deployer = _blocks(main, "resource", "google_project_iam_member")["deployer"]
    assert deployer["member"] == "serviceAccount:${google_service_account.deployer.email}"
    roles = _toset(deployer["for_each"])
    # the services of the stack (Cloud Run, Cloud SQL, Memorystore, Secret Manager), its service accounts and IAM
    assert {"roles/run.admin", "roles/cloudsql.admin", "roles/redis.admin", "roles/secretmanager.admin",
            "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser", "roles/artifactregistry.writer",
            "roles/iam.workloadIdentityPoolAdmin", "roles/resourcemanager.projectIamAdmin"} <= roles, roles
    assert not roles & {"roles/owner", "roles/editor"}, "no basic role"


def test_azure_deploy_identity_can_apply_the_stack(generate) -> None:
    main = _module(_project(generate, "azure-github"))
    assignments = _blocks(main, "resource", "azurerm_role_assignment")
    principal = "${azurerm_user_assigned_identity.ci.principal_id}"
    assert assignments["ci"] == {"scope": "${var.resource_group_id}", "role_definition_name": "Contributor",
                                 "principal_id": principal}
    rbac = assignments["ci_rbac"]
    assert rbac["scope"] == "${var.resource_group_id}" and rbac["principal_id"] == principal
    assert rbac["role_definition_name"] == "Role Based Access Control Administrator"
    assert rbac["condition_version"] == "2.0"
    condition = rbac["condition"]
    # writes and deletes of role assignments are both limited to the stack's role definitions
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/write'}" in condition
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}" in condition
    assert condition.count("ForAnyOfAnyValues:GuidEquals {${local.stack_role_ids}}") == 2
    roles = _toset(_blocks(main, "data", "azurerm_role_definition")["stack"]["for_each"])
    assert roles == {"Contributor", "Reader", "Key Vault Secrets User", "Storage Blob Data Owner"}
    assert not roles & ADMIN_ROLES
    # every role the generated stack assigns in the resource group is among them
    assigned = {body["role_definition_name"] for path in (_project(generate, "azure-github") / "terraform/modules").glob("*/main.tf")
                for body in _blocks(_hcl(path), "resource", "azurerm_role_assignment").values()
                if "scope" in body and "state_container_id" not in body["scope"] and "preview_subscription" not in body["scope"]}
    assert assigned - {"Role Based Access Control Administrator"} <= roles, assigned


# ---- the preview identity: when, whom it trusts, what it may do -----------------------------------------------

@pytest.mark.parametrize(("name", "extra"), [
    ("aws-github", {"preview_environments": "none"}),
    ("azure-github", {"preview_environments": "none"}),
    ("gcp-github", {}),
    ("aws-github", {"deploy_target": "kubernetes", "k8s_distribution": "eks"}),  # previews of a cluster are no IaC stacks
])
def test_no_preview_identity_without_preview_stacks(generate, name: str, extra: dict[str, Any]) -> None:
    if extra.get("deploy_target") == "kubernetes":
        extra = {**extra, "preview_environments": "none"}
    project = _project(generate, name, **extra)
    main_tf = (project / "terraform/modules/ci_oidc/main.tf").read_text(encoding="utf-8")
    assert '"preview"' not in main_tf and "preview_subjects" not in main_tf
    for environment in ENVIRONMENTS:
        assert "preview_subjects" not in _ci_oidc_call(project, environment)
        assert not any("preview" in k for k in _outputs(project / f"terraform/environments/{environment}/outputs.tf"))
    workflows = project / ".github/workflows"
    if workflows.exists():
        assert "PREVIEW" not in "".join(p.read_text(encoding="utf-8") for p in workflows.glob("*.yml"))


def _preview_subjects(project: Path) -> list[str]:
    """preview_subjects passed by the host environment; no other environment passes any."""
    subjects = _ci_oidc_call(project, HOST)["preview_subjects"]
    for environment in ENVIRONMENTS[1:]:
        assert "preview_subjects" not in _ci_oidc_call(project, environment), environment
    return subjects


def _github_preview_jobs(project: Path) -> dict[str, dict[str, Any]]:
    jobs = {}
    for name in ("preview-deploy", "preview-cleanup"):
        workflow = yaml.safe_load((project / f".github/workflows/{name}.yml").read_text(encoding="utf-8"))
        jobs[name] = workflow["jobs"][name]
    return jobs


def _github_login(job: dict[str, Any]) -> dict[str, Any]:
    step = next(s for s in job["steps"] if s.get("uses", "").startswith(("aws-actions/configure-aws-credentials", "azure/login")))
    return step["with"]


def test_aws_preview_identity_trusts_exactly_the_github_preview_jobs(generate) -> None:
    project = _project(generate, "aws-github")
    main = _module(project)
    subjects = _preview_subjects(project)
    assert subjects == [f"repo:{REPO}:environment:preview"]
    role = _blocks(main, "resource", "aws_iam_role")["preview"]
    assert role["count"] == "${local.preview ? 1 : 0}"
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.assume_preview[0].json}"
    trust = _blocks(main, "data", "aws_iam_policy_document")["assume_preview"]["statement"][0]
    conditions = _conditions(trust)
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert conditions[("StringLike", "${local.issuer_host}:sub")] == "${var.preview_subjects}"
    audiences = conditions[("StringEquals", "${local.issuer_host}:aud")]
    provider = _blocks(main, "resource", "aws_iam_openid_connect_provider")["ci"]
    assert audiences == provider["client_id_list"] == ["${var.audience}"]
    assert _ci_oidc_call(project, HOST)["audience"] == "sts.amazonaws.com"  # what GitHub's AWS login requests
    for name, job in _github_preview_jobs(project).items():
        # the subject: both jobs run in the environment "preview", with an id token, as the preview role
        environment = job["environment"]["name"] if isinstance(job["environment"], dict) else job["environment"]
        presented = f"repo:{REPO}:environment:{environment}"
        assert any(fnmatch.fnmatchcase(presented, s) for s in subjects), name
        assert job["permissions"]["id-token"] == "write"
        login = _github_login(job)
        assert login["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}", name
        assert "audience" not in login  # configure-aws-credentials requests sts.amazonaws.com
        # the deploy identity of no environment trusts the preview jobs
        for env in ENVIRONMENTS:
            assert not any(fnmatch.fnmatchcase(presented, s) for s in _ci_oidc_call(project, env)["subjects"])
    outputs = _outputs(project / f"terraform/environments/{HOST}/outputs.tf")
    assert outputs["aws_preview_role_arn"]["value"] == "${module.ci_oidc.preview_role_arn}"
    assert _outputs(project / "terraform/modules/ci_oidc/outputs.tf")["preview_role_arn"]["value"] == \
        "${one(aws_iam_role.preview[*].arn)}"


def test_aws_preview_identity_trusts_exactly_the_gitlab_merge_request_jobs(generate) -> None:
    project = _project(generate, "aws-gitlab")
    subjects = _preview_subjects(project)
    assert subjects == [f"project_path:{REPO}:ref_type:branch:ref:*"]
    assert any(fnmatch.fnmatchcase(GITLAB_MR_SUBJECT, s) for s in subjects)  # StringLike: * spans "/"
    assert not any(fnmatch.fnmatchcase("project_path:acme/other:ref_type:branch:ref:x", s) for s in subjects)
    for env in ENVIRONMENTS:
        assert not any(fnmatch.fnmatchcase(GITLAB_MR_SUBJECT, s) for s in _ci_oidc_call(project, env)["subjects"])
    main = _module(project)
    assert _conditions(_blocks(main, "data", "aws_iam_policy_document")["assume_preview"]["statement"][0])[
        ("StringEquals", "${local.issuer_host}:aud")] == ["${var.audience}"]
    audiences = [_ci_oidc_call(project, HOST)["audience"]]
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    for name in ("preview-image", "preview-deploy", "preview-cleanup"):
        job = pipeline[name]
        assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"', name
        assert job["id_tokens"]["OIDC_TOKEN"]["aud"] in audiences, name
        assert job["variables"]["AWS_ROLE_ARN"] == "$AWS_PREVIEW_ROLE_ARN", name
        assert job["variables"]["AWS_WEB_IDENTITY_TOKEN_FILE"] == "$OIDC_TOKEN_FILE", name
    for name in ("preview-deploy", "preview-cleanup"):
        script = pipeline[name]["before_script"]
        assert script[1] == 'printf \'%s\' "$OIDC_TOKEN" > "$OIDC_TOKEN_FILE"' and "aws sts get-caller-identity" in script[2]
    # the deploy jobs keep the deploy role
    assert pipeline[".cloud"]["variables"]["AWS_ROLE_ARN"] == "$AWS_DEPLOY_ROLE_ARN"


@pytest.mark.parametrize("name", ["aws-github", "aws-gitlab"])
def test_aws_preview_identity_is_scoped_to_previews(generate, name: str) -> None:
    main = _module(_project(generate, name))
    account = "arn:aws:iam::${data.aws_caller_identity.current.account_id}"
    attachments = _blocks(main, "resource", "aws_iam_role_policy_attachment")
    assert attachments["preview_apply"]["role"] == "${aws_iam_role.preview[0].name}"
    assert attachments["preview_apply"]["policy_arn"] == "arn:aws:iam::aws:policy/PowerUserAccess"
    allow = _statements(main, "preview")
    # state: the workspaces under preview/ only
    assert allow["PreviewState"]["resources"] == [f"arn:aws:s3:::{SLUG}-tfstate/preview/*"]
    assert _conditions(allow["ListPreviewWorkspaces"]) == {("StringLike", "s3:prefix"): ["preview/*"]}
    # IAM: pr-* names only, AWS service policies only
    assert set(allow["PreviewRoles"]["resources"]) == {f"{account}:role/{SLUG}-pr-*", f"{account}:policy/{SLUG}-pr-*"}
    assert allow["PreviewRolePolicies"]["resources"] == [f"{account}:role/{SLUG}-pr-*"]
    assert all(a.startswith(("arn:aws:iam::aws:policy/service-role/", "arn:aws:iam::aws:policy/AWSCodeDeploy"))
               or a.endswith(f":policy/{SLUG}-pr-*")
               for a in _conditions(allow["PreviewRolePolicies"])[("ArnLike", "iam:PolicyARN")])
    deny = _statements(main, "preview_guardrails")
    assert all(s["effect"] == "Deny" for s in deny.values())
    assert set(deny["OtherEnvironmentsState"]["resources"]) == {f"arn:aws:s3:::{SLUG}-tfstate/{e}/*" for e in ENVIRONMENTS}
    assert len(deny["OtherEnvironmentsSecrets"]["resources"]) == len(ENVIRONMENTS)
    assert all(f":secret:{SLUG}/{e}-*" in r for e, r in zip(ENVIRONMENTS, deny["OtherEnvironmentsSecrets"]["resources"], strict=True))
    # anything tagged for another environment is off limits; nothing may be tagged for one
    assert _conditions(deny["OtherEnvironmentsResources"]) == {("Null", "aws:ResourceTag/environment"): ["false"],
                                                               ("StringNotLike", "aws:ResourceTag/environment"): ["pr-*"]}
    assert {"rds:DeleteDBInstance", "ec2:TerminateInstances", "kms:Decrypt"} <= {
        a for a in ("rds:DeleteDBInstance", "ec2:TerminateInstances", "kms:Decrypt")
        if any(fnmatch.fnmatchcase(a, p) for p in deny["OtherEnvironmentsResources"]["actions"])}
    assert _conditions(deny["ForeignEnvironmentTags"])[("StringNotLike", "aws:RequestTag/environment")] == ["pr-*"]
    assert _conditions(deny["ForeignProjectTags"])[("StringNotEquals", "aws:RequestTag/project")] == [SLUG]
    assert "sts:AssumeRole" in deny["NoRoleChaining"]["actions"]
    # the preview root's resources are what the guardrails allow: named <slug>-pr-<n>, tagged environment = pr-<n>
    root = (_project(generate, name) / "terraform/environments/preview/main.tf").read_text(encoding="utf-8")
    assert f'name        = "{SLUG}-${{terraform.workspace}}"' in root and "environment = local.environment" in root


def test_azure_preview_identity_trusts_exactly_the_github_preview_jobs(generate) -> None:
    project = _project(generate, "azure-github")
    main = _module(project)
    subjects = _preview_subjects(project)
    assert subjects == [f"repo:{REPO}:environment:preview"]
    credential = _blocks(main, "resource", "azurerm_federated_identity_credential")["preview"]
    assert credential["for_each"] == "${toset(var.preview_subjects)}" and credential["subject"] == "${each.value}"
    assert credential["parent_id"] == "${azurerm_user_assigned_identity.preview[0].id}"
    assert credential["issuer"] == "${var.issuer_url}"
    issuer = _ci_oidc_call(project, HOST)["issuer_url"]
    assert issuer == "https://token.actions.githubusercontent.com"
    for name, job in _github_preview_jobs(project).items():
        environment = job["environment"]["name"] if isinstance(job["environment"], dict) else job["environment"]
        assert f"repo:{REPO}:environment:{environment}" in subjects, name  # Entra ID: exact subjects
        login = _github_login(job)
        assert login["client-id"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}", name
        assert credential["audience"] == [login.get("audience", "api://AzureADTokenExchange")]  # azure/login's default
        # terraform's azurerm provider and state backend log in as the same identity
        assert job["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}" and job["env"]["ARM_USE_OIDC"] == "true"
    outputs = _outputs(project / f"terraform/environments/{HOST}/outputs.tf")
    assert outputs["azure_preview_client_id"]["value"] == "${module.ci_oidc.preview_client_id}"


def test_azure_preview_identity_is_scoped_to_previews(generate) -> None:
    project = _project(generate, "azure-github")
    main = _module(project)
    assignments = _blocks(main, "resource", "azurerm_role_assignment")
    principal = "${azurerm_user_assigned_identity.preview[0].principal_id}"
    # previews create their own resource groups: Contributor on the (preview) subscription
    assert assignments["preview"]["scope"] == "${local.preview_subscription}"
    assert assignments["preview"]["role_definition_name"] == "Contributor" and assignments["preview"]["principal_id"] == principal
    locals_ = {k: v for block in main["locals"] for k, v in block.items()}
    assert "var.preview_subscription_id" in locals_["preview_subscription"]
    rbac = assignments["preview_rbac"]
    assert rbac["role_definition_name"] == "Role Based Access Control Administrator" and rbac["condition_version"] == "2.0"
    assert rbac["condition"].count("GuidEquals {${local.preview_role_ids}}") == 2
    roles = _toset(_blocks(main, "data", "azurerm_role_definition")["preview_stack"]["for_each"])
    assert roles == {"Key Vault Secrets User", "Key Vault Secrets Officer", "Storage Blob Data Owner"}
    # state: blobs of the preview workspaces only (preview.tfstate, preview.tfstateenv:pr-<number>)
    state = assignments["preview_state"]
    assert state["scope"] == "${local.state_container_id}" and state["role_definition_name"] == "Storage Blob Data Contributor"
    assert "blobs:path] StringStartsWith 'preview.tfstate'" in state["condition"]
    for action in ("read", "write", "delete", "add/action"):
        assert f"ActionMatches{{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{action}'}}" in state["condition"]
    # the preview writes its own Key Vault secrets (RBAC-only vault): the applier is its Secrets Officer
    root = _hcl(project / "terraform/environments/preview/main.tf")
    officer = _blocks(root, "resource", "azurerm_role_assignment")["secrets_officer"]
    assert officer == {"scope": "${module.data.key_vault_id}", "role_definition_name": "Key Vault Secrets Officer",
                       "principal_id": "${data.azurerm_client_config.current.object_id}"}


def test_gitlab_previews_on_azure_are_refused() -> None:
    """Entra ID cannot trust GitLab merge request pipelines (one subject per source branch)."""
    from extensions.catalog import load_catalog
    from extensions.rules import azure_previews_need_exact_subjects

    catalog = load_catalog()
    answers = {"ci_platform": "gitlab_ci", "deploy_target": "azure_container_apps", "iac_tool": "opentofu",
               "preview_environments": "full_stack"}
    problems = list(azure_previews_need_exact_subjects(catalog, answers))
    assert [p.question for p in problems] == ["ci_platform"]
    assert "github_actions" in problems[0].message and "preview_environments none" in problems[0].message
    assert list(azure_previews_need_exact_subjects(catalog, {**answers, "ci_platform": "github_actions"})) == []
    assert list(azure_previews_need_exact_subjects(catalog, {**answers, "preview_environments": "none"})) == []


@pytest.mark.parametrize("name", [*PREVIEWS, "gcp-github"])
def test_identity_projects_pass_the_terraform_checks(generate, name: str) -> None:
    """terraform fmt -check, python-hcl2 and checkov (the documented skip list) over the whole terraform/ tree."""
    assert_valid(_project(generate, name), only={"terraform"})


@pytest.mark.parametrize("name", PREVIEWS)
def test_preview_pipelines_pass_their_validators(generate, name: str) -> None:
    assert_valid(_project(generate, name), only={"github-actions", "gitlab-ci", "yamllint"})



@pytest.mark.parametrize(("name", "says"), [
    ("aws-github", ["`PowerUserAccess`", "`shop-<environment>-*`", "Give each environment its own AWS account",
                    "`AWS_PREVIEW_ROLE_ARN` (`aws_preview_role_arn`)", "`shop-pr-*`", "no role chaining"]),
    ("aws-gitlab", ["every merge request pipeline", "`AWS_PREVIEW_ROLE_ARN` (`aws_preview_role_arn`)"]),
    ("azure-github", ["Role Based Access Control Administrator", "Give each environment its own Azure subscription",
                      "Contributor of the whole\nsubscription", "`preview_subscription_id`", "`AZURE_PREVIEW_CLIENT_ID`"]),
    ("gcp-github", ["`roles/resourcemanager.projectIamAdmin`", "Give each environment its own Google Cloud project"]),
])
def test_docs_explain_what_the_ci_identities_may_do(generate, name: str, says: list[str]) -> None:
    docs = (_project(generate, name) / "docs/infrastructure.md").read_text(encoding="utf-8")
    section = docs.split("## CI identities", 1)[1].split("\n## ", 1)[0]
    for text in says:
        assert text in section, text
    assert ("preview identity" in section) == (name in PREVIEWS)
