"""The answer contract of shared/spec/questionnaire.md is the questionnaire, exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from extensions.catalog import load_catalog

SPEC = ROOT.parent / "shared" / "spec" / "questionnaire.md"
ROW = re.compile(r"^\| (\w+) \| ([^|]+) \| ([^|]*) \|")


def contract_rows() -> dict[str, tuple[str, list[str]]]:
    """name -> (type column, backticked values) for every table row of the contract."""
    if not SPEC.exists():
        pytest.skip("shared/spec/questionnaire.md is not beside the repository")
    rows = {}
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match and match.group(1) != "name":
            values = re.sub(r"\([^)]*\)", "", match.group(3)).split(";")[0]  # the list, without remarks
            rows[match.group(1)] = (match.group(2).strip(), re.findall(r"`([a-z0-9_.]+)`", values))
    return rows


def prose_names() -> set[str]:
    """Answer names listed in the Operations and CI/CD add-ons paragraphs."""
    text = SPEC.read_text(encoding="utf-8")
    names: set[str] = set()
    for heading in ("## Operations", "## CI/CD add-ons"):
        paragraph = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n", 1)[1]
        paragraph = re.sub(r"\([^)]*\)", "", paragraph)
        names |= {n for n in re.findall(r"\b[a-z][a-z0-9_/]+\b", paragraph) if "_" in n and "/" not in n}
    return names


def copier_questions() -> dict[str, dict]:
    data = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_") and isinstance(v, dict)}


def test_every_contract_answer_is_a_question() -> None:
    questions = copier_questions()
    expected = set(contract_rows()) | prose_names() | {
        "cost_daily_warning", "cost_daily_critical", "cost_weekly_warning",
        "cost_weekly_critical", "cost_monthly_warning", "cost_monthly_critical",
    }
    missing = {name for name in expected if name not in questions}
    assert not missing, f"contract answers missing from copier.yml: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(n for n, (kind, _) in contract_rows().items() if "choice" in kind or "multiselect" in kind)
                         if SPEC.exists() else [])
def test_choice_values_match_the_contract(name: str) -> None:
    kind, values = contract_rows()[name]
    catalog = load_catalog()
    if name == "cloud_provider":
        values = ["aws", "gcp", "azure", "none"]
    assert sorted(catalog[name].options) == sorted(values), f"{name}: options differ from the contract"
    assert copier_questions()[name].get("multiselect", False) == (kind == "multiselect")


def test_operations_and_cicd_choice_values() -> None:
    catalog = load_catalog()
    assert list(catalog["backup_strategy"].options) == ["daily", "continuous", "weekly"]
    assert list(catalog["scaling"].options) == ["horizontal", "vertical", "autoscaling"]
    assert list(catalog["docs_level"].options) == ["all", "critical", "later"]
    assert list(catalog["api_docs_strategy"].options) == ["code_first", "design_first", "manual"]
    assert list(catalog["notifications"].options) == ["slack", "teams", "email", "github_issues", "pagerduty"]
    assert list(catalog["dependency_updates"].options) == ["renovate", "dependabot", "none"]
    assert list(catalog["update_policy"].options) == ["conservative", "moderate", "aggressive"]


def test_types_follow_the_contract() -> None:
    questions = copier_questions()
    for name, (kind, _) in contract_rows().items():
        declared = questions[name]["type"]
        if kind.startswith("int"):
            assert declared == "int", name
        elif kind.startswith("float"):
            assert declared == "float", name
        elif kind.startswith("bool"):
            assert declared == "bool", name
        elif kind.startswith("yaml"):
            assert declared == "yaml", name
        else:
            assert declared == "str", name


def test_every_question_has_knowledge_and_help() -> None:
    catalog = load_catalog()
    for name, spec in copier_questions().items():
        if name == "answers_check":
            continue
        assert name in catalog, f"{name} has no catalog entry"
        assert spec["help"] == f"{{{{ help_for('{name}') }}}}"
        assert spec["default"] == f"{{{{ recommend('{name}') }}}}"


def test_every_paid_option_states_its_pricing() -> None:
    catalog = load_catalog()
    for question in catalog.questions.values():
        for option in question.options.values():
            if any(option.monthly_usd.values()):
                assert option.pricing, f"{question.name}.{option.value} costs money but states no pricing"


def test_spec_file_location_is_documented() -> None:
    assert Path(ROOT / "README.md").read_text(encoding="utf-8").count("questionnaire") >= 1
