"""Derived values for the infrastructure templates (Dockerfile, compose, Kubernetes, Terraform, PaaS).

Templates call ``infra()`` once and read plain attributes; knowledge (images, commands,
sizes) comes from the catalog facts in ``catalog/facts/infra.yml``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from jinja2 import pass_context
from jinja2.runtime import Context

from .catalog import Catalog, load_catalog
from .docs_model import environment_url, project_for

HEALTH_PATHS = {"health": "/health", "live": "/health/live", "ready": "/health/ready"}
# Secrets managers the External Secrets Operator reads on Kubernetes (provider block per store).
EXTERNAL_SECRET_STORES = ("aws_secrets_manager", "gcp_secret_manager", "azure_key_vault", "vault", "doppler", "onepassword")
DB_SCHEMES = {"postgresql": "postgresql", "mysql": "mysql", "mongodb": "mongodb"}
SIZES = {"small": 0, "large": 1}


@dataclass(frozen=True)
class Sizing:
    """What one environment runs: instances, container size and database class."""

    name: str
    url: str
    host: str
    replicas: int
    min_replicas: int
    max_replicas: int
    cpu_millicores: int
    memory_mb: int
    db_size: str
    helm: bool = False

    @property
    def cpu(self) -> str:
        return f"{self.cpu_millicores}m"

    @property
    def memory(self) -> str:
        return f"{self.memory_mb}Mi"

    @property
    def large(self) -> bool:
        return self.db_size == "large"


# The Helm chart renders the shared Kubernetes macros once, with Go template references to its values.
HELM_ENV = Sizing(
    name="{{ .Values.environment }}",
    url="https://{{ .Values.host }}",
    host="{{ .Values.host }}",
    replicas="{{ .Values.replicaCount }}",  # type: ignore[arg-type]
    min_replicas="{{ .Values.autoscaling.minReplicas }}",  # type: ignore[arg-type]
    max_replicas="{{ .Values.autoscaling.maxReplicas }}",  # type: ignore[arg-type]
    cpu_millicores=0,
    memory_mb=0,
    db_size="small",
    helm=True,
)


@dataclass(frozen=True)
class Service:
    """A backing service (database or cache) as a container for local and self-hosted runs."""

    kind: str
    image: str
    port: int
    env_var: str


@dataclass(frozen=True)
class Infra:
    answers: dict[str, Any]
    slug: str
    db_name: str
    port: int
    language: dict[str, Any]
    environments: list[Sizing]
    database: Service | None
    cache: Service | None
    image_repository: str
    canary_steps: list[int]

    health = HEALTH_PATHS

    @property
    def cloud(self) -> str:
        return str(self.answers["cloud_provider"])

    @property
    def uses_external_secrets(self) -> bool:
        return self.answers["secrets_manager"] in EXTERNAL_SECRET_STORES

    @property
    def progressive(self) -> bool:
        """Argo Rollouts replaces the Deployment for every strategy but rolling."""
        return self.answers["deployment_strategy"] != "rolling"

    @property
    def db_in_cluster(self) -> bool:
        """Self-managed clusters run the database as a StatefulSet; cloud clusters use the managed service."""
        a = self.answers
        return a["deploy_target"] == "kubernetes" and a["k8s_distribution"] == "self_managed" and self.database is not None

    @property
    def worker(self) -> bool:
        return bool(self.answers["has_worker"])

    def fact(self, question: str, name: str, default: Any = None) -> Any:
        """A catalog fact of the chosen answer to ``question`` (ci_platform: with the cloud's overrides)."""
        if question == "ci_platform":
            from .cicd_model import ci_platform_fact

            return ci_platform_fact(self.answers, name, default)
        return load_catalog().fact(question, self.answers.get(question), name, default)

    @property
    def region(self) -> str:
        return str(self.fact("cloud_provider", "default_region", ""))

    @property
    def analysis_provider(self) -> str:
        """Argo Rollouts metric provider for the error-rate analysis ('' when none can answer)."""
        if self.answers["rollback_automation"] != "metric_based":
            return ""
        return str(self.fact("metrics", "rollout_provider", "") or self.fact("apm", "rollout_provider", ""))

    @property
    def error_ratio(self) -> float:
        """rollback_error_rate_pct as a ratio (5 -> 0.05)."""
        return round(float(self.answers["rollback_error_rate_pct"]) / 100, 4)

    @property
    def traffic_router(self) -> str:
        """Argo Rollouts traffic routing: Istio VirtualService, NGINX canary ingress, or replica weights ('')."""
        ingress = self.answers["k8s_ingress"]
        return {"istio_gateway": "istio", "nginx": "nginx"}.get(ingress, "")

    @property
    def second_service(self) -> str:
        """Service that receives the new version: preview (blue/green) or canary."""
        suffix = "preview" if self.answers["deployment_strategy"] == "blue_green" else "canary"
        return f"{self.slug}-{suffix}"

    @property
    def acme_email(self) -> str:
        return f"ops@{self.answers['domain']}"

    def analysis_metric(self, env: str) -> dict[str, Any]:
        """The Argo Rollouts error-rate metric of one environment (AnalysisTemplate spec.metrics[0])."""
        provider = self.analysis_provider
        pct = float(self.answers["rollback_error_rate_pct"])
        namespace, service = f"{self.slug}-{env}", self.slug
        queries: dict[str, dict[str, Any]] = {
            "prometheus": {
                "address": "http://prometheus-operated.monitoring.svc:9090",
                "query": f'sum(rate(http_requests_total{{namespace="{namespace}",status=~"5.."}}[2m])) / '
                f'sum(rate(http_requests_total{{namespace="{namespace}"}}[2m]))',
            },
            "datadog": {
                "apiVersion": "v2",
                "interval": "5m",
                "query": f"sum:trace.http.request.errors{{service:{service},env:{env}}}.as_count() / "
                f"sum:trace.http.request.hits{{service:{service},env:{env}}}.as_count()",
            },
            "newRelic": {
                "query": "FROM Transaction SELECT filter(count(*), WHERE error IS true) / count(*) "
                f"WHERE appName = '{namespace}' SINCE 5 minutes ago",
            },
            "cloudWatch": {
                "interval": "5m",
                "metricDataQueries": [{
                    "id": "errorRate",
                    "metricStat": {
                        "metric": {"namespace": service, "metricName": "http_error_rate_pct",
                                   "dimensions": [{"name": "environment", "value": env}]},
                        "period": 60,
                        "stat": "Average",
                    },
                }],
            },
        }
        condition = f"result[0].Values[0] < {pct:g}" if provider == "cloudWatch" else f"result[0] < {self.error_ratio:g}"
        return {"name": "error-rate", "interval": "1m", "count": 5, "failureLimit": 1,
                "successCondition": condition, "provider": {provider: queries[provider]}}

    @staticmethod
    def resources(env: Sizing) -> dict[str, Any]:
        """Container requests and limits of one environment (memory limit = request: no overcommit)."""
        return {"requests": {"cpu": env.cpu, "memory": env.memory},
                "limits": {"cpu": f"{env.cpu_millicores * 2}m", "memory": env.memory}}

    @property
    def tf_stack(self) -> str:
        """terraform/modules/<stack>: the deploy target's stack, or the managed cluster for Kubernetes."""
        a = self.answers
        if a["deploy_target"] == "kubernetes":
            return str(a["k8s_distribution"]) if a["k8s_distribution"] != "self_managed" else ""
        return str(a["deploy_target"]) if self.cloud != "none" else ""

    @property
    def aws_backup_cron(self) -> str:
        """backup_strategy's cron schedule in AWS's six-field form (day-of-week by name)."""
        minute, hour, day, month, weekday = str(self.fact("backup_strategy", "schedule")).split()
        days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        if weekday == "*":
            return f"cron({minute} {hour} {day} {month} ? *)"
        return f"cron({minute} {hour} ? {month} {days[int(weekday) % 7]} *)"

    @property
    def state_account(self) -> str:
        """Azure storage account of the Terraform state (3-24 lowercase letters and digits)."""
        return (self.slug.replace("-", "") + "tfstate")[:24]

    def vpc_cidr(self, env: str) -> str:
        """A distinct /16 per environment, so environments can be peered later."""
        order = list(load_catalog()["environments"].options)
        return f"10.{10 * (order.index(env) + 1)}.0.0/16"

    def node_size(self, large: bool) -> str:
        """Kubernetes worker node machine type per cloud."""
        sizes = {"aws": ("t3.large", "m6i.xlarge"), "gcp": ("e2-standard-2", "n2-standard-4"),
                 "azure": ("Standard_D2s_v5", "Standard_D4s_v5")}
        return sizes[self.cloud][int(large)]

    @property
    def repository(self) -> str:
        """owner/name of the git repository (the CI identity's subject)."""
        return str(self.answers.get("repository") or f"{self.slug}/{self.slug}")

    def _oidc_fill(self, template: str, env: str) -> list[str]:
        from .cicd_model import oidc_subjects

        text = template.replace("{repository}", self.repository).replace("{environment}", env)
        return oidc_subjects(text.replace("{organization_id}", "${var.ci_organization_id}"), self.answers, env)

    def oidc_subjects(self, env: str) -> list[str]:
        """Terraform's ci_oidc: every subject the deploy jobs of ``env`` present (one per deploy ref on GitLab)."""
        template = str(self.fact("ci_platform", "oidc_terraform_subject", "") or self.fact("ci_platform", "oidc_subject", ""))
        return self._oidc_fill(template, env)

    def oidc_plan_subjects(self, env: str) -> list[str]:
        """Terraform's ci_oidc: the subjects of the pull-request plan jobs of ``env`` (the read-only identity)."""
        from .cicd_model import plan_identity

        if not plan_identity(self.answers):
            return []
        return self._oidc_fill(str(self.fact("ci_platform", "oidc_plan_subject", "")), env)

    @property
    def program_oidc(self) -> dict[str, Any]:
        """The CI trust of the Pulumi, CDK and SST programs: exactly what terraform/modules/ci_oidc trusts (oidc_issuer,
        oidc_subjects per deployed environment, the audience its cloud checks), as TypeScript template literals whose
        operator-set parts are the program variables jenkinsUrl, ciOrganizationId and circleciProjectId.
        plan_subjects (per environment, {} without a plan identity) and preview_subjects ([] without a preview identity,
        created by the preview_host environment's stack): the read-only plan and the preview identities' trust.
        audience: as text for the docs; audience_literal: as a TS template literal (CircleCI on AWS: the organisation id).
        settings: those variables' names; circleci_context: GCP + CircleCI also requires the deploy context id."""
        from .cicd_model import JENKINS_URL_HCL

        if not self.oidc_issuer:
            return {}
        names = {JENKINS_URL_HCL: "jenkinsUrl", "${var.ci_organization_id}": "ciOrganizationId",
                 "${var.circleci_project_id}": "circleciProjectId"}
        subjects = {e.name: self.oidc_subjects(e.name) for e in self.deployed_environments}
        plan_subjects = {e.name: self.oidc_plan_subjects(e.name) for e in self.deployed_environments}
        texts = [self.oidc_issuer] + [s for group in (subjects, plan_subjects) for values in group.values() for s in values]
        texts += [*self.oidc_preview_subjects, self.oidc_audience]
        settings = [name for hcl, name in names.items() if any(hcl in t for t in texts)]

        def literal(text: str) -> str:
            text = text.replace("\\", "\\\\").replace("`", "\\`")
            text = re.sub(r"\$\{(?!" + "|".join(re.escape(h[2:-1]) for h in names) + r"\})", "\\${", text)
            for hcl, name in names.items():
                text = text.replace(hcl, "${" + name + "}")
            return "`" + text + "`"

        audience = "api://AzureADTokenExchange" if self.cloud == "azure" else self.oidc_audience
        return {"issuer": literal(self.oidc_issuer), "audience": audience.replace("${var.ci_organization_id}", "<ciOrganizationId>"),
                "audience_literal": literal(audience), "settings": settings,
                "subjects": {env: [literal(s) for s in values] for env, values in subjects.items()},
                "plan_subjects": {env: [literal(s) for s in values] for env, values in plan_subjects.items() if values},
                "preview_subjects": [literal(s) for s in self.oidc_preview_subjects],
                # the programs have no development stack: their first deployed environment hosts the preview identity
                "preview_host": self.deployed_environments[0].name if self.oidc_preview_subjects else "",
                "circleci_context": self.circleci_context}

    @property
    def oidc_preview_subjects(self) -> list[str]:
        """Terraform's ci_oidc: the subjects of the per-pull-request preview jobs (the preview identity), [] without one."""
        from .cicd_model import preview_identity

        if not preview_identity(self.answers):
            return []
        return self._oidc_fill(str(self.fact("ci_platform", "oidc_preview_subject", "")), "preview")

    @property
    def preview_host(self) -> str:
        """The environment whose ci_oidc module creates the preview identity: the first one (it also creates the
        account-wide OIDC provider on AWS), "" without a preview identity."""
        return self.environments[0].name if self.oidc_preview_subjects else ""

    @property
    def circleci_context(self) -> bool:
        """CircleCI: the GCP trust also requires the environment's context (<slug>-<environment>) in the token."""
        return self.answers["ci_platform"] == "circleci" and self.cloud == "gcp"

    @property
    def oidc_audience(self) -> str:
        """The audience the CI's tokens carry and the trust checks: the platform's (Azure DevOps; CircleCI on AWS: the
        organisation id, ${var.ci_organization_id}) or the cloud's default ("" on GCP: the provider's own name)."""
        fact = str(self.fact("ci_platform", "oidc_audience", "") or "")
        default = {"aws": "sts.amazonaws.com", "gcp": "", "azure": "api://AzureADTokenExchange"}.get(self.cloud, "")
        return fact.replace("{organization_id}", "${var.ci_organization_id}") or default

    @property
    def oidc_audience_hcl(self) -> str:
        """``oidc_audience`` as an HCL expression (terraform fmt unwraps a lone "${var.x}" to var.x)."""
        audience = self.oidc_audience
        lone = re.fullmatch(r"\$\{(var\.\w+)\}", audience)
        return lone[1] if lone else f'"{audience}"'

    @property
    def oidc_issuer(self) -> str:
        from .cicd_model import oidc_placeholders

        issuer = str(self.fact("ci_platform", "oidc_issuer", ""))
        # Jenkins: <jenkins_url>/oidc, a Terraform variable (the programs: program_oidc's jenkinsUrl setting)
        return oidc_placeholders(issuer.replace("{organization_id}", "${var.ci_organization_id}"), self.answers, "")

    @property
    def terraform_binary(self) -> str:
        return "tofu" if self.answers["iac_tool"] == "opentofu" else "terraform"

    @property
    def repository_url(self) -> str:
        """Git repository the GitOps controller watches (the repository answer)."""
        host = "gitlab.com" if self.answers["ci_platform"] == "gitlab_ci" else "github.com"
        return f"https://{host}/{self.repository}.git"

    def manifests_path(self, env: str) -> str:
        """Directory a GitOps controller or deploy.sh applies for one environment."""
        return {
            "helm": f"helm/{self.slug}",
            "kustomize": f"k8s/overlays/{env}",
            "raw": f"k8s/{env}",
        }[self.answers["k8s_packaging"]]

    def auto_sync(self, env: str) -> bool:
        """Whether the environment deploys without a human (auto_deploy)."""
        mode = self.answers["auto_deploy"]
        if mode == "manual":
            return False
        return env != "production" or mode == "production_auto"

    def env(self, name: str) -> Sizing:
        """One environment's sizing; ``helm`` gives the chart's values references instead."""
        return HELM_ENV if name == "helm" else next(e for e in self.environments if e.name == name)

    @property
    def deployed_environments(self) -> list[Sizing]:
        """Environments that run on the target (development runs locally with compose)."""
        return [e for e in self.environments if e.name != "development"]

    @property
    def secret_names(self) -> list[str]:
        return secret_variables(self.answers)

    def command(self, process: str = "start") -> list[str]:
        return list(self.language[process])

    def command_line(self, process: str = "start") -> str:
        """The command as one shell line (Procfile, startCommand)."""
        return " ".join(self.command(process))


def secret_variables(answers: Mapping[str, Any]) -> list[str]:
    """Names of the secret environment variables the application reads (from the variables catalog)."""
    project = project_for(load_catalog(), answers)
    return list(dict.fromkeys(v.name for v in project.variables if v.secret))


def _service(catalog: Catalog, question: str, value: str, env_var: str) -> Service | None:
    if value == "none":
        return None
    return Service(value, catalog.fact(question, value, "image"), int(catalog.fact(question, value, "port")), env_var)


def registry_owner(answers: Mapping[str, Any]) -> str:
    """The image namespace on GHCR and Docker Hub: the owner of the `repository` answer, lowercased."""
    repository = str(answers.get("repository") or answers["project_slug"])
    return repository.split("/", 1)[0].lower()


def image_repository(answers: Mapping[str, Any]) -> str:
    """Where CI pushes the image; deploy.sh always deploys an explicit reference."""
    slug = answers["project_slug"]
    registry = answers["container_registry"]
    owner = registry_owner(answers)
    return {
        "ghcr": f"ghcr.io/{owner}/{slug}",
        "dockerhub": f"docker.io/{owner}/{slug}",
        "ecr": f"{slug}",
        "artifact_registry": f"us-central1-docker.pkg.dev/{slug}-prod/{slug}/{slug}",
        "acr": f"{slug.replace('-', '')}.azurecr.io/{slug}",
    }[registry]


def build_infra(catalog: Catalog, answers: Mapping[str, Any]) -> Infra:
    a = dict(answers)
    sizes = []
    autoscaling = a["scaling"] == "autoscaling"
    for name in catalog["environments"].options:
        if name not in a["environments"]:
            continue
        production = name == "production"
        low = max(1, a["autoscale_min"]) if production else 1
        high = max(low, a["autoscale_max"]) if autoscaling and production else (max(low, 3) if autoscaling else low)
        url = environment_url(a, name)
        sizes.append(
            Sizing(
                name=name,
                url=url,
                host=url.removeprefix("https://"),
                replicas=low,
                min_replicas=low,
                max_replicas=high,
                cpu_millicores=int(catalog.fact("environments", name, "cpu_millicores")),
                memory_mb=int(catalog.fact("environments", name, "memory_mb")),
                db_size=str(catalog.fact("environments", name, "db_size")),
            )
        )
    database = _service(catalog, "database", a["database"], "MONGODB_URI" if a["database"] == "mongodb" else "DATABASE_URL")
    cache = _service(catalog, "cache", a["cache"], "REDIS_URL")
    option = catalog.option("app_language", a["app_language"])
    language = dict(option.facts) if option else {}
    steps = a.get("canary_steps") or [5, 25, 100]
    return Infra(
        answers=a,
        slug=a["project_slug"],
        db_name=a["project_slug"].replace("-", "_"),
        port=int(a["app_port"]),
        language=language,
        environments=sizes,
        database=database,
        cache=cache,
        image_repository=image_repository(a),
        canary_steps=[int(s) for s in steps],
    )


@lru_cache(maxsize=64)
def _cached(key: str) -> Infra:
    catalog = load_catalog()
    return build_infra(catalog, project_for(catalog, json.loads(key)).answers)


@pass_context
def infra(ctx: Context) -> Infra:
    """The infrastructure model of the answers being rendered (computed once per answer set)."""
    from .answers import known_answers

    return _cached(json.dumps(known_answers(load_catalog(), ctx), sort_keys=True, default=str))


def to_json(value: Any) -> str:
    """JSON for exec-form commands and JSON config files (stable, compact)."""
    return json.dumps(value)


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block YAML of ``value``, every line indented by ``indent`` spaces (no trailing newline)."""
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=1000).rstrip("\n")
    return "\n".join(" " * indent + line for line in text.splitlines())


_ATTRIBUTE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_\-]*|\"[^\"]+\")\s*=\s*(.*)$")


def hcl_align(text: str) -> str:
    """Align ``=`` of consecutive one-line attributes at one indentation, as ``terraform fmt`` does.

    An attribute whose value continues on the next lines ends the run and is not aligned.
    """
    out: list[str] = []
    run: list[tuple[str, str, str]] = []

    def flush() -> None:
        width = max((len(key) for _, key, _ in run), default=0)
        out.extend(f"{indent}{key.ljust(width)} = {value}" for indent, key, value in run)
        run.clear()

    for line in text.split("\n"):
        match = _ATTRIBUTE.match(line)
        if not match or line.lstrip().startswith("#"):
            flush()
            out.append(line)
            continue
        indent, key, value = match.groups()
        if run and run[0][0] != indent:
            flush()
        if _open_brackets(value) > 0:
            flush()
            out.append(f"{indent}{key} = {value.rstrip()}")
        else:
            run.append((indent, key, value.rstrip()))
    flush()
    return "\n".join(out)


def _open_brackets(text: str) -> int:
    """Net opened brackets on a line (strings and interpolations ignored)."""
    stripped = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return sum(stripped.count(c) for c in "([{") - sum(stripped.count(c) for c in ")]}")


GLOBALS: dict[str, Callable[..., Any]] = {"infra": infra, "to_json": to_json, "to_yaml": to_yaml, "hcl_align": hcl_align}
