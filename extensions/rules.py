"""The answer contract: what makes an answer, or a combination of answers, wrong.

Each rule looks at the answers known so far and reports problems against the
question that should change. Rules skip silently when an answer they need is not
known yet, so the same rules serve per-question validators (interactive prompts)
and the whole-file check of presets and ``--data`` answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .answers import cloud_provider, is_container_target
from .catalog import Catalog

Answers = Mapping[str, Any]

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
DNS_PATTERN = re.compile(r"^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
FLAG_SERVICES = ("launchdarkly", "unleash", "posthog", "flagsmith", "growthbook")


@dataclass(frozen=True)
class Problem:
    question: str
    message: str

    def __str__(self) -> str:
        return f"{self.question}: {self.message}"


@dataclass(frozen=True)
class Suggestion:
    """Advice that is not an error (shown after copy and in docs/decisions.md)."""

    question: str
    message: str


Rule = Callable[[Catalog, Answers], Iterator[Problem]]
Advice = Callable[[Catalog, Answers], Iterator[Suggestion]]
RULES: list[Rule] = []
ADVICE: list[Advice] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def advice(fn: Advice) -> Advice:
    ADVICE.append(fn)
    return fn


def _has(a: Answers, *names: str) -> bool:
    return all(name in a for name in names)


def _values(catalog: Catalog, question: str, ok: Callable[[Any], bool] | None = None) -> str:
    return ", ".join(v for v, opt in catalog[question].options.items() if ok is None or ok(opt))


def _is_k8s(a: Answers) -> bool:
    return a.get("deploy_target") == "kubernetes"


# --- single answers ---------------------------------------------------------------


def known_choices(catalog: Catalog, a: Answers, only: str | None = None) -> Iterator[Problem]:
    """Every choice must be an option, and the option's requirements must hold."""
    for name, question in catalog.questions.items():
        if (only and name != only) or not question.is_choice or name not in a or name == "cloud_provider":
            continue
        values = a[name] if question.multiselect else [a[name]]
        if not isinstance(values, list):
            yield Problem(name, f"expected a list of {_values(catalog, name)}, got {a[name]!r}.")
            continue
        for value in values:
            option = question.option(value)
            if option is None:
                yield Problem(name, f"{value!r} is not an option. Choose one of: {_values(catalog, name)}.")
                continue
            for needed, allowed, actual in _unmet(catalog, option, a):
                why = f" (deploy_target {a.get('deploy_target')} runs on {actual})" if needed == "cloud_provider" else ""
                reason = f": {option.fact('requires_why')}" if option.fact("requires_why") else ""
                fits = _values(catalog, name, lambda o: not _unmet(catalog, o, a))
                yield Problem(
                    name,
                    f"{value!r} needs {needed} {' or '.join(map(str, allowed))}, but it is {actual}{why}{reason}. "
                    f"Choose one of: {fits}.",
                )


def _unmet(catalog: Catalog, option: Any, a: Answers) -> list[tuple[str, tuple[Any, ...], Any]]:
    """The option's requirements that known answers contradict: (answer, allowed values, actual value)."""
    unmet = []
    for needed, allowed in option.requires.items():
        if needed == "cloud_provider":
            if "deploy_target" not in a:
                continue
            actual = cloud_provider(catalog, a)
        elif needed in a:
            actual = a[needed]
        else:
            continue
        if actual not in allowed:
            unmet.append((needed, allowed, actual))
    return unmet


