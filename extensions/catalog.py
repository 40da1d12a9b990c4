"""The knowledge catalog: options, pros/cons, pricing and tier recommendations.

Knowledge lives as data in ``extensions/catalog/*.yml``; the questionnaire's
structure (names, order, types, gates) lives in ``copier.yml``. This module reads
both once per template directory and offers typed look-ups to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
SECTION_FILES = ("core", "deployment", "observability", "operations", "cicd")
TIERS = ("mvp", "production", "enterprise")


@dataclass(frozen=True)
class Option:
    """One possible answer to a choice question, with everything known about it."""

    value: str
    label: str
    recommended_for: tuple[str, ...] = ()
    pros: tuple[str, ...] = ()
    cons: tuple[str, ...] = ()
    pricing: str = ""
    monthly_usd: dict[str, float] = field(default_factory=dict)
    requires: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def fact(self, name: str, default: Any = None) -> Any:
        return self.facts.get(name, default)


@dataclass(frozen=True)
class Question:
    """A question: its structure from copier.yml plus its knowledge from the catalog."""

    name: str
    section: str
    prompt: str
    type: str = "str"
    multiselect: bool = False
    options: dict[str, Option] = field(default_factory=dict)
    recommended: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    derived_from: str = ""
    when: Any = True

    @property
    def is_choice(self) -> bool:
        return bool(self.options)

    def option(self, value: Any) -> Option | None:
        return self.options.get(str(value))


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YAML_LOADER)


_OPTION_KEYS = {"label", "recommended_for", "pros", "cons", "pricing", "monthly_usd", "requires"}


def _option(value: str, data: dict[str, Any]) -> Option:
    requires = {k: tuple(v) for k, v in (data.get("requires") or {}).items()}
    return Option(
        value=value,
        label=data.get("label", value),
        recommended_for=tuple(data.get("recommended_for") or ()),
        pros=tuple(data.get("pros") or ()),
        cons=tuple(data.get("cons") or ()),
        pricing=data.get("pricing", ""),
        monthly_usd=dict(data.get("monthly_usd") or {}),
        requires=requires,
        facts={k: v for k, v in data.items() if k not in _OPTION_KEYS},
    )


class Catalog:
    """All questions in questionnaire order, with the catalog's knowledge attached."""

    def __init__(self, root: Path) -> None:
        self.root = root
        structure = _load_yaml((root / "copier.yml").read_text(encoding="utf-8"))
        knowledge: dict[str, tuple[str, dict[str, Any]]] = {}
        self.tier_info: dict[str, Any] = {}
        for section in SECTION_FILES:
            data = _load_yaml((CATALOG_DIR / f"{section}.yml").read_text(encoding="utf-8"))
            if "tiers" in data:
                self.tier_info = data["tiers"]
            for name, entry in data["questions"].items():
                knowledge[name] = (section, entry)
        self.questions: dict[str, Question] = {}
        for name, spec in structure.items():
            if name.startswith("_") or not isinstance(spec, dict):
                continue
            if name not in knowledge:
                continue  # internal computed checks have no knowledge entry
            section, entry = knowledge[name]
            self.questions[name] = Question(
                name=name,
                section=section,
                prompt=entry.get("prompt", name),
                type=spec.get("type", "str"),
                multiselect=bool(spec.get("multiselect", False)),
                options={str(k): _option(str(k), v or {}) for k, v in (entry.get("options") or {}).items()},
                recommended=dict(entry.get("recommended") or {}),
                reasons=dict(entry.get("reasons") or {}),
                derived_from=entry.get("derived_from", ""),
                when=spec.get("when", True),
            )
        self._merge_facts()
        missing = set(knowledge) - set(self.questions)
        if missing:
            raise ValueError(f"catalog questions missing from copier.yml: {sorted(missing)}")

    def _merge_facts(self) -> None:
        """Add each area's option facts (catalog/facts/<area>.yml: question -> option -> facts)."""
        for path in sorted((CATALOG_DIR / "facts").glob("*.yml")):
            data = _load_yaml(path.read_text(encoding="utf-8")) or {}
            for question, options in data.items():
                for value, facts in (options or {}).items():
                    option = self.questions[question].options[str(value)]
                    clash = set(facts) & set(option.facts)
                    if clash:
                        raise ValueError(f"{path.name}: {question}.{value} redefines {sorted(clash)}")
                    option.facts.update(facts)

    def __getitem__(self, name: str) -> Question:
        return self.questions[name]

    def __contains__(self, name: object) -> bool:
        return name in self.questions

    def names(self) -> list[str]:
        return list(self.questions)

    def option(self, question: str, value: Any) -> Option | None:
        return self.questions[question].option(value)

    def fact(self, question: str, value: Any, fact: str, default: Any = None) -> Any:
        option = self.option(question, value)
        return option.fact(fact, default) if option else default

    def section(self, section: str) -> list[Question]:
        return [q for q in self.questions.values() if q.section == section]


def load_catalog(root: Path = TEMPLATE_ROOT) -> Catalog:
    """The catalog of one template checkout, read once per process."""
    return _load_catalog(root.resolve())


@lru_cache(maxsize=4)
def _load_catalog(root: Path) -> Catalog:
    return Catalog(root)
