"""The recommendation engine: the tier's best valid answer to every question."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import rules
from .answers import cloud_provider, is_container_target, slugify
from .catalog import Catalog, Option, Question


def option_fits(catalog: Catalog, question: Question, option: Option, answers: Mapping[str, Any]) -> bool:
    """True when choosing ``option`` breaks no rule given the answers so far."""
    if question.multiselect:  # set-level rules (e.g. "production is required") judge the whole list
        return not list(rules.known_choices(catalog, {**answers, question.name: [option.value]}, only=question.name))
    return not rules.problems(catalog, {**answers, question.name: option.value}, only=question.name)


def recommend(catalog: Catalog, name: str, answers: Mapping[str, Any]) -> Any:
    """The tier's recommendation for ``name``, consistent with the answers so far."""
    tier = answers.get("tier", "mvp")
    question = catalog[name]
    if name == "cloud_provider":
        return cloud_provider(catalog, answers)
    if name == "project_name":
        return answers.get("_folder_name") or "my-app"
    if name == "project_slug":
        return slugify(answers.get("project_name", "my-app"))
    if name == "repository":
        slug = answers.get("project_slug") or slugify(answers.get("project_name", "my-app"))
        return f"{slug}/{slug}"
    if name == "domain":
        return f"{answers.get('project_slug') or slugify(answers.get('project_name', 'my-app'))}.example.com"
    if name == "containerize" and is_container_target(catalog, answers):
        return True
    if question.derived_from:
        source, fact = question.derived_from.split(".")
        return catalog.fact(source, answers.get(source), fact)
    if not question.is_choice:
        return _repaired(catalog, name, question.recommended.get(tier), answers)
    fitting = [o for o in question.options.values() if option_fits(catalog, question, o, answers)]
    preferred = [o for o in fitting if tier in o.recommended_for]
    if question.multiselect:
        values = [o.value for o in preferred]
        if name == "environments" and "production" not in values:
            values.append("production")
        return values
    chosen = (preferred or fitting or list(question.options.values()))[0]
    return chosen.value


def effective_answers(catalog: Catalog, given: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every answer: the given ones, and the recommendation for each missing one, in order."""
    result: dict[str, Any] = dict(extra or {})
    for name in catalog.names():
        if name == "cloud_provider":
            result[name] = cloud_provider(catalog, result)
        elif name in given:
            result[name] = given[name]
        else:
            result[name] = recommend(catalog, name, result)
    result.pop("_folder_name", None)
    return result


def _repaired(catalog: Catalog, name: str, value: Any, answers: Mapping[str, Any]) -> Any:
    """Adjust a tier's number or switch to keep it consistent with earlier answers."""
    if not rules.problems(catalog, {**answers, name: value}, only=name):
        return value
    if isinstance(value, bool):
        return not value
    if name == "rpo_minutes":
        return catalog.fact("backup_strategy", answers.get("backup_strategy"), "interval_minutes", value)
    floors = {"autoscale_max": "autoscale_min", "db_pool_max": "db_pool_min"}
    if name in floors:
        return max(value, answers.get(floors[name], value))
    if name.startswith("cost_") and name.endswith("_critical"):
        return max(value, 2 * answers.get(name.replace("_critical", "_warning"), value))
    return value
