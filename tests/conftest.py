"""Shared fixtures: generate projects with Copier (pytest-copier) and validate them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TEMPLATE_PATHS = ["copier.yml", "template", "extensions", "hooks", "presets"]
PRESETS = {tier: ROOT / "presets" / f"{tier}.yml" for tier in ("mvp", "production", "enterprise")}


@pytest.fixture(scope="session")
def copier_template_paths() -> list[str]:
    """pytest-copier copies only the template's own files into its scratch git repo."""
    return TEMPLATE_PATHS


def preset(tier: str) -> dict[str, Any]:
    return yaml.safe_load(PRESETS[tier].read_text(encoding="utf-8"))


GenerateFn = Callable[..., Path]


@pytest.fixture(scope="session")
def generate(copier_template: Path, tmp_path_factory: pytest.TempPathFactory) -> GenerateFn:
    """generate(**answers) -> path of a project generated with --defaults (cached per answer set).

    Post-generation tasks (hooks/) are skipped unless ``run_tasks=True``, so validators
    see exactly what the templates produce. Generated trees are shared between tests:
    treat them as read-only.
    """
    from copier import run_copy

    cache: dict[str, Path] = {}

    def _generate(run_tasks: bool = False, **answers: Any) -> Path:
        key = json.dumps([run_tasks, answers], sort_keys=True, default=str)
        if key not in cache:
            dst = tmp_path_factory.mktemp("project") / "my-app"
            run_copy(str(copier_template), dst, data=answers, defaults=True, unsafe=True, quiet=True,
                     skip_tasks=not run_tasks)
            cache[key] = dst
        return cache[key]

    return _generate


def fit_previews(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers, without previews on a deploy target that cannot host one per pull request.

    Targets whose previews are IaC stacks (preview_stacks: iac) keep them only with an iac_tool that
    creates one stack per pull request (extensions/rules.py previews_need_target_support).
    """
    from extensions.catalog import load_catalog
    from extensions.rules import preview_stack_tool

    catalog = load_catalog()
    stacks = catalog.fact("deploy_target", answers.get("deploy_target"), "preview_stacks", True)
    if stacks is False or (stacks == "iac" and not preview_stack_tool(catalog, answers.get("iac_tool", "manual"))):
        return {**answers, "preview_environments": "none"}
    return answers


def answers_of(project: Path) -> dict[str, Any]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def assert_valid(project: Path, only: set[str] | None = None) -> None:
    """Run the validation harness on a generated tree; fail with every finding."""
    from harness import validate_tree

    findings = validate_tree(project, only)
    assert not findings, "\n".join(map(str, findings))


def unquote_hcl(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels, and adds __is_block__ markers."""
    if isinstance(value, str):
        return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    if isinstance(value, dict):
        return {unquote_hcl(k): unquote_hcl(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [unquote_hcl(v) for v in value]
    return value


def hcl_of(path: Path) -> dict[str, Any]:
    """A Terraform file parsed by python-hcl2, with plain strings."""
    import hcl2

    return unquote_hcl(hcl2.loads(path.read_text(encoding="utf-8")))


def cloud_of(answers: dict[str, Any]) -> str:
    """The computed cloud_provider of an answer set (it is never recorded in the answers file)."""
    if answers["deploy_target"] == "kubernetes":
        return {"eks": "aws", "gke": "gcp", "aks": "azure"}[answers["k8s_distribution"]]
    return answers["deploy_target"].split("_", 1)[0]
