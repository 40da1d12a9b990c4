"""The project model: everything generated files need, computed once per answer set.

Templates call ``project()`` and read plain attributes: environments with their
URLs, the configuration variables, decision records, costs and suggestions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from . import rules
from .catalog import CATALOG_DIR, TIERS, Catalog, _load_yaml
from .questionnaire import applicable, describe
from .recommend import effective_answers, recommend

SECTION_TITLES = {
    "core": "Core",
    "deployment": "Deployment and infrastructure",
    "observability": "Observability",
    "operations": "Operations",
    "cicd": "CI/CD add-ons",
}
CRITICAL_SERVICES = {"deploy_target", "database", "cache", "secrets_manager", "ci_platform", "container_registry"}
_ENV = SandboxedEnvironment(keep_trailing_newline=False)


@dataclass(frozen=True)
class Environment:
    name: str
    label: str
    url: str
    log_level: str
    deploy: str  # "automatic", "manual approval" or "manual"
    replicas: int


@dataclass(frozen=True)
class Variable:
    name: str
    purpose: str
    secret: bool
    example: str
    values: dict[str, str]
    source: str

    def value_for(self, environment: str) -> str:
        return "" if self.secret else self.values.get(environment, self.example)


@dataclass(frozen=True)
class Decision:
    question: str
    title: str
    chosen: str
    recommended: str
    overridden: bool
    why: str
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    pricing: str
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class CostLine:
    question: str
    service: str
    purpose: str
    monthly_usd: float
    pricing: str
    critical: bool


@dataclass
class Project:
    answers: dict[str, Any]
    environments: list[Environment]
    variables: list[Variable]
    decisions: dict[str, list[Decision]]
    costs: list[CostLine]
    suggestions: list[rules.Suggestion]
    expected_total: str
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def total_monthly_usd(self) -> float:
        return round(sum(line.monthly_usd for line in self.costs), 2)

    @property
    def after_copy_message(self) -> str:
        a = self.answers
        lines = [
            f"prodready generated the {a['tier']} operations scaffold for {a['project_name']}.",
            f"Deploy target: {a['deploy_target']}; CI: {a['ci_platform']}; "
            f"estimated cost ~${self.total_monthly_usd:,.0f}/month (docs/costs.md).",
            "Read docs/operations.md first; every decision and its alternatives are in docs/decisions.md.",
        ]
        if self.suggestions:
            lines.append("Suggestions:")
            lines += [f"  - {s.message}" for s in self.suggestions]
        return "\n".join(lines)


def _label(catalog: Catalog, name: str, value: Any) -> str:
    question = catalog[name]
    if question.is_choice:
        values = value if isinstance(value, list) else [value]
        labels = [question.options[str(v)].label if str(v) in question.options else str(v) for v in values]
        return ", ".join(labels) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def environment_url(answers: Mapping[str, Any], environment: str) -> str:
    domain = answers["domain"]
    return f"https://{domain}" if environment == "production" else f"https://{environment}.{domain}"


def _environments(catalog: Catalog, a: Mapping[str, Any]) -> list[Environment]:
    result = []
    for name in catalog["environments"].options:
        if name not in a["environments"]:
            continue
        if name == "development":
            deploy = "local (docker compose)" if a["containerize"] else "local"
        elif a["auto_deploy"] == "manual":
            deploy = "manual"
        elif name == "production":
            deploy = "automatic" if a["auto_deploy"] == "production_auto" else "manual approval"
        else:
            deploy = "automatic"
        replicas = 1 if name != "production" else max(1, a["autoscale_min"])
        level = catalog.fact("environments", name, "env_level", "info")
        result.append(Environment(name, catalog["environments"].options[name].label, environment_url(a, name), level, deploy, replicas))
    return result


def _secret_source(a: Mapping[str, Any], environment: str, name: str) -> str:
    slug = a["project_slug"]
    return {
        "env_files": f".env.{environment} on the host (never committed)",
        "aws_secrets_manager": f"AWS Secrets Manager `{slug}/{environment}` key `{name}`",
        "gcp_secret_manager": f"Google Secret Manager `{slug}-{environment}-{name.lower().replace('_', '-')}`",
        "azure_key_vault": f"Azure Key Vault `{slug[:20]}-kv` secret `{environment}-{name.lower().replace('_', '-')}`",
        "vault": f"Vault `secret/data/{slug}/{environment}` key `{name}`",
        "doppler": f"Doppler project `{slug}` config `{environment}`",
        "onepassword": f"1Password vault `{slug}` item `{environment}` field `{name}`",
        "sops": f"`secrets/{environment}.enc.env` (SOPS-encrypted)",
    }[a["secrets_manager"]]


@lru_cache(maxsize=1)
def _variable_specs() -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for path in sorted((CATALOG_DIR / "variables").glob("*.yml")):
        specs.extend(_load_yaml(path.read_text(encoding="utf-8")) or [])
    return specs


@lru_cache(maxsize=256)
def _expression(text: str) -> Any:
    return _ENV.compile_expression(text)


@lru_cache(maxsize=1024)
def _template(text: str) -> Any:
    return _ENV.from_string(text)


def _variables(a: Mapping[str, Any]) -> list[Variable]:
    result: list[Variable] = []
    for spec in _variable_specs():
        if "when" in spec and not _expression(spec["when"])(**a):
            continue
        example = _template(str(spec.get("example", ""))).render(**a, env="development", url="")
        values = {
            env: _template(str(value)).render(**a, env=env, url=environment_url(a, env))
            for env, value in (spec.get("values") or {}).items()
        }
        secret = bool(spec.get("secret", False))
        source = _secret_source(a, "<environment>", spec["name"]) if secret else "this file (non-secret configuration)"
        result.append(Variable(spec["name"], spec["purpose"], secret, example, values, source))
    return result


def _decisions(catalog: Catalog, a: Mapping[str, Any], relevant: set[str]) -> dict[str, list[Decision]]:
    tier = a["tier"]
    by_section: dict[str, list[Decision]] = {}
    before: dict[str, Any] = {}  # the answers preceding each question, as its recommendation saw them
    for name, question in catalog.questions.items():
        earlier, before = before, {**before, name: a[name]}
        if name not in relevant or name in ("project_name", "project_slug", "domain", "repository", "mode"):
            continue
        recommended = recommend(catalog, name, earlier)
        chosen = a[name]
        same = sorted(map(str, chosen)) == sorted(map(str, recommended)) if isinstance(chosen, list) else chosen == recommended
        if name == "cloud_provider":
            why = f"Computed from deploy_target {a['deploy_target']}."
        elif name == "tier":
            same, why = True, "Your answer: it sets every recommendation below."
        elif question.derived_from and same:
            source = question.derived_from.split(".")[0]
            why = f"The usual value for {source} {_label(catalog, source, a[source])}."
        elif same:
            why = f"Recommended for {tier}."
            reason = question.reasons.get(tier)
            if reason:
                why += f" {reason}."
        else:
            why = f"Your choice (overrides the {tier} recommendation: {_label(catalog, name, recommended)})."
        pros: tuple[str, ...] = ()
        cons: tuple[str, ...] = ()
        pricing = ""
        alternatives: tuple[str, ...] = ()
        if question.is_choice:
            picked = chosen if isinstance(chosen, list) else [chosen]
            options = [question.options[str(v)] for v in picked if str(v) in question.options]
            pros = tuple(p for o in options for p in o.pros)
            cons = tuple(c for o in options for c in o.cons)
            pricing = "; ".join(f"{o.label}: {o.pricing}" for o in options if o.pricing)
            alternatives = tuple(
                describe(o) for value, o in question.options.items() if value not in map(str, picked) and name != "cloud_provider"
            )
        by_section.setdefault(SECTION_TITLES[question.section], []).append(
            Decision(name, question.prompt, _label(catalog, name, chosen), _label(catalog, name, recommended), not same,
                     why, pros, cons, pricing, alternatives)
        )
    return by_section


def _costs(catalog: Catalog, a: Mapping[str, Any], relevant: set[str]) -> list[CostLine]:
    tier = a["tier"]
    lines: list[CostLine] = []
    for name, question in catalog.questions.items():
        if not question.is_choice or name not in relevant:
            continue
        values = a[name] if isinstance(a[name], list) else [a[name]]
        for value in values:
            option = question.option(value)
            if option is None or not option.monthly_usd:
                continue
            lines.append(
                CostLine(name, option.label, question.prompt.split(" (")[0].rstrip("?"),
                         float(option.monthly_usd.get(tier, 0)), option.pricing, name in CRITICAL_SERVICES)
            )
    return lines


def project_from_answers(catalog: Catalog, given: Mapping[str, Any]) -> Project:
    a = effective_answers(catalog, given)
    assert a["tier"] in TIERS
    relevant = applicable(catalog, a)
    return Project(
        answers=a,
        environments=_environments(catalog, a),
        variables=_variables(a),
        decisions=_decisions(catalog, a, relevant),
        costs=_costs(catalog, a, relevant),
        suggestions=rules.suggestions(catalog, a),
        expected_total=catalog.tier_info["expected_monthly_total"][a["tier"]],
    )


@lru_cache(maxsize=32)
def _cached(root: Path, frozen: str) -> Project:
    from .catalog import load_catalog

    return project_from_answers(load_catalog(root), json.loads(frozen))


def project_for(catalog: Catalog, answers: Mapping[str, Any]) -> Project:
    """The project model for a Copier context (cached: every file of a render shares it)."""
    given = {k: v for k, v in answers.items() if k in catalog}
    return _cached(catalog.root, json.dumps(given, sort_keys=True, default=str))
