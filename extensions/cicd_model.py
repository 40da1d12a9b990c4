"""The CI/CD pipeline model: one platform-neutral description that every platform's template renders.

``pipeline()`` answers, for the chosen stack: which quality gates run (facts in
catalog/facts/cicd.yml), which refs trigger CI, which environments deploy from which refs
and in which order, where the approval gate sits, the steps of a deploy (IaC apply,
migrations, strategy, smoke test, rollback) and the secrets and variables CI needs.
Templates only translate it into each platform's syntax.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from .catalog import Catalog, load_catalog
from .infra_model import registry_owner

# Seed 004 2.4: roll back when the error rate spikes "within 5 minutes" of a deploy.
WATCH_SECONDS = 300
PROBE_INTERVAL_SECONDS = 5
PREVIEW_LABEL = "preview"
PREVIEW_COMMAND = "/preview"
GITLEAKS_IMAGE = "ghcr.io/gitleaks/gitleaks:v8.28.0"
GITLEAKS_SCAN = "git . --redact --verbose"  # arguments of the gitleaks image, run in the repository
TRIVY_VERSION = "v0.65.0"
TRIVY = '"$HOME/.local/bin/trivy"'
PLAN_COMMENT = "scripts/comment-plan.sh"  # posts plan.txt on the pull request (platforms without a comment action)
OIDC_TOKEN_FILE = "/tmp/ci-oidc-token"  # absolute: terraform -chdir and scripts read it from anywhere
NOTIFY_SECRETS = {
    "slack": ["SLACK_WEBHOOK_URL"],
    "teams": ["TEAMS_WEBHOOK_URL"],
    "email": ["SMTP_URL", "SMTP_USERNAME", "SMTP_PASSWORD"],
    "pagerduty": ["PAGERDUTY_ROUTING_KEY"],
    "github_issues": [],
}
NOTIFY_VARIABLES = {"email": ["NOTIFY_EMAIL_TO", "NOTIFY_EMAIL_FROM"]}
CLOUD_VARIABLES = {
    "aws": ["AWS_DEPLOY_ROLE_ARN", "AWS_REGION"],
    "gcp": ["GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"],
    "azure": ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"],
    "none": [],
}
# The read-only plan identity of terraform/modules/ci_oidc (pull-request plans): the login of a plan job reads
# these variables where a deploy job reads CLOUD_VARIABLES (same names with PLAN).
PLAN_VARIABLES = {
    "aws": {"AWS_DEPLOY_ROLE_ARN": "AWS_PLAN_ROLE_ARN"},
    "gcp": {"GCP_WORKLOAD_IDENTITY_PROVIDER": "GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT": "GCP_PLAN_SERVICE_ACCOUNT"},
    "azure": {"AZURE_CLIENT_ID": "AZURE_PLAN_CLIENT_ID"},
}
# The preview identity of terraform/modules/ci_oidc (per-pull-request preview stacks): the preview jobs' login reads
# these variables where a deploy job reads CLOUD_VARIABLES.
PREVIEW_VARIABLES = {
    "aws": {"AWS_DEPLOY_ROLE_ARN": "AWS_PREVIEW_ROLE_ARN"},
    "gcp": {"GCP_WORKLOAD_IDENTITY_PROVIDER": "GCP_PREVIEW_WORKLOAD_IDENTITY_PROVIDER",
            "GCP_SERVICE_ACCOUNT": "GCP_PREVIEW_SERVICE_ACCOUNT"},
    "azure": {"AZURE_CLIENT_ID": "AZURE_PREVIEW_CLIENT_ID"},
}


@dataclass(frozen=True)
class Step:
    """One named shell step; ``when`` is ``always``, ``success`` or ``failure`` (of the steps before)."""

    name: str
    run: str
    when: str = "success"


@dataclass(frozen=True)
class Ref:
    """A branch or tag pattern (``*`` matches within a path segment, as the platforms do)."""

    kind: str  # "branch" | "tag"
    pattern: str

    @property
    def prefix(self) -> str:
        return self.pattern.rstrip("*")

    @property
    def is_prefix(self) -> bool:
        return self.pattern.endswith("*")

    @property
    def regex(self) -> str:
        """Anchored regular expression of the pattern (slashes escaped, for GitLab/CircleCI/Travis)."""
        body = self.prefix.replace("/", "\\/").replace(".", "\\.")
        return f"^{body}" + (".*$" if self.is_prefix else "$")

    @property
    def git_ref(self) -> str:
        return ("refs/heads/" if self.kind == "branch" else "refs/tags/") + self.prefix

    @property
    def full_git_ref(self) -> str:
        """The git ref pattern, * included: refs/heads/release/*."""
        return self.git_ref + ("*" if self.is_prefix else "")


@dataclass(frozen=True)
class Deploy:
    """One environment's deploy: from which refs, after which environment, behind which gate."""

    environment: str
    url: str
    gate: str  # "automatic" | "approval" | "manual"
    refs: tuple[Ref, ...]
    previous: str  # the environment deployed before this one on the same refs ("" for the first)

    @property
    def job(self) -> str:
        return f"deploy-{self.environment}"

    @property
    def previous_job(self) -> str:
        return f"deploy-{self.previous}" if self.previous else ""

    @property
    def branches(self) -> list[str]:
        return [r.pattern for r in self.refs if r.kind == "branch"]

    @property
    def tags(self) -> list[str]:
        return [r.pattern for r in self.refs if r.kind == "tag"]


@dataclass(frozen=True)
class Check:
    """A quality-gate job: lint, typecheck, test, build, audit."""

    job: str
    name: str
    run: str


@dataclass
class Pipeline:
    answers: Mapping[str, Any]
    platform: str
    slug: str
    language: dict[str, Any]
    install: str
    checks: list[Check]
    image: bool
    image_repository: str
    registry_login: str
    cloud: str
    ci_branches: list[str]  # push triggers of the CI run ("*" for every branch)
    pr_branches: list[str]  # pull-request target branches
    tags: list[str]
    main_branch: str
    deploys: list[Deploy]
    deploy_steps: list[Step]  # the same for every environment: DEPLOY_ENVIRONMENT, DEPLOY_URL and IMAGE are set
    migration_gate: bool  # db_migrations manual: an approved migration job runs before each deploy
    iac: dict[str, str] | None
    iac_environments: list[str]
    secrets: list[str]
    variables: list[str]
    deploy_secrets: list[str]
    notifications: list[str]
    previews: str
    preview_ttl_hours: int

    @property
    def manual(self) -> bool:
        return self.answers["auto_deploy"] == "manual"

    @property
    def deploy_environments(self) -> list[str]:
        return [d.environment for d in self.deploys]

    @property
    def has_previews(self) -> bool:
        return self.previews != "none"

    @property
    def on_demand(self) -> bool:
        return self.previews == "on_demand"

    @property
    def preview_stack(self) -> bool:
        """Previews are stacks of the IaC tool (deploy targets with preview_stacks: iac): the preview jobs
        need its CLI (the iac_tool setup fact), the cloud login and access to the state backend."""
        target = self.answers["deploy_target"]
        return (self.has_previews and bool(self.iac)
                and load_catalog().fact("deploy_target", target, "preview_stacks", True) == "iac")

    preview_label: str = PREVIEW_LABEL
    preview_command: str = PREVIEW_COMMAND

    @property
    def registry_secrets(self) -> list[str]:
        return [s for s in self.secrets if s.startswith("REGISTRY_")]

    @property
    def notify_secrets(self) -> list[str]:
        return [s for channel in self.notifications for s in NOTIFY_SECRETS[channel]]

    @property
    def ci_refs(self) -> list[Ref]:
        """Pushes that run the pipeline (branches, then tags)."""
        return [Ref("branch", b) for b in self.ci_branches] + [Ref("tag", t) for t in self.tags]

    @property
    def release_refs(self) -> list[Ref]:
        """Refs whose pipeline publishes an image and deploys (or, in manual mode, could)."""
        refs = [r for d in self.deploys for r in d.refs] or [Ref("branch", self.main_branch)]
        return list(dict.fromkeys(refs))

    @property
    def lanes(self) -> list[tuple[list[Ref], list[Deploy]]]:
        """Release refs grouped by the deploys they trigger (one pipeline each where a platform needs it)."""
        groups: dict[tuple[str, ...], list[Ref]] = {}
        for ref in self.release_refs:
            key = tuple(d.environment for d in self.deploys if ref in d.refs)
            groups.setdefault(key, []).append(ref)
        return [(refs, [self.deploy(e) for e in key]) for key, refs in groups.items()]

    def deploy(self, environment: str) -> Deploy:
        return next(d for d in self.deploys if d.environment == environment)

    def iac_plan(self, environment: str) -> str:
        """The plan command for an environment name (or "$DEPLOY_ENVIRONMENT"); writes plan.txt."""
        return self.iac["plan"].replace("{env}", environment) if self.iac else ""

    def iac_plan_commented(self, environment: str, pull_request: str = "") -> str:
        """Plan one environment, then post plan.txt on the pull request even when the plan failed
        (scripts/comment-plan.sh); the step still fails like the plan. ``pull_request``: a shell test
        that is true on pull-request builds, for platforms whose plan job also runs on branches."""
        comment = f'bash {PLAN_COMMENT} "{environment}" plan.txt'
        if pull_request:
            comment = f"if {pull_request}; then\n  {comment}\nfi"
        return "\n".join(["rm -f plan.txt", "status=0", f"{self.iac_plan(environment)} || status=$?", comment,
                          '[ "$status" -eq 0 ]'])

    @property
    def security_steps(self) -> list[Step]:
        """Secret scanning (gitleaks over the whole history) and the dependency audit."""
        return [
            Step("Scan the git history for secrets (gitleaks)",
                 f'docker run --rm -v "$PWD:/repo" -w /repo {GITLEAKS_IMAGE} {GITLEAKS_SCAN}'),
            Step("Audit dependencies for known vulnerabilities", self.language["audit"]),
        ]

    @property
    def image_steps(self) -> list[Step]:
        """Build, scan with Trivy (fail on HIGH/CRITICAL), then push: run with IMAGE set."""
        return [
            Step("Build the image", 'docker build --pull --tag "$IMAGE" .'),
            Step("Install Trivy",
                 f"curl -sSfL https://raw.githubusercontent.com/aquasecurity/trivy/{TRIVY_VERSION}/contrib/install.sh"
                 f' | sh -s -- -b "$HOME/.local/bin" {TRIVY_VERSION}'),
            Step("Scan the image (Trivy, fail on HIGH/CRITICAL)",
                 f'{TRIVY} image --exit-code 1 --ignore-unfixed --severity HIGH,CRITICAL "$IMAGE"'),
            Step("Log in to the registry", self.registry_login),
            Step("Push the image", 'docker push "$IMAGE"'),
        ]

    @property
    def oidc(self) -> dict[str, Any]:
        """OIDC federation of the cloud for shell-based platforms: audience, env, login, alpine_cli; token_env: the
        variable holding the platform's own token where the job does not request one (CircleCI on AWS)."""
        if self.cloud == "none":
            return {}
        catalog = load_catalog()
        facts = {k: catalog.fact("cloud_provider", self.cloud, k) for k in ("oidc_audience", "oidc_env", "oidc_login", "alpine_cli")}
        return {"token_file": OIDC_TOKEN_FILE, "audience": facts["oidc_audience"], "env": facts["oidc_env"],
                "login": facts["oidc_login"], "alpine_cli": facts["alpine_cli"],
                "token_env": str(ci_platform_fact(self.answers, "oidc_token_env", "") or "")}

    @property
    def plan_identity(self) -> bool:
        """Whether terraform/modules/ci_oidc has the read-only plan identity the pull-request plan jobs log in as."""
        return plan_identity(self.answers)

    @property
    def plan_variables(self) -> dict[str, str]:
        """Deploy variable -> plan variable, for the plan jobs' login ({} without a plan identity)."""
        return dict(PLAN_VARIABLES.get(self.cloud, {})) if self.plan_identity else {}

    @property
    def plan_oidc(self) -> dict[str, Any]:
        """``oidc`` for pull-request plan jobs: the same login, as the read-only plan identity."""
        return self._oidc_as(self.plan_variables, "ci-plan")

    @property
    def preview_identity(self) -> bool:
        """Whether terraform/modules/ci_oidc has the preview identity the preview jobs log in as."""
        return preview_identity(self.answers)

    @property
    def preview_variables(self) -> dict[str, str]:
        """Deploy variable -> preview variable, for the preview jobs' login ({} without a preview identity)."""
        return dict(PREVIEW_VARIABLES.get(self.cloud, {})) if self.preview_identity else {}

    @property
    def preview_oidc(self) -> dict[str, Any]:
        """``oidc`` for the preview jobs: the same login, as the preview identity (``oidc`` without one)."""
        return self._oidc_as(self.preview_variables, "ci-preview")

    def _oidc_as(self, variables: Mapping[str, str], session: str) -> dict[str, Any]:
        """``oidc`` with the deploy identity's variables renamed (``variables``: deploy name -> other name)."""
        oidc = self.oidc
        if not oidc or not variables:
            return oidc

        def swap(text: str) -> str:
            for deploy, other in variables.items():
                text = re.sub(rf"\b{deploy}\b", other, text)
            return text.replace("ci-deploy", session)

        return {**oidc, "audience": swap(oidc["audience"]), "env": {k: swap(v) for k, v in oidc["env"].items()},
                "login": swap(oidc["login"])}

    @property
    def terraform_inputs(self) -> dict[str, str]:
        """Inputs of the terraform/environments roots that only the operator knows (no default, not in terraform.tfvars,
        no CI built-in): Terraform variable -> the CI variable every plan/apply job passes as TF_VAR_<name>."""
        return terraform_inputs(self.answers)

    @property
    def identity_variables(self) -> list[str]:
        """The deploy identity's variables: terraform/modules/ci_oidc creates one identity per environment
        (<slug>-<environment>-deploy), so platforms without per-environment secret scopes (Jenkins, Azure DevOps)
        name them per environment (``environment_variable``)."""
        return list(PLAN_VARIABLES.get(self.cloud, {}))

    @staticmethod
    def environment_variable(name: str, environment: str) -> str:
        """The per-environment name of an identity variable: AWS_DEPLOY_ROLE_ARN_STAGING."""
        return f"{name}_{environment.upper().replace('-', '_')}"

    def environment_oidc(self, environment: str) -> dict[str, Any]:
        """``oidc`` as the deploy identity of one environment (its variables renamed by ``environment_variable``)."""
        return self._oidc_as({v: self.environment_variable(v, environment) for v in self.identity_variables}, "ci-deploy")

    def identity_env(self, oidc: Mapping[str, Any]) -> dict[str, str]:
        """The entries of an ``oidc``'s env that name its identity (AWS_ROLE_ARN, ARM_CLIENT_ID, ...): what a job sets
        per identity, while the rest (token file, tenant, subscription) is the same for every job."""
        pattern = re.compile(r"\$\{?(" + "|".join(self.identity_variables) + r")\b") if self.identity_variables else None
        names = [n for n, v in self.oidc.get("env", {}).items() if pattern and pattern.search(v)]
        return {n: oidc["env"][n] for n in names}

    def environment_plan_oidc(self, environment: str) -> dict[str, Any]:
        """``plan_oidc`` as the read-only plan identity of one environment (AWS_PLAN_ROLE_ARN_STAGING): platforms whose
        plan jobs present a per-environment subject (Azure DevOps service connections), or that have no per-environment
        secret scopes (Jenkins' iac-plan job), log in as each environment's own identity."""
        names = {deploy: self.environment_variable(plan, environment) for deploy, plan in self.plan_variables.items()}
        return self._oidc_as(names, "ci-plan") if names else self.plan_oidc

    def jenkins_deploy_login(self, environment: str) -> str:
        """``jenkins_oidc_login`` as the deploy identity of one environment."""
        return self._jenkins_login(self.environment_oidc(environment)["login"], self.jenkins_credential(environment))

    def jenkins_plan_login(self, environment: str) -> str:
        """``jenkins_oidc_login`` as the read-only plan identity of one environment (the iac-plan job): every
        environment's ci_oidc has its own, and all of them trust the job's fixed JOB_URL (``jenkins_plan_job``)."""
        return self._jenkins_login(self.environment_plan_oidc(environment)["login"], self.jenkins_credential(environment, plan=True))

    def jenkins_credential(self, environment: str, plan: bool = False) -> str:
        """The id token credential of a stage that logs in as ``environment``'s deploy (or read-only plan) identity:
        GCP gives each workload identity provider its own audience (one credential per environment and identity, the
        plugin fixes the audience per credential); AWS and Azure share one."""
        if self.cloud != "gcp":
            return f"{self.slug}-oidc-token"
        return f"{self.slug}-{environment}-oidc-{'plan-' if plan else ''}token"

    @property
    def jenkins_plan_job(self) -> str:
        """The Pipeline job at the Jenkins root that plans pull requests (jenkins/iac-plan.Jenkinsfile, its script from
        the main branch): its JOB_URL, <JENKINS_URL>job/<slug>-iac-plan/, is the exact subject the plan identities
        trust (facts/infra.yml ci_platform.jenkins oidc_plan_subject), which pull request jobs cannot present."""
        return f"{self.slug}-iac-plan"

    @property
    def jenkins_oidc_login(self) -> str:
        """Jenkins: write the id token credential (OIDC_TOKEN) to the token file, check that its audience is
        OIDC_AUDIENCE (the credential's setting), then log in with the cloud's web identity flow."""
        return self._jenkins_login(self.oidc["login"])

    def _jenkins_login(self, login: str, credential: str = "") -> str:
        credential = credential or f"{self.slug}-oidc-token"
        return "\n".join([
            "printf '%s' \"$OIDC_TOKEN\" > \"$OIDC_TOKEN_FILE\"",
            "claims=\"$(cut -d. -f2 \"$OIDC_TOKEN_FILE\" | tr '_-' '/+')\"",
            'while [ $((${#claims} % 4)) -ne 0 ]; do claims="${claims}="; done',
            'if ! printf \'%s\' "$claims" | base64 -d \\',
            '    | grep -Fq -e "\\"aud\\":\\"${OIDC_AUDIENCE}\\"" -e "\\"aud\\":[\\"${OIDC_AUDIENCE}\\""; then',
            f'  echo "the {credential} credential must be an OpenID Connect id token with the audience ${{OIDC_AUDIENCE}}" >&2',
            "  false",
            "fi",
            login,
        ])

    @property
    def code_package(self) -> bool:
        """The deploy target runs a zip of our code that scripts/package.sh builds (aws_lambda, azure_functions)."""
        return bool(load_catalog().fact("deploy_target", self.answers["deploy_target"], "code_package", False))

    @property
    def deploy_image(self) -> dict[str, str]:
        """The container deploy jobs run in (container-based platforms) and how to make it ready. Code-package
        targets deploy from the language's CI image (scripts/package.sh builds with its toolchain) plus the cloud CLI."""
        catalog = load_catalog()
        if self.code_package:
            image = self.language["ci_image"]
            prepare = [catalog.fact("cloud_provider", self.cloud, "package_prepare")]
        else:
            image = catalog.fact("cloud_provider", self.cloud, "deploy_image")
            prepare = [catalog.fact("cloud_provider", self.cloud, "deploy_prepare")]
        if self.iac:
            prepare += [self.iac["setup"], 'export PATH="$HOME/.local/bin:$PATH"']
        return {"image": image, "prepare": " && ".join(prepare)}

    def copier_update(self, repository: str = "") -> str:
        """The template-update script for this platform (repository: the owner/name expression outside GitHub/GitLab)."""
        if self.platform == "github_actions":
            return copier_update(f"git push --force --set-upstream origin {UPDATE_BRANCH}",
                                 f"gh pr create --fill --head {UPDATE_BRANCH} --label dependencies || "
                                 'echo "the pull request exists and now has the update"')
        if self.platform == "gitlab_ci":
            return copier_update(
                f'git push --force "https://oauth2:${{GITLAB_API_TOKEN}}@${{CI_SERVER_HOST}}/${{CI_PROJECT_PATH}}.git" {UPDATE_BRANCH} '
                '-o merge_request.create -o merge_request.target="$CI_DEFAULT_BRANCH" -o merge_request.label=dependencies')
        if self.platform == "azure_devops":
            return copier_update(
                f'git -c http.extraheader="AUTHORIZATION: bearer ${{SYSTEM_ACCESSTOKEN}}" push --force origin HEAD:{UPDATE_BRANCH}',
                f'az repos pr create --source-branch {UPDATE_BRANCH} --target-branch {self.main_branch} '
                f'--title "{UPDATE_TITLE}" --output none || echo "the pull request exists and now has the update"')
        return copier_update(*github_pull_request(repository, self.main_branch))

    @property
    def gitleaks(self) -> dict[str, str]:
        return {"image": GITLEAKS_IMAGE, "args": GITLEAKS_SCAN}


def _refs(*specs: str) -> tuple[Ref, ...]:
    return tuple(Ref(*spec.split(":", 1)) for spec in specs)


def deploy_refs(branch_strategy: str, environment: str) -> tuple[Ref, ...]:
    """Which refs deploy an environment (seed 001 7.4 branch strategies)."""
    if branch_strategy != "git_flow":
        return _refs("branch:main")
    if environment == "production":  # release candidates and release tags, after the pre-production chain
        return _refs("branch:release/*", "branch:hotfix/*", "tag:v*")
    return _refs("branch:develop", "branch:release/*", "branch:hotfix/*", "tag:v*")


JENKINS_URL_HCL = '${trimsuffix(var.jenkins_url, "/")}'  # JENKINS_URL ends with a slash


def jenkins_job(ref: Ref) -> str:
    """The job of the multibranch pipeline that builds a ref (pattern), as its JOB_URL spells it: Jenkins names a
    branch job after the branch with "/" encoded (%2F) and encodes that "%" again in URLs (%25); a tag job (tag
    discovery) is named after the tag the same way."""
    return ref.pattern.replace("/", "%252F")


def oidc_placeholders(template: str, answers: Mapping[str, Any], environment: str) -> str:
    """Fill the CI-side placeholders of an OIDC issuer/subject fact (facts/infra.yml ci_platform) for Terraform."""
    text = template.replace("{jenkins_url}", JENKINS_URL_HCL).replace("{slug}", str(answers["project_slug"]))
    return text.replace("{circleci_project_id}", "${var.circleci_project_id}")


def oidc_subjects(template: str, answers: Mapping[str, Any], environment: str) -> list[str]:
    """Every token subject one environment's deploy jobs present: a subject template with {ref_type} and {ref}
    (GitLab: project_path:<repo>:ref_type:<branch|tag>:ref:<name>) or {ref_job} (Jenkins: the JOB_URL of the
    multibranch job that builds the ref, ``jenkins_job``) or {git_ref} (CircleCI's v2 subject on AWS:
    ...vcs-ref/refs/heads/<branch>) gives one subject per ref that deploys the environment under the branch
    strategy (deploy_refs); other templates give one subject."""
    text = oidc_placeholders(template, answers, environment)
    if not any(placeholder in text for placeholder in ("{ref}", "{ref_job}", "{git_ref}")):
        return [text] if text else []
    refs = deploy_refs(str(answers["branch_strategy"]), environment)
    subjects = [text.replace("{ref_type}", ref.kind).replace("{ref}", ref.pattern).replace("{ref_job}", jenkins_job(ref))
                .replace("{git_ref}", ref.full_git_ref) for ref in refs]
    return list(dict.fromkeys(subjects))


def terraform_inputs(answers: Mapping[str, Any]) -> dict[str, str]:
    """``Pipeline.terraform_inputs`` of an answer set."""
    if answers["iac_tool"] not in ("terraform", "opentofu") or answers["cloud_provider"] != "gcp":
        return {}
    return {"billing_account": "GCP_BILLING_ACCOUNT"} if answers.get("cost_alerts") else {}


def ci_platform_fact(answers: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """A fact of the chosen ci_platform, where the cloud may override it (facts/infra.yml ci_platform.<name>.cloud)."""
    catalog = load_catalog()
    overrides = catalog.fact("ci_platform", answers.get("ci_platform"), "cloud", None) or {}
    cloud = overrides.get(str(answers.get("cloud_provider")), {})
    return cloud[key] if key in cloud else catalog.fact("ci_platform", answers.get("ci_platform"), key, default)


def _iac_identities(answers: Mapping[str, Any]) -> bool:
    """The IaC code (terraform/modules/ci_oidc, or the ci_oidc part of the Pulumi, CDK and SST programs) creates the
    CI's identities: a generated IaC tool (one with a plan command) on a cloud."""
    if answers["cloud_provider"] == "none":
        return False
    return bool(load_catalog().fact("iac_tool", answers["iac_tool"], "plan", ""))


def _identity_subject(answers: Mapping[str, Any], key: str) -> bool:
    """The CI platform signs OIDC tokens and its jobs present a ``key`` subject the cloud can trust: on Azure only an
    exact one (federated credentials match no pattern)."""
    subject = str(ci_platform_fact(answers, key, "") or "")
    if not subject or not ci_platform_fact(answers, "oidc_issuer", ""):
        return False
    return answers["cloud_provider"] != "azure" or "*" not in subject


def plan_identity(answers: Mapping[str, Any]) -> bool:
    """The IaC code creates a read-only plan identity the pull-request plan jobs log in as (``_iac_identities``),
    where the CI has OIDC and a plan subject (``_identity_subject``)."""
    return _iac_identities(answers) and _identity_subject(answers, "oidc_plan_subject")


def preview_identity(answers: Mapping[str, Any]) -> bool:
    """The IaC code creates a preview identity for the per-pull-request preview jobs: previews that are IaC stacks
    (deploy_target preview_stacks: iac) and a CI with OIDC and a preview subject (rules.py refuses the others)."""
    if answers["preview_environments"] == "none" or not _iac_identities(answers):
        return False
    if load_catalog().fact("deploy_target", answers["deploy_target"], "preview_stacks", True) != "iac":
        return False
    return _identity_subject(answers, "oidc_preview_subject")


def ci_triggers(branch_strategy: str) -> tuple[list[str], list[str], list[str]]:
    """(push branches, pull-request target branches, tags) that run the pipeline."""
    if branch_strategy == "trunk_based":  # every short-lived branch gets feedback before its PR
        return ["*"], ["main"], []
    if branch_strategy == "github_flow":
        return ["main"], ["main"], []
    return ["main", "develop", "release/*", "hotfix/*"], ["develop", "main"], ["v*"]


def _gate(auto_deploy: str, environment: str) -> str:
    if auto_deploy == "manual":
        return "manual"
    if environment == "production" and auto_deploy == "staging_auto_production_manual":
        return "approval"
    return "automatic"


def error_rate_watch(max_pct: float) -> str:
    """Probe the new release for WATCH_SECONDS; fail when the failed-request share exceeds max_pct."""
    return "\n".join([
        "total=0",
        "failed=0",
        f"end=$((SECONDS + {WATCH_SECONDS}))",
        'while [ "$SECONDS" -lt "$end" ]; do',
        "  code=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 5 \"$DEPLOY_URL/health\" || true)",
        "  total=$((total + 1))",
        '  case "$code" in 2*|3*) ;; *) failed=$((failed + 1)) ;; esac',
        f"  sleep {PROBE_INTERVAL_SECONDS}",
        "done",
        f"awk -v failed=\"$failed\" -v total=\"$total\" -v max={max_pct} 'BEGIN {{ rate = 100 * failed / total; "
        "printf \"error rate %.2f%% over %d probes (rollback above %s%%)\\n\", rate, total, max; exit (rate > max) }'",
    ])


UPDATE_BRANCH = "chore/copier-update"
UPDATE_TITLE = "chore: update from the prodready template"
COPIER = '"copier==9.19.1" "copier-template-extensions==0.3.4"'


def copier_update(push: str, open_pr: str = "") -> str:
    """Weekly job: when prodready has a newer version, `copier update` and propose it on UPDATE_BRANCH."""
    body = [
        'git config user.name "prodready-update"',
        'git config user.email "prodready-update@users.noreply.github.com"',
        f"git switch -C {UPDATE_BRANCH}",
        "copier update --trust --defaults --skip-answered --conflict rej",
        "git add --all",
        f'git commit --message "{UPDATE_TITLE}"',
        push,
        *([open_pr] if open_pr else []),
    ]
    return "\n".join([
        f"python3 -m pip install --quiet {COPIER}",
        "status=0",
        "copier check-update --quiet . || status=$?",
        'if [ "$status" -eq 2 ]; then',
        *(f"  {line}" for line in body),
        'elif [ "$status" -ne 0 ]; then',
        '  echo "copier check-update failed with status $status" >&2',
        "  false",
        "else",
        '  echo "prodready is up to date"',
        "fi",
    ])


def github_pull_request(repository: str, base: str) -> tuple[str, str]:
    """(push, open pull request) against GitHub with GH_TOKEN, for CI platforms outside GitHub."""
    push = f'git push --force "https://x-access-token:${{GH_TOKEN}}@github.com/{repository}.git" {UPDATE_BRANCH}'
    data = f'{{"title": "{UPDATE_TITLE}", "head": "{UPDATE_BRANCH}", "base": "{base}", "body": "Review *.rej files for conflicts."}}'
    open_pr = ('curl --silent --show-error --request POST --header "Authorization: Bearer ${GH_TOKEN}" '
               f'--header "Accept: application/vnd.github+json" "https://api.github.com/repos/{repository}/pulls" '
               f"--data '{data}'")
    return push, open_pr


def strategy_label(a: Mapping[str, Any]) -> str:
    strategy = a["deployment_strategy"]
    if strategy == "canary":
        steps = ", ".join(f"{s}%" for s in a["canary_steps"])
        if a["deploy_target"] == "aws_ecs_fargate":
            return f"canary {steps} by CodeDeploy traffic shifting (see docs/operations.md), rolled back on failure"
        return f"canary {steps}, promoted step by step, aborted on failure"
    return {
        "rolling": "rolling update",
        "blue_green": "blue/green, start the idle colour then switch traffic",
        "ab_testing": "A/B: route the test segment to the new version",
    }[strategy]


ENV = '"$DEPLOY_ENVIRONMENT"'
URL = '"$DEPLOY_URL"'
MIGRATE_BEFORE = "bash scripts/migrate.sh pre_deploy"


def deploy_steps(catalog: Catalog, a: Mapping[str, Any], iac: bool) -> tuple[Step, ...]:
    """The steps of every deploy job, in order (environment, URL and image come from the job's variables)."""
    steps: list[Step] = []
    if a["iac_tool"] == "sst" and catalog.fact("deploy_target", a["deploy_target"], "code_package", False):
        # sst deploy bundles the unpacked package (dist/lambda) with the function: build it before the apply.
        steps.append(Step("Build the code package (scripts/package.sh)", "bash scripts/package.sh"))
    if iac:
        label = catalog.fact("iac_tool", a["iac_tool"], "plan_label").split()[0]
        apply = catalog.fact("iac_tool", a["iac_tool"], "apply")  # {env} is always inside double quotes
        steps.append(Step(f"Apply infrastructure ({label})", apply.replace("{env}", "$DEPLOY_ENVIRONMENT")))
    migrations = a["db_migrations"] if a["database"] != "none" else "none"
    if migrations == "pre_deploy":
        steps.append(Step("Run database migrations before the rollout", MIGRATE_BEFORE))
    elif migrations == "expand_contract":
        steps.append(Step("Expand the schema (backwards-compatible migrations)", "bash scripts/migrate.sh expand"))
    steps.append(Step(f"Deploy ({strategy_label(a)})", f'bash scripts/deploy.sh {ENV} "$IMAGE"'))
    steps.append(Step("Smoke test the health endpoints", f"bash scripts/smoke-test.sh {URL}"))
    if a["rollback_automation"] == "metric_based":
        steps.append(Step(f"Watch the error rate (roll back above {a['rollback_error_rate_pct']}%)",
                          error_rate_watch(float(a["rollback_error_rate_pct"]))))
    if a["rollback_automation"] != "none":
        steps.append(Step("Roll back to the previous release", f"bash scripts/rollback.sh {ENV}", "failure"))
    if migrations == "expand_contract":
        steps.append(Step("Contract the schema (after a successful rollout)", "bash scripts/migrate.sh contract"))
    return tuple(steps)


def _deploys(catalog: Catalog, a: Mapping[str, Any]) -> list[Deploy]:
    from .docs_model import environment_url

    result: list[Deploy] = []
    order = [e for e in catalog["environments"].options if e in a["environments"] and e != "development"]
    for environment in order:
        refs = deploy_refs(a["branch_strategy"], environment)
        previous = next((d.environment for d in reversed(result) if set(d.refs) & set(refs)), "")
        url = environment_url(a, environment)
        result.append(Deploy(
            environment=environment,
            url=url,
            gate=_gate(a["auto_deploy"], environment),
            refs=refs,
            previous=previous,
        ))
    return result


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_pipeline(catalog: Catalog, a: Mapping[str, Any]) -> Pipeline:
    language = catalog.option("app_language", a["app_language"])
    assert language is not None
    facts = language.facts
    checks = [Check("lint", "Lint", facts["lint"])]
    if facts.get("typecheck"):
        checks.append(Check("typecheck", "Type check", facts["typecheck"]))
    checks.append(Check("test", "Test (coverage at least 80%)", facts["test"]))
    if facts.get("build"):
        checks.append(Check("build", "Build", facts["build"]))
    platform = a["ci_platform"]
    registry = a["container_registry"] if a["containerize"] else ""
    registry_facts = catalog.option("container_registry", registry).facts if registry else {}
    cloud = a["cloud_provider"]
    iac = None
    iac_envs: list[str] = []
    # Terraform/OpenTofu on a target outside the clouds: no terraform/ root (the platform's own file is the
    # infrastructure code), so no plan or apply jobs; monitoring/terraform has its own README.
    cloudless_terraform = a["iac_tool"] in ("terraform", "opentofu") and cloud == "none"
    if a["iac_tool"] != "manual" and not cloudless_terraform:
        iac = {k: catalog.fact("iac_tool", a["iac_tool"], k) for k in ("plan", "apply", "plan_label", "setup", "dir")}
        iac["setup"] = iac["setup"].replace("{cli_version}", str(catalog.fact("iac_tool", a["iac_tool"], "cli_version", "")))
        iac_envs = [e for e in a["environments"] if e != "development"]
    branches, pr_branches, tags = ci_triggers(a["branch_strategy"])
    deploy_secrets = list(catalog.fact("deploy_target", a["deploy_target"], "deploy_secrets", []))
    login_secrets = list(registry_facts.get("login_secrets", []))
    if platform == "github_actions" and registry == "ghcr":
        login_secrets = []  # GITHUB_TOKEN with packages: write
    notifications = list(a["notifications"] or [])
    secrets = deploy_secrets + login_secrets
    if a["database"] != "none":
        secrets.append("DATABASE_URL")  # per environment, for bash scripts/migrate.sh
    if a["iac_tool"] == "pulumi":
        secrets.append("PULUMI_ACCESS_TOKEN")
    for channel in notifications:
        secrets += NOTIFY_SECRETS[channel]
    variables = list(CLOUD_VARIABLES.get(cloud, [])) + list(registry_facts.get("registry_variables", []))
    if iac and plan_identity(a):
        variables += list(PLAN_VARIABLES.get(cloud, {}).values())
    if iac and preview_identity(a):
        variables += list(PREVIEW_VARIABLES.get(cloud, {}).values())
    for channel in notifications:
        variables += NOTIFY_VARIABLES.get(channel, [])
    if iac:
        variables += list(terraform_inputs(a).values())
    return Pipeline(
        answers=a,
        platform=platform,
        slug=a["project_slug"],
        language=facts,
        install=facts["install"],
        checks=checks,
        image=bool(a["containerize"]),
        image_repository=f"{registry_facts['registry'].replace('{owner}', registry_owner(a))}/{a['project_slug']}" if registry else "",
        registry_login=registry_facts.get("login", ""),
        cloud=cloud,
        ci_branches=branches,
        pr_branches=pr_branches,
        tags=tags,
        main_branch="main",
        deploys=_deploys(catalog, a),
        deploy_steps=list(deploy_steps(catalog, a, bool(iac))),
        migration_gate=a["database"] != "none" and a["db_migrations"] == "manual",
        iac=iac,
        iac_environments=iac_envs,
        secrets=_unique(secrets),
        variables=_unique(variables),
        deploy_secrets=deploy_secrets,
        notifications=notifications,
        previews=a["preview_environments"],
        preview_ttl_hours=int(a["preview_ttl_hours"]),
    )


_CACHE: dict[int, Pipeline] = {}


@pass_context
def pipeline(ctx: Context) -> Pipeline:
    """The pipeline model of the answers being rendered (computed once per project model)."""
    from .docs_model import project_for
    from .jinja_globals import _answers

    catalog = load_catalog()
    project = project_for(catalog, _answers(ctx))
    key = id(project)
    if key not in _CACHE:
        _CACHE[key] = build_pipeline(catalog, project.answers)
    return _CACHE[key]


def yaml_str(text: str) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


GLOBALS: dict[str, Callable[..., Any]] = {"pipeline": pipeline, "yaml_quote": yaml_str}
