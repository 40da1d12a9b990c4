"""What Copier shows: help texts, choice lists, validator messages, the answers check."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import yaml
from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from . import rules
from .answers import CastError, cast
from .catalog import TIERS, Catalog, Option
from .recommend import effective_answers, recommend


def describe(option: Option) -> str:
    parts = [option.label]
    if option.pros:
        parts.append("pros: " + "; ".join(option.pros))
    if option.cons:
        parts.append("cons: " + "; ".join(option.cons))
    if option.pricing:
        parts.append("pricing: " + option.pricing)
    return " - ".join(parts)


def help_text(catalog: Catalog, name: str, answers: Mapping[str, Any]) -> str:
    question = catalog[name]
    tier = answers.get("tier", "mvp")
    value = recommend(catalog, name, answers)
    lines = [f"{name}: {question.prompt}"]
    if question.is_choice and name not in ("tier", "mode"):
        values = value if isinstance(value, list) else [value]
        options = [question.options[v] for v in values if v in question.options]
        lines.append(f"  Recommended for {tier}: " + (", ".join(o.label for o in options) or "none"))
        for option in options:
            prefix = f"    {option.label}: " if len(options) > 1 else "    "
            for key, items in (("pros", option.pros), ("cons", option.cons)):
                if items:
                    lines.append(f"{prefix}{key}: " + "; ".join(items))
            if option.pricing:
                lines.append(f"{prefix}pricing: {option.pricing}")
    elif not question.is_choice and name not in ("project_name",):
        reason = question.reasons.get(tier, "")
        lines.append(f"  Recommended for {tier}: {value}" + (f" ({reason})" if reason else ""))
    return "\n".join(lines)


def choices_yaml(catalog: Catalog, name: str, answers: Mapping[str, Any]) -> str:
    """Copier choices as YAML: label -> value, with a reason when an option does not fit."""
    question = catalog[name]
    tier = answers.get("tier")
    recommended = recommend(catalog, name, answers) if tier else None
    picks = recommended if isinstance(recommended, list) else [recommended]
    pairs = []
    for option in question.options.values():
        trial = {**answers, name: [option.value] if question.multiselect else option.value}
        found = (
            list(rules.known_choices(catalog, trial, only=name))
            if question.multiselect
            else rules.problems(catalog, trial, only=name)
        )
        label = option.label + (" [recommended]" if option.value in picks else "")
        if option.pricing:
            label += f" ({option.pricing})"
        entry: dict[str, Any] = {"value": option.value}
        if found:
            entry["validator"] = found[0].message.replace("{", "(").replace("}", ")")
        pairs.append([label, entry])
    return yaml.safe_dump(pairs, sort_keys=False, allow_unicode=True, width=10_000)


def problem_text(catalog: Catalog, name: str, answers: Mapping[str, Any]) -> str:
    return " ".join(p.message for p in rules.problems(catalog, answers, only=name))


@lru_cache(maxsize=4)
def _when_templates(catalog: Catalog) -> dict[str, Template | bool]:
    """Each question's copier.yml ``when``, compiled once per catalog."""
    env = SandboxedEnvironment()
    env.globals["catalog"] = catalog
    return {
        name: q.when if isinstance(q.when, bool) else env.from_string(str(q.when))
        for name, q in catalog.questions.items()
    }


def applicable(catalog: Catalog, answers: Mapping[str, Any]) -> set[str]:
    """Names of the questions whose copier.yml ``when`` holds for these answers."""
    names = set()
    for name, when in _when_templates(catalog).items():
        ok = when if isinstance(when, bool) else when.render(**answers).strip().lower() in ("true", "yes", "1")
        if ok:
            names.add(name)
    return names


def check_all(catalog: Catalog, context: Mapping[str, Any]) -> list[str]:
    """Every problem of a whole answer set (data file, --data, answers file), as text."""
    messages: list[str] = []
    given: dict[str, Any] = {}
    for name in catalog.names():
        if name not in context or name == "cloud_provider" or type(context[name]).__name__.endswith("Undefined"):
            continue
        try:
            given[name] = cast(catalog, name, context[name])
        except CastError as error:
            messages.append(f"{name}: {error}.")
    if given.get("tier", "mvp") not in TIERS:
        return [*messages, f"tier: {given['tier']!r} is not an option. Choose one of: {', '.join(TIERS)}."]
    answers = effective_answers(catalog, given, {"_folder_name": context.get("_folder_name")})
    relevant = applicable(catalog, answers)
    for problem in rules.problems(catalog, answers):
        # Copier validates every answer it is given, even one its `when` hides.
        if problem.question in relevant or problem.question in given:
            messages.append(str(problem))
    return messages


def report(messages: list[str]) -> str:
    count = len(messages)
    head = f"prodready: {count} problem{'s' if count != 1 else ''} in your answers:"
    fix = "Fix them in your answers (data file, --data, or .copier-answers.yml) and run again."
    return "\n".join([head, *(f"  - {m}" for m in messages), fix])