@rule
def names_and_numbers(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if "project_name" in a and not str(a["project_name"]).strip():
        yield Problem("project_name", "must not be empty. Give the project a name, e.g. 'My App'.")
    if "project_slug" in a and not SLUG_PATTERN.match(str(a["project_slug"])):
        yield Problem(
            "project_slug",
            f"{a['project_slug']!r} must be 3-40 lowercase letters, digits or dashes, start with a letter "
            "and not end with a dash (e.g. 'my-app').",
        )
    if "domain" in a and not DNS_PATTERN.match(str(a["domain"])):
        yield Problem("domain", f"{a['domain']!r} is not a valid DNS name. Use lowercase labels like 'app.example.com'.")
    if "repository" in a and not REPOSITORY_PATTERN.match(str(a["repository"])):
        yield Problem("repository", f"{a['repository']!r} must be owner/name (GitLab subgroups allowed), e.g. 'acme/shop'.")
    ranges = {
        "app_port": (1, 65535, "a TCP port from 1 to 65535"),
        "preview_ttl_hours": (1, 24 * 30, "a number of hours from 1 to 720"),
        "backup_retention_days": (1, 3650, "a number of days from 1 to 3650"),
        "rto_minutes": (1, 60 * 24 * 30, "a positive number of minutes"),
        "rpo_minutes": (1, 60 * 24 * 30, "a positive number of minutes"),
        "autoscale_min": (1, 1000, "at least 1 instance"),
        "autoscale_max": (1, 1000, "at least 1 instance"),
        "autoscale_cpu_target": (10, 95, "a CPU percentage from 10 to 95"),
        "shutdown_timeout_seconds": (1, 3600, "a number of seconds from 1 to 3600"),
        "alert_latency_p95_ms": (1, 600_000, "a positive number of milliseconds"),
        "db_pool_min": (0, 1000, "0 or more connections"),
        "db_pool_max": (1, 1000, "at least 1 connection"),
    }
    for name, (low, high, what) in ranges.items():
        if name in a and not (low <= a[name] <= high):
            yield Problem(name, f"{a[name]} is out of range: use {what}.")
    for name in ("rollback_error_rate_pct", "alert_error_rate_pct"):
        if name in a and not (0 < a[name] <= 100):
            yield Problem(name, f"{a[name]} is not a percentage: use a number above 0 and at most 100 (e.g. 5).")
    for period in ("daily", "weekly", "monthly"):
        warn, crit = f"cost_{period}_warning", f"cost_{period}_critical"
        for name in (warn, crit):
            if name in a and a[name] <= 0:
                yield Problem(name, f"{a[name]} must be a positive amount of USD.")
        if _has(a, warn, crit) and a[warn] >= a[crit]:
            yield Problem(crit, f"must be above {warn} ({a[warn]}): the warning comes first, then the critical alert.")


@rule
def canary_steps_shape(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if "canary_steps" not in a:
        return
    steps = a["canary_steps"]
    fix = "Write a list like [5, 25, 100]."
    if not isinstance(steps, list) or not steps or not all(isinstance(s, int) and not isinstance(s, bool) for s in steps):
        yield Problem("canary_steps", f"{steps!r} must be a list of whole percentages. {fix}")
    elif any(not 1 <= s <= 100 for s in steps):
        yield Problem("canary_steps", f"{steps} has a step outside 1-100. {fix}")
    elif any(later <= earlier for earlier, later in pairwise(steps)):
        yield Problem("canary_steps", f"{steps} must be strictly increasing. {fix}")
    elif steps[-1] != 100:
        yield Problem("canary_steps", f"{steps} must end at 100 so the rollout completes. {fix}")


@rule
def environments_include_production(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if "environments" in a and isinstance(a["environments"], list) and "production" not in a["environments"]:
        yield Problem("environments", "production is required: add it to the list (e.g. [development, production]).")


# --- cross-phase rules (seed 000 "Cross-Phase Dependencies") --------------------------


@rule
def containers_for_container_targets(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if _has(a, "deploy_target", "containerize") and not a["containerize"] and is_container_target(catalog, a):
        yield Problem(
            "containerize",
            f"deploy_target {a['deploy_target']} runs container images, so containerize must be true "
            "(or pick a target that builds from source: railway, render, heroku, vercel, netlify).",
        )


@rule
def worker_needs_long_running_target(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not (_has(a, "deploy_target", "has_worker") and a["has_worker"]):
        return
    target = a["deploy_target"]
    if target in ("vercel", "netlify", "aws_app_runner"):
        yield Problem(
            "has_worker",
            f"deploy_target {target} cannot run a long-lived worker process. Choose has_worker false, or a target "
            "that runs workers: railway, render, fly_io, heroku, aws_ecs_fargate, gcp_cloud_run, azure_container_apps, kubernetes.",
        )


@rule
def functions_need_a_worker_for_the_language(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not _has(a, "deploy_target", "app_language") or a["deploy_target"] != "azure_functions":
        return
    if not catalog.fact("app_language", a["app_language"], "functions_runtime", ""):
        usable = [lang for lang in catalog["app_language"].options if catalog.fact("app_language", lang, "functions_runtime", "")]
        yield Problem(
            "app_language",
            f"Azure Functions has no {a['app_language']} worker and its custom-handler host has no {a['app_language']} interpreter. "
            f"Choose app_language {', '.join(usable)}, or deploy_target azure_container_apps (any language, as a container image).",
        )

def traffic_shifting_available(catalog: Catalog, a: Answers) -> bool:
    return bool(catalog.fact("deploy_target", a.get("deploy_target"), "traffic_shifting", False))


@rule
def progressive_delivery_needs_control(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not _has(a, "deploy_target", "feature_flags", "deployment_strategy"):
        return
    strategy = a["deployment_strategy"]
    flags = a["feature_flags"] != "none"
    mesh = _is_k8s(a) and a.get("k8s_service_mesh", "none") != "none"
    if strategy == "canary" and not (flags or mesh or traffic_shifting_available(catalog, a)):
        shifting = _values(catalog, "deploy_target", lambda o: bool(o.fact("traffic_shifting", False)))
        yield Problem(
            "deployment_strategy",
            f"canary needs a way to send a slice of traffic to the new version, and deploy_target {a['deploy_target']} "
            "has no progressive-delivery controller. Pick feature_flags (launchdarkly, unleash, posthog, flagsmith, "
            f"growthbook), or a deploy_target with traffic shifting ({shifting}), or deployment_strategy rolling or blue_green.",
        )
    header_routing = _is_k8s(a) and (mesh or a.get("k8s_ingress") in ("nginx", "istio_gateway"))
    if strategy == "ab_testing" and not (flags or header_routing):
        yield Problem(
            "deployment_strategy",
            "ab_testing routes users by segment, which needs feature flags (feature_flags launchdarkly, unleash, "
            "posthog, flagsmith or growthbook) or header routing on Kubernetes (a k8s_service_mesh, or k8s_ingress "
            "nginx / istio_gateway). Otherwise choose deployment_strategy canary, blue_green or rolling.",
        )


@rule
def traffic_shifting_needs_its_iac(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    """A target whose traffic shifting is generated for some IaC tools only (ECS: CodeDeploy in Terraform)."""
    if not _has(a, "deploy_target", "iac_tool", "deployment_strategy", "feature_flags") or a["deployment_strategy"] == "rolling":
        return
    tools = catalog.fact("deploy_target", a["deploy_target"], "traffic_shifting_iac")
    if tools and a["iac_tool"] not in tools and a["feature_flags"] == "none":
        yield Problem(
            "deployment_strategy",
            f"{a['deployment_strategy']} on {a['deploy_target']} shifts traffic with resources prodready generates for "
            f"iac_tool {', '.join(tools)}; the {a['iac_tool']} program rolls the service. Choose one of those iac_tool values, "
            "add feature_flags to expose the new version gradually, or choose deployment_strategy rolling.",
        )


@rule
def previews_need_capable_ci(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not _has(a, "ci_platform", "preview_environments") or a["preview_environments"] == "none":
        return
    if not catalog.fact("ci_platform", a["ci_platform"], "previews", False):
        capable = _values(catalog, "ci_platform", lambda o: o.fact("previews", False))
        yield Problem(
            "preview_environments",
            f"{a['preview_environments']} previews need a CI platform that deploys on pull requests and destroys on "
            f"close; ci_platform {a['ci_platform']} cannot. Choose ci_platform {capable}, or preview_environments none.",
        )


@rule
def previews_need_target_support(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not _has(a, "deploy_target", "preview_environments") or a["preview_environments"] == "none":
        return
    stacks = catalog.fact("deploy_target", a["deploy_target"], "preview_stacks", True)
    if stacks is False:
        capable = _values(catalog, "deploy_target", lambda o: o.fact("preview_stacks", True) is not False)
        yield Problem(
            "preview_environments",
            f"deploy_target {a['deploy_target']} needs a separate stack per pull request for previews, which prodready "
            f"does not generate yet. Choose preview_environments none, or a deploy_target with previews: {capable}.",
        )
    elif stacks == "iac" and "iac_tool" in a and not preview_stack_tool(catalog, a["iac_tool"]):
        cloud = catalog.fact("deploy_target", a["deploy_target"], "cloud")
        tools = _values(catalog, "iac_tool", lambda o: preview_stack_tool(catalog, o.value)
                        and cloud in o.requires.get("cloud_provider", (cloud,)))
        yield Problem(
            "preview_environments",
            f"{a['preview_environments']} previews on deploy_target {a['deploy_target']} are one IaC stack per pull "
            f"request (pr-<number>), which iac_tool {a['iac_tool']} cannot create. Choose iac_tool {tools}, "
            "or preview_environments none.",
        )


def preview_stack_tool(catalog: Catalog, iac_tool: str) -> bool:
    """Whether the IaC tool is generated and knows how to create and destroy one stack per pull request."""
    return bool(catalog.fact("iac_tool", iac_tool, "generated", True) is not False
                and catalog.fact("iac_tool", iac_tool, "preview_up", "")
                and catalog.fact("iac_tool", iac_tool, "preview_down", ""))


@rule
def azure_federation_needs_exact_subjects(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    """Entra ID federated credentials match one exact token subject; some CIs present a pattern's worth of them."""
    if not _has(a, "ci_platform", "deploy_target", "branch_strategy", "project_slug") or cloud_provider(catalog, a) != "azure":
        return
    from .cicd_model import oidc_subjects

    # every IaC program trusts Terraform ci_oidc's subjects (the narrower per-ref ones where the platform has them)
    subject = str(catalog.fact("ci_platform", a["ci_platform"], "oidc_terraform_subject", "")
                  or catalog.fact("ci_platform", a["ci_platform"], "oidc_subject", "") or "")
    environments = [e for e in (a.get("environments") or ["production"]) if e != "development"]
    if not subject or not any("*" in s for e in environments for s in oidc_subjects(subject, a, e)):
        return
    def exact(option: Any) -> bool:  # per-ref subjects ({ref}, {ref_job}) are exact unless git_flow deploys from patterns
        text = str(option.fact("oidc_subject", "*") or "*")
        per_ref = re.search(r"\{ref(_job)?\}", str(option.fact("oidc_terraform_subject", "") or text))
        return "*" not in text and not (per_ref and a["branch_strategy"] == "git_flow")

    exact_platforms = _values(catalog, "ci_platform", exact)
    if re.search(r"\{ref(_job)?\}", subject):
        yield Problem(
            "branch_strategy",
            f"with ci_platform {a['ci_platform']} the deploy token's subject names the branch or tag (one subject per deploy "
            f"ref), and {a['branch_strategy']} deploys from the patterns release/*, hotfix/* and v*, but Azure federated "
            "credentials only match one exact subject. "
            f"Choose branch_strategy trunk_based or github_flow, or ci_platform {exact_platforms}.",
        )
    else:
        yield Problem(
            "ci_platform",
            f"{a['ci_platform']} deploy tokens carry per-project/per-user subjects that Azure federated credentials (exact subjects "
            f"only) cannot match, so the pipeline could not log in to Azure. Choose ci_platform {exact_platforms}.",
        )


def _exact_platforms(catalog: Catalog, subject: str) -> str:
    """The CI platforms whose ``subject`` fact (oidc_plan_subject, oidc_preview_subject) is one exact token subject."""
    return _values(catalog, "ci_platform", lambda o: bool(o.fact(subject, "")) and "*" not in str(o.fact(subject, "")))


@rule
def azure_previews_need_exact_subjects(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    """The IaC code's ci_oidc gives Azure preview stacks a federated identity: Entra ID matches one exact subject, and
    some CIs' preview jobs present a subject per branch (GitLab merge request pipelines: the source branch)."""
    if (not _has(a, "ci_platform", "deploy_target", "preview_environments", "iac_tool") or a["preview_environments"] == "none"
            or not catalog.fact("iac_tool", a["iac_tool"], "plan", "") or cloud_provider(catalog, a) != "azure"
            or catalog.fact("deploy_target", a["deploy_target"], "preview_stacks", True) != "iac"):
        return
    subject = str(catalog.fact("ci_platform", a["ci_platform"], "oidc_preview_subject", "") or "")
    if "*" in subject:
        exact = _exact_platforms(catalog, "oidc_preview_subject")
        yield Problem(
            "ci_platform",
            f"{a['preview_environments']} previews on {a['deploy_target']} run as a federated Azure identity, but "
            f"{a['ci_platform']} preview jobs present one token subject per source branch and Entra ID federated "
            f"credentials match exact subjects only. Choose ci_platform {exact}, or preview_environments none.",
        )


@rule
def azure_plans_need_exact_subjects(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    """The IaC code gives the pull-request plan jobs a read-only Azure identity: Entra ID matches one exact subject,
    and some CIs' plan jobs present one per source branch (GitLab merge request pipelines)."""
    if (not _has(a, "ci_platform", "deploy_target", "iac_tool") or cloud_provider(catalog, a) != "azure"
            or not catalog.fact("iac_tool", a["iac_tool"], "plan", "")):
        return
    if "*" in str(catalog.fact("ci_platform", a["ci_platform"], "oidc_subject", "") or ""):
        return  # azure_federation_needs_exact_subjects refuses the platform already
    plan = str(catalog.fact("ci_platform", a["ci_platform"], "oidc_plan_subject", "") or "")
    if "*" in plan:
        exact = _exact_platforms(catalog, "oidc_plan_subject")
        yield Problem(
            "ci_platform",
            f"{a['ci_platform']} runs the {catalog.fact('iac_tool', a['iac_tool'], 'plan_label', a['iac_tool'])} of every "
            "pull request on its source branch, so its token subject names that branch, and Entra ID federated credentials "
            f"match exact subjects only: the plan could not log in to Azure. Choose ci_platform {exact}, or iac_tool manual.",
        )


@rule
def iac_program_is_generated(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if "iac_tool" in a and catalog.fact("iac_tool", a["iac_tool"], "generated", True) is False:
        yield Problem(
            "iac_tool",
            f"prodready does not generate {a['iac_tool']} programs yet (only the steps in docs/infrastructure.md), "
            "so its CI jobs would have nothing to run. Choose iac_tool terraform or opentofu (the same resources), or manual.",
        )


@rule
def pulumi_needs_a_cloud(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    """The Pulumi program creates the target's cloud resources; a target on no cloud has none to create."""
    if a.get("iac_tool") != "pulumi" or "deploy_target" not in a or cloud_provider(catalog, a) != "none":
        return
    target = a["deploy_target"]
    if target == "kubernetes":
        target = f"kubernetes with k8s_distribution {a.get('k8s_distribution')}"
    yield Problem(
        "iac_tool",
        f"the Pulumi program creates AWS, Google Cloud or Azure resources, and deploy_target {target} runs on none. "
        "Choose iac_tool manual, or a deploy_target (k8s_distribution) on AWS, Google Cloud or Azure.",
    )


@rule
def staging_gate_needs_staging(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    gated = _has(a, "auto_deploy", "environments") and a["auto_deploy"] == "staging_auto_production_manual"
    if gated and isinstance(a["environments"], list) and "staging" not in a["environments"]:
        yield Problem(
            "auto_deploy",
            "staging_auto_production_manual deploys to staging first, but staging is not in environments. "
            "Add staging to environments, or choose auto_deploy production_auto or manual.",
        )


@rule
def on_call_needs_paging(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    paging = {"pagerduty", "opsgenie"}
    if _has(a, "on_call", "alert_channels") and a["on_call"] and not paging & set(a["alert_channels"] or []):
        yield Problem(
            "on_call",
            "an on-call rotation pages through PagerDuty or Opsgenie: add pagerduty or opsgenie to alert_channels, "
            "or set on_call false (business-hours monitoring).",
        )


@rule
def rpo_within_backup_interval(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not _has(a, "backup_strategy", "rpo_minutes", "database") or a["database"] == "none":
        return
    interval = catalog.fact("backup_strategy", a["backup_strategy"], "interval_minutes", 0)
    if a["backup_strategy"] != "continuous" and a["rpo_minutes"] < interval:
        yield Problem(
            "rpo_minutes",
            f"{a['rpo_minutes']} minutes cannot be met by {a['backup_strategy']} backups (up to {interval} minutes of "
            f"data lost). Choose backup_strategy continuous, or rpo_minutes of at least {interval}.",
        )


@rule
def autoscale_bounds(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if _has(a, "autoscale_min", "autoscale_max") and a["autoscale_min"] > a["autoscale_max"]:
        yield Problem("autoscale_max", f"{a['autoscale_max']} is below autoscale_min ({a['autoscale_min']}): raise it.")
    if _has(a, "db_pool_min", "db_pool_max") and a["db_pool_min"] > a["db_pool_max"]:
        yield Problem("db_pool_max", f"{a['db_pool_max']} is below db_pool_min ({a['db_pool_min']}): raise it.")


@rule
def metric_rollback_needs_metrics(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if not _has(a, "rollback_automation", "metrics", "apm") or a["rollback_automation"] != "metric_based":
        return
    if a["metrics"] == "platform" and a["apm"] in ("none", "sentry_performance"):
        yield Problem(
            "metrics",
            "rollback_automation metric_based needs an error-rate metric to query: choose metrics prometheus_grafana, "
            "datadog or cloudwatch (or apm datadog / new_relic), or rollback_automation smoke_test.",
        )


@rule
def datadog_tracing_is_apm(catalog: Catalog, a: Answers) -> Iterator[Problem]:
    if _has(a, "tracing", "apm") and a["tracing"] == "datadog" and a["apm"] != "datadog":
        yield Problem("tracing", "datadog tracing is Datadog APM: choose apm datadog, or tracing jaeger, tempo or none.")


# --- advice --------------------------------------------------------------------------


@advice
def canary_with_flags(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    if a.get("deployment_strategy") in ("canary", "ab_testing") and a.get("feature_flags") == "none":
        yield Suggestion(
            "feature_flags",
            f"You chose {a['deployment_strategy']}; we recommend feature flags (LaunchDarkly, Unleash, PostHog) "
            "as a kill switch for what the canary exposes.",
        )


@advice
def observability_is_not_optional(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    if a.get("tier") != "mvp" and a.get("error_tracking") == "none":
        yield Suggestion(
            "error_tracking",
            "Observability is not optional in production: add error tracking (Sentry is free up to 5k errors/month).",
        )
    if a.get("tier") != "mvp" and a.get("uptime") == "none":
        yield Suggestion("uptime", "No uptime monitoring: users will find outages first. UptimeRobot is free for 50 monitors.")


@advice
def terraform_without_a_cloud(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    """Terraform/OpenTofu on a platform outside AWS, Google Cloud and Azure: no terraform/ root is generated."""
    if a.get("iac_tool") not in ("terraform", "opentofu") or "deploy_target" not in a or cloud_provider(catalog, a) != "none":
        return
    target = a["deploy_target"]
    option = catalog.option("deploy_target", target)
    label = option.label if option else target
    config = str(catalog.fact("deploy_target", target, "config_file", "") or "").replace("{slug}", str(a.get("project_slug", "app")))
    own = f"{config} is the infrastructure code" if config else "the platform's own configuration is the infrastructure code"
    # what monitoring/terraform manages (observability_model terraform_parts): uptime checks, status page, vendor monitors
    monitors = [getattr(catalog.option(q, a[q]), "label", a[q]) for q in ("uptime", "status_page") if a.get(q) not in (None, "none")]
    monitors += [f"{v} monitors" for v in dict.fromkeys(
        {"datadog": "Datadog", "new_relic": "New Relic", "sentry": "Sentry"}.get(str(a.get(q)), "")
        for q in ("metrics", "apm", "error_tracking")) if v]
    scope = (f"{a['iac_tool']} manages only monitoring/terraform ({', '.join(monitors)})" if monitors
             else f"{a['iac_tool']} manages nothing until you choose uptime checks, a status page or vendor monitors "
                  "(they go to monitoring/terraform)")
    yield Suggestion(
        "iac_tool",
        f"On {label}, {own} (no terraform/ root and no plan/apply jobs are generated): {scope}. "
        "Choose iac_tool manual if you prefer, or a deploy_target on AWS, Google Cloud or Azure for Terraform-managed infrastructure.",
    )


@advice
def manual_infrastructure(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    if a.get("iac_tool") == "manual" and a.get("tier") != "mvp":
        yield Suggestion("iac_tool", "Manual infrastructure is acceptable for an MVP only: Terraform makes environments reproducible.")


@advice
def worker_without_queue(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    if a.get("has_worker") and a.get("cache") == "none" and a.get("deploy_target") not in ("aws_lambda", "azure_functions"):
        yield Suggestion("cache", "Your worker has no queue backend: choose cache redis (BullMQ, Sidekiq, Celery) or a managed queue.")


@advice
def high_slo_without_on_call(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    if str(a.get("slo_availability", "99.0")) in ("99.95", "99.99") and not a.get("on_call"):
        yield Suggestion(
            "on_call", f"A {a['slo_availability']}% SLO leaves minutes of error budget a month: it needs an on-call rotation."
        )
    if str(a.get("slo_availability", "99.0")) in ("99.9", "99.95", "99.99") and a.get("autoscale_min", 2) < 2:
        yield Suggestion("autoscale_min", "One instance cannot meet a 99.9%+ SLO through a deploy or a host failure: run at least 2.")


@advice
def prometheus_on_serverless(catalog: Catalog, a: Answers) -> Iterator[Suggestion]:
    if a.get("metrics") == "prometheus_grafana" and catalog.fact("deploy_target", a.get("deploy_target"), "image") == "none":
        yield Suggestion(
            "metrics",
            "Prometheus cannot scrape serverless functions: push metrics through an OpenTelemetry collector or Grafana Cloud.",
        )


def problems(catalog: Catalog, answers: Answers, only: str | None = None) -> list[Problem]:
    """Every problem of the answers (or only those reported against question ``only``)."""
    found: list[Problem] = list(known_choices(catalog, answers, only))
    for check in RULES:
        for problem in check(catalog, answers):
            if problem not in found and (only is None or problem.question == only):
                found.append(problem)
    return found


def suggestions(catalog: Catalog, answers: Answers) -> list[Suggestion]:
    return [s for fn in ADVICE for s in fn(catalog, answers)]
